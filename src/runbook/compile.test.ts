import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileRunbookText } from './load.js';
import type { CompiledRunbook, ExprContext } from './plan.js';
import { BUILTIN_RETRY, mergeRetry } from './retry-defaults.js';

function compile(text: string): CompiledRunbook {
  const r = compileRunbookText(text, 'rb.yaml');
  expect(r.problems).toEqual([]);
  return r.runbook!;
}

const MINIMAL = `runbook: demo
version: 2
title: Demo
owner: team
taskClasses: [demo.run]
systems:
  api: { baseUrl: "\${env.API}", headers: { Authorization: "Bearer \${secrets.T}" } }
steps:
  - id: read
    action: http
    with: { system: api, path: /a }
  - id: write
    action: http
    with: { system: api, method: POST, path: /b, body: { n: "\${input.n}", s: "x-\${input.n}", k: [1, true, null] } }
    repeat: keyed
  - id: pause
    action: wait
  - id: choose
    action: decide
    with: { question: Which?, options: [{ id: go, goto: end }, { id: stop, escalate: true }] }
`;

const ctx = (input: Record<string, unknown>): ExprContext => ({
  input,
  task: { id: 'tsk_1', externalRef: null, taskClass: 'demo.run', attempt: 1, requestedBy: null },
  steps: {},
  env: { API: 'http://api.test' },
  secrets: { T: 'tok' },
});

describe('defaults', () => {
  const rb = compile(MINIMAL);

  it('fills the documented runbook defaults', () => {
    expect(rb.policy).toEqual({ deadlineMs: 3_600_000, retryBudget: 10, guards: [], allowExec: [] });
    expect(rb.escalation).toEqual({ route: 'team', routes: {}, severity: 'high', recommend: {}, then: [] });
    expect(rb.inputSchema).toEqual({ type: 'object' });
    expect(rb.schedule).toBeUndefined();
    expect(compile(MINIMAL.replace('steps:', 'schedule: { cron: "*/15 * * * *" }\nsteps:')).schedule).toEqual({ cron: '*/15 * * * *', timezone: 'UTC', input: {}, missed: 'skip', overlap: 'skip' });
    expect(rb.systems.api?.timeoutMs).toBe(10_000);
    expect(rb.stepIndex).toEqual({ read: 0, write: 1, pause: 2, choose: 3 });
  });

  it('fills the documented step defaults', () => {
    const [read, write, pause, choose] = rb.steps;
    expect(read).toMatchObject({ repeat: 'safe', changes: false, critical: true, onFailure: { mode: 'escalate' }, next: [], verify: [], classify: [], ids: [] });
    expect(read?.spec).toMatchObject({ action: 'http', with: { system: 'api', method: 'GET', headers: {}, query: {} } });
    expect(read?.timeoutMs).toBeUndefined();
    expect(write).toMatchObject({ repeat: 'keyed', changes: true });
    expect(pause?.spec).toEqual({ action: 'wait', with: { withinMs: 3_600_000 } });
    expect(choose?.fallback).toBe('escalate');
    expect(choose?.spec.action === 'decide' && choose.spec.with).toMatchObject({ minConfidence: 0.7, show: [], options: [{ id: 'go', goto: 'end', escalate: false }, { id: 'stop', escalate: true }] });
  });

  it('compiles templates, keeping the type of a lone ${}', () => {
    const write = rb.steps[1]!;
    if (write.spec.action !== 'http') throw new Error('not http');
    const body = write.spec.with.body as Record<string, { render?: (c: ExprContext) => unknown }>;
    expect(body.n?.render?.(ctx({ n: 3 }))).toBe(3);
    expect(body.s?.render?.(ctx({ n: 3 }))).toBe('x-3');
    expect(body.k).toEqual([1, true, null]);
    expect(rb.systems.api?.headers.Authorization?.usesSecrets).toBe(true);
    expect(rb.systems.api?.baseUrl.render(ctx({}))).toBe('http://api.test');
  });
});

