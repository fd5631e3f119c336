/**
 * Builds compiled plans by hand for the decision function's unit tests: expressions are plain
 * functions, so these tests exercise the orchestrator's walk and nothing of CEL.
 */
import type { CompiledRunbook, CompiledStep, Expr, ExprContext, RetryPolicy, Template } from '../../src/runbook/plan.js';
import { readCursor } from '../../src/orchestrator/cursor.js';
import type { DecideEnv, TaskView } from '../../src/orchestrator/types.js';

export function expr(source: string, fn: (ctx: ExprContext) => unknown): Expr {
  return {
    source,
    evaluate: fn,
    test: (ctx) => {
      const v = fn(ctx);
      if (typeof v !== 'boolean') throw new Error(`${source} is not a bool`);
      return v;
    },
  };
}

export function tpl(value: string | ((ctx: ExprContext) => unknown)): Template {
  return {
    source: typeof value === 'string' ? value : '${fn}',
    render: (ctx) => (typeof value === 'string' ? value : value(ctx)),
    usesSecrets: false,
  };
}

export const transient: RetryPolicy = { attempts: 3, backoff: 'exponential', delayMs: 1000, maxDelayMs: 30_000, jitter: false, refresh: false, confirm: false };

export function httpStep(id: string, over: Partial<CompiledStep> = {}): CompiledStep {
  return {
    id,
    index: 0,
    spec: { action: 'http', with: { system: 'svc', method: over.changes === false ? 'GET' : 'POST', path: tpl(`/${id}`), headers: {}, query: {} } },
    changes: true,
    repeat: 'keyed',
    retry: { transient, timeout: transient },
    classify: [],
    capture: {},
    ids: [],
    verify: [],
    onFailure: { mode: 'escalate' },
    critical: true,
    next: [],
    ...over,
  };
}

export function plan(steps: CompiledStep[], over: Partial<CompiledRunbook> = {}): CompiledRunbook {
  const indexed = steps.map((s, i) => ({ ...s, index: i }));
  return {
    id: 'test-runbook',
    version: 1,
    title: 'test',
    owner: 'ops',
    taskClasses: ['test.run'],
    file: 'runbooks/test.yaml',
    hash: 'test-hash',
    source: '',
    inputSchema: {},
    validateInput: () => [],
    sensitiveInputs: [],
    systems: { svc: { name: 'svc', baseUrl: tpl('http://127.0.0.1:1'), headers: {}, timeoutMs: 1000 } },
    policy: { deadlineMs: 3_600_000, retryBudget: 10, guards: [], allowExec: [] },
    escalation: { route: 'ops', routes: {}, severity: 'high', recommend: {}, then: [] },
    steps: indexed,
    stepIndex: Object.fromEntries(indexed.map((s, i) => [s.id, i])),
    ...over,
  };
}

export const T0 = new Date('2026-11-23T18:00:00.000Z');

/**
 * A task for `p`, as a worker reads it. `cursor` may be written in any shape runwarden has
 * stored (read through the cursor reader, as the driver reads a stored task).
 */
export function taskView(p: CompiledRunbook, over: Partial<Omit<TaskView, 'cursor'>> & { cursor?: object } = {}): TaskView {
  const { cursor, ...rest } = over;
  const base: Omit<TaskView, 'cursor'> = {
    id: 'tsk_test',
    externalRef: 'INC-1',
    taskClass: 'test.run',
    requestedBy: 'test',
    input: {},
    state: 'running',
    currentStep: null,
    steps: Object.fromEntries(p.steps.map((s) => [s.id, { status: 'pending' as const, attempts: 0, captures: {} }])),
    retryUsed: 0,
    retryLimit: 10,
    deadlineAt: new Date(T0.getTime() + 3_600_000),
    cancelRequested: false,
    ...rest,
  };
  return { ...base, cursor: readCursor(cursor ?? {}, base) };
}

export function env(now: Date = T0, over: Partial<DecideEnv> = {}): DecideEnv {
  let n = 0;
  return {
    now,
    random: () => 0.5,
    newToken: () => `cb_token${++n}`,
    hashToken: (t) => `hash:${t}`,
    env: {},
    secrets: {},
    ...over,
  };
}

export function http(status: number, body: unknown = {}, headers: Record<string, string> = {}) {
  return { kind: 'result' as const, result: { status, headers, body } };
}
