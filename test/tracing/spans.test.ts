/**
 * Spans through @opentelemetry/api: with a tracer provider and a context manager installed (what
 * a deployment's SDK does; here a minimal one over AsyncLocalStorage), a task attempt is a
 * `runwarden.task` span with a child `runwarden.step <id>` per step attempt, and the step's ledger
 * events carry the trace id. Without them (the default), no event carries one.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { context, trace, ROOT_CONTEXT, type Context, type ContextManager, type Span, type SpanContext, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBackends } from '../helpers/backends.js';
import { harness } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';

class AlsContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.als.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.als.disable();
    return this;
  }
}

interface Recorded {
  name: string;
  traceId: string;
  parent: string | undefined;
  spanId: string;
  attributes: Record<string, unknown>;
  ended: boolean;
}
const recorded: Recorded[] = [];

function recordingTracer(): Tracer {
  const make = (name: string, attributes: Record<string, unknown>, ctx: Context): Span => {
    const parent = trace.getSpanContext(ctx);
    const sc: SpanContext = { traceId: parent?.traceId ?? randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), traceFlags: 1 };
    const rec: Recorded = { name, traceId: sc.traceId, parent: parent?.spanId, spanId: sc.spanId, attributes: { ...attributes }, ended: false };
    recorded.push(rec);
    const span: Span = {
      spanContext: () => sc,
      setAttribute: (k, v) => ((rec.attributes[k] = v), span),
      setAttributes: (a) => (Object.assign(rec.attributes, a), span),
      addEvent: () => span,
      addLink: () => span,
      addLinks: () => span,
      setStatus: () => span,
      updateName: () => span,
      end: () => void (rec.ended = true),
      isRecording: () => true,
      recordException: () => undefined,
    };
    return span;
  };
  return {
    startSpan: (name, options, ctx) => make(name, (options?.attributes ?? {}) as Record<string, unknown>, ctx ?? context.active()),
    startActiveSpan: ((name: string, ...rest: unknown[]) => {
      const fn = rest[rest.length - 1] as (span: Span) => unknown;
      const options = (rest.length > 1 ? rest[0] : {}) as { attributes?: Record<string, unknown> };
      const span = make(name, options?.attributes ?? {}, context.active());
      return context.with(trace.setSpan(context.active(), span), () => fn(span));
    }) as Tracer['startActiveSpan'],
  };
}

const sim = useSim();

describeBackends('tracing', ({ db }) => {
  beforeAll(() => {
    context.setGlobalContextManager(new AlsContextManager());
    const provider: TracerProvider = { getTracer: () => recordingTracer() };
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(() => {
    trace.disable();
    context.disable();
  });

  it('makes a task span with a step span per attempt, and puts the trace id in the step events', async () => {
    const h = await harness(db(), sim());
    sim().setService('tr-a', { status: 'degraded' });
    const t = await h.submit('t.restart', { service: 'tr-a' });
    recorded.length = 0;
    await h.work();
    expect((await h.task(t.id)).state).toBe('completed');
    const tasks = recorded.filter((r) => r.name === 'runwarden.task' && r.attributes['runwarden.task.id'] === t.id);
    expect(tasks.length).toBeGreaterThanOrEqual(1);
    const traceIds = new Set(tasks.map((r) => r.traceId));
    const steps = recorded.filter((r) => r.name.startsWith('runwarden.step ') && traceIds.has(r.traceId));
    expect(steps.map((s) => s.attributes['runwarden.step.id'])).toEqual(expect.arrayContaining(['check-health', 'restart']));
    expect(steps.every((s) => s.ended && tasks.some((p) => p.spanId === s.parent))).toBe(true);
    const stepEvents = (await h.events(t.id)).filter((e) => e.step && ['attempt.started', 'attempt.finished', 'step.succeeded'].includes(e.type));
    expect(stepEvents.length).toBeGreaterThan(0);
    for (const e of stepEvents) expect(traceIds.has(String(e.data.traceId)), `${e.type} ${e.step}`).toBe(true);
  });
});