describe('retry policies', () => {
  it('defaults to the built-in handling: transient and timeout with backoff, dependency with refresh', () => {
    expect(mergeRetry(undefined, undefined)).toEqual({
      transient: { attempts: 3, backoff: 'exponential', delayMs: 1000, maxDelayMs: 30_000, jitter: true, refresh: false, confirm: false },
      timeout: { attempts: 3, backoff: 'exponential', delayMs: 1000, maxDelayMs: 30_000, jitter: true, refresh: false, confirm: false },
      dependency: { attempts: 2, backoff: 'fixed', delayMs: 30_000, maxDelayMs: 30_000, jitter: false, refresh: true, confirm: false },
    });
  });

  it('replaces a class entirely, step over runbook over built-in, filling what an entry leaves out', () => {
    const merged = mergeRetry(
      { transient: { attempts: 5 }, business: { attempts: 2, delay: '1m' } },
      { transient: { attempts: 2, delay: '45s' }, dependency: { attempts: 4, refresh: ['read'] } },
    );
    expect(merged.transient).toEqual({ attempts: 2, backoff: 'fixed', delayMs: 45_000, maxDelayMs: 45_000, jitter: false, refresh: false, confirm: false });
    expect(merged.dependency).toEqual({ attempts: 4, backoff: 'fixed', delayMs: 1000, maxDelayMs: 30_000, jitter: false, refresh: ['read'], confirm: false });
    expect(merged.timeout).toEqual(BUILTIN_RETRY.timeout);
    expect(merged.permission).toBeUndefined();
  });

  it('merges per step in a compiled runbook', () => {
    const rb = compile(`${MINIMAL.split('steps:')[0]}retry:
  transient: { attempts: 4, backoff: exponential, delay: 2s, maxDelay: 8s }
  business: { attempts: 2 }
steps:
  - id: a
    action: http
    with: { system: api, path: /a }
  - id: b
    action: http
    with: { system: api, path: /b }
    retry:
      transient: { attempts: 1 }
      dependency: { attempts: 3, refresh: [a] }
`);
    expect(rb.steps[0]?.retry.transient).toEqual({ attempts: 4, backoff: 'exponential', delayMs: 2000, maxDelayMs: 8000, jitter: false, refresh: false, confirm: false });
    expect(rb.steps[0]?.retry.business?.attempts).toBe(2);
    expect(rb.steps[1]?.retry.transient?.attempts).toBe(1);
    expect(rb.steps[1]?.retry.dependency?.refresh).toEqual(['a']);
    expect(rb.steps[1]?.retry.business?.attempts).toBe(2);
  });
});

describe('input validation', () => {
  const rb = compile(`${MINIMAL.split('steps:')[0]}input:
  type: object
  required: [service, environment]
  additionalProperties: false
  properties:
    service: { type: string, pattern: "^[a-z-]+$" }
    environment: { enum: [staging, production] }
    count: { type: integer, minimum: 1 }
    contact:
      type: object
      properties:
        email: { type: string, format: email, sensitive: true }
steps:
  - { id: a, action: set, with: { x: "1" } }
`);

  it('accepts valid input', () => {
    expect(rb.validateInput({ service: 'billing-api', environment: 'staging', contact: { email: 'a@b.co' } })).toEqual([]);
  });

  it('names every problem by its JSON path and says what is allowed', () => {
    expect(rb.validateInput({ service: 'Billing', environment: 'prod', count: 0, extra: 1 })).toEqual([
      { path: 'input.extra', message: 'is not allowed: the input schema does not name it' },
      { path: 'input.service', message: 'must match the pattern ^[a-z-]+$; got "Billing"' },
      { path: 'input.environment', message: 'must be one of "staging", "production"; got "prod"' },
      { path: 'input.count', message: 'must be >= 1; got 0' },
    ]);
    expect(rb.validateInput({ environment: 'staging' })).toEqual([{ path: 'input.service', message: 'is required' }]);
    expect(rb.validateInput('x')).toEqual([{ path: 'input', message: 'must be object; got "x"' }]);
  });

  it('never echoes a sensitive value', () => {
    expect(rb.validateInput({ service: 'a', environment: 'staging', contact: { email: 'not-an-email' } })).toEqual([
      { path: 'input.contact.email', message: 'must be a valid email' },
    ]);
    expect(rb.sensitiveInputs).toEqual(['contact.email']);
  });
});

