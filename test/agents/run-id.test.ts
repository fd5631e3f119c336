/**
 * The run id on what a step sends out: `X-Runwarden-Task` on every HTTP request (a runbook's own
 * header of that name does not replace it), `traceparent` once an OpenTelemetry propagator and an
 * active span are installed, and `RUNWARDEN_TASK_ID` in an `exec` step's environment.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { context, propagation, ROOT_CONTEXT, trace, TraceFlags, type ContextManager } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecuteContext } from '../../src/agents/executor.js';
import { runExec } from '../../src/agents/exec-action.js';
import { runHttp } from '../../src/agents/http-action.js';
import { runIdHeaders } from '../../src/agents/run-id.js';
import { silentLogger } from '../../src/log.js';
import { httpStep, plan, tpl } from '../helpers/plan-builder.js';

function ctx(allowExec: string[] = []): ExecuteContext {
  const runbook = plan([httpStep('call')], { policy: { deadlineMs: 60_000, retryBudget: 1, guards: [], allowExec } });
  return {
    expr: { input: {}, steps: {}, env: {}, secrets: {}, task: { id: 'tsk_run1', externalRef: null, taskClass: 't', attempt: 1, requestedBy: null } },
    runbook,
    step: runbook.steps[0]!,
    attempt: { step: 'call', kind: 'action', attempt: 1, idempotencyKey: null },
    signal: new AbortController().signal,
    timeoutMs: 5000,
    logger: silentLogger,
  };
}

let server: Server;
let base = '';
const seen: IncomingHttpHeaders[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('the run id', () => {
  it('is sent on every request, and a runbook header cannot replace it', async () => {
    await runHttp({ url: tpl(`${base}/a`), method: 'GET', headers: { 'X-Runwarden-Task': tpl('tsk_other') }, query: {} }, ctx());
    expect(seen.at(-1)!['x-runwarden-task']).toBe('tsk_run1');
    expect(seen.at(-1)!.traceparent).toBeUndefined();
  });

  it('carries traceparent when a propagator and an active span are installed', () => {
    const W3C = {
      inject(c: Parameters<typeof propagation.inject>[0], carrier: Record<string, string>) {
        const span = trace.getSpanContext(c);
        if (span) carrier.traceparent = `00-${span.traceId}-${span.spanId}-0${span.traceFlags}`;
      },
      extract: (c: Parameters<typeof propagation.extract>[0]) => c,
      fields: () => ['traceparent'],
    };
    // What an OpenTelemetry SDK installs: a propagator, and a context manager that keeps the active span.
    let current = ROOT_CONTEXT;
    const manager: ContextManager = {
      active: () => current,
      with(c, fn, thisArg, ...args) {
        const prev = current;
        current = c;
        try {
          return fn.call(thisArg, ...args);
        } finally {
          current = prev;
        }
      },
      bind: (_c, target) => target,
      enable() {
        return this;
      },
      disable() {
        current = ROOT_CONTEXT;
        return this;
      },
    };
    propagation.setGlobalPropagator(W3C);
    context.setGlobalContextManager(manager);
    try {
      const span = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED });
      const headers = context.with(trace.setSpan(context.active(), span), () => runIdHeaders('tsk_run1'));
      expect(headers).toEqual({ 'X-Runwarden-Task': 'tsk_run1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    } finally {
      propagation.disable();
      context.disable();
    }
  });

  it('is in the environment of an exec step', async () => {
    const r = await runExec({ program: 'sh', args: [tpl('-c'), tpl('printf %s "$RUNWARDEN_TASK_ID"')], env: {} }, ctx(['sh']));
    expect(r).toMatchObject({ kind: 'result', result: { exitCode: 0, stdout: 'tsk_run1' } });
  });
});