describe('immutability', () => {
  it('deep-freezes the compiled runbook', () => {
    const rb = compile(MINIMAL);
    expect(Object.isFrozen(rb)).toBe(true);
    expect(Object.isFrozen(rb.steps)).toBe(true);
    expect(Object.isFrozen(rb.steps[0])).toBe(true);
    expect(Object.isFrozen(rb.steps[0]?.retry.transient)).toBe(true);
    expect(Object.isFrozen(rb.steps[1]?.spec.with)).toBe(true);
    expect(Object.isFrozen(rb.policy.allowExec)).toBe(true);
    expect(() => {
      (rb.steps as unknown as unknown[]).push({});
    }).toThrow(TypeError);
    expect(() => {
      (rb.steps[0] as { repeat: string }).repeat = 'once';
    }).toThrow(TypeError);
    // Freezing must not break the validator ajv keeps state on.
    expect(rb.validateInput({})).toEqual([]);
    expect(rb.validateInput(3)).toHaveLength(1);
  });

  it('leaves the built-in retry defaults untouched by compiled copies', () => {
    const rb = compile(MINIMAL);
    expect(rb.steps[0]?.retry.transient).not.toBe(BUILTIN_RETRY.transient);
    expect(Object.isFrozen(BUILTIN_RETRY.transient)).toBe(true);
  });
});

describe('the example runbooks', () => {
  const load = (name: string) => compile(readFileSync(new URL(`../../runbooks/${name}`, import.meta.url), 'utf8'));

  it('service-restart: skips the restart when healthy, keyed restart with a polled verify', () => {
    const rb = load('service-restart.yaml');
    const restart = rb.steps[rb.stepIndex.restart!]!;
    expect(restart).toMatchObject({ repeat: 'keyed', changes: true, ids: ['restartId'] });
    expect(restart.verify[0]?.poll).toEqual({ everyMs: 1000, withinMs: 10_000 });
    const c = { ...ctx({ service: 'billing-api', environment: 'production' }), steps: { 'check-health': { status: 'succeeded' as const, health: 'healthy' } } };
    expect(restart.when?.test(c)).toBe(false);
    expect(rb.policy.guards[0]?.deny.test({ ...c, env: { CHANGE_FREEZE: 'true' } })).toBe(true);
    expect(rb.policy.guards[0]?.deny.test(c)).toBe(false);
    if (restart.spec.action !== 'http') throw new Error('not http');
    expect(restart.spec.with.idempotencyKey?.render(c)).toBe('tsk_1:restart');
  });

  it('entitlement-fix: approval for enterprise changes and downgrades, sensitive requester', () => {
    const rb = load('entitlement-fix.yaml');
    expect(rb.sensitiveInputs).toEqual(['requesterEmail']);
    const assess = rb.steps[rb.stepIndex.assess!]!;
    if (assess.spec.action !== 'set') throw new Error('not set');
    const c = { ...ctx({ customer: 'cus_1', plan: 'pro', features: ['sso'] }), steps: { 'read-entitlement': { status: 'succeeded' as const, plan: 'enterprise', features: ['sso'] } } };
    expect(assess.spec.with.values.downgrade?.evaluate(c)).toBe(true);
    expect(assess.spec.with.values.unchanged?.evaluate(c)).toBe(false);
    const apply = rb.steps[rb.stepIndex['apply-entitlement']!]!;
    expect(apply.approval?.route).toBe('account-management');
    expect(rb.validateInput({ customer: 'cus_1', plan: 'gold', features: [] })[0]).toEqual({ path: 'input.plan', message: 'must be one of "free", "pro", "enterprise"; got "gold"' });
  });

  it('order-onboarding: once steps with probes, compensations, rollback, non-critical email', () => {
    const rb = load('order-onboarding.yaml');
    const charge = rb.steps[rb.stepIndex.charge!]!;
    expect(charge).toMatchObject({ repeat: 'once', changes: true });
    const result = { status: 200, body: { items: [{ id: 'ch_1', order: 'ord_1', amount: 5, refunded: false }] } };
    expect(charge.probe?.present.test({ ...ctx({}), result })).toBe(true);
    expect(charge.probe?.absent.test({ ...ctx({}), result })).toBe(false);
    expect(charge.probe?.capture.chargeId?.evaluate({ ...ctx({}), result })).toBe('ch_1');
    expect(charge.approval?.when?.test(ctx({ amount: 1500 }))).toBe(true);
    expect(charge.approval?.when?.test(ctx({ amount: 999.5 }))).toBe(false);
    expect(rb.steps[rb.stepIndex['provision-tenant']!]?.onFailure).toEqual({ mode: 'rollback' });
    expect(rb.steps[rb.stepIndex['send-welcome']!]?.critical).toBe(false);
    expect(rb.steps.filter((s) => s.compensate).map((s) => s.id)).toEqual(['create-account', 'issue-invoice', 'charge', 'provision-tenant']);
  });
});
