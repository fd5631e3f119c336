/**
 * OpenTelemetry spans through `@opentelemetry/api` only: a span per task attempt (one claim of a
 * task, from claim to release) and a child span per step attempt. Without an SDK installed by
 * the deployment (`NODE_OPTIONS=--import <your OTel setup>`), the API is a no-op and costs next
 * to nothing; with one, the trace id is recorded in the step's ledger events (`data.traceId`),
 * so a ledger entry leads to its trace and back.
 */
import { context, SpanStatusCode, trace, type Span } from '@opentelemetry/api';

const tracer = () => trace.getTracer('runwarden');

export interface TaskSpanInfo {
  taskId: string;
  runbook: string | null;
  taskClass: string;
  state: string;
  workerId: string;
}

/** Runs one task attempt inside a `runwarden.task` span; the span ends with `fn`. */
export async function inTaskSpan<T>(info: TaskSpanInfo, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(
    'runwarden.task',
    {
      attributes: {
        'runwarden.task.id': info.taskId,
        'runwarden.task.class': info.taskClass,
        'runwarden.runbook': info.runbook ?? '',
        'runwarden.task.state.from': info.state,
        'runwarden.worker.id': info.workerId,
      },
    },
    async (span) => {
      try {
        const out = await fn(span);
        return out;
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

export interface StepSpanInfo {
  step: string;
  kind: string;
  attempt: number;
  action: string;
}

/** Runs one step attempt inside a `runwarden.step` span, a child of the active task span. */
export async function inStepSpan<T extends { kind: string }>(info: StepSpanInfo, fn: () => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(
    `runwarden.step ${info.step}`,
    {
      attributes: {
        'runwarden.step.id': info.step,
        'runwarden.step.kind': info.kind,
        'runwarden.step.attempt': info.attempt,
        'runwarden.step.action': info.action,
      },
    },
    async (span) => {
      try {
        const out = await fn();
        span.setAttribute('runwarden.step.outcome', out.kind);
        if (out.kind === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: 'the action failed without a result' });
        return out;
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** The trace id of the active span, or undefined when there is none that is sampled and valid (no SDK). */
export function activeTraceId(): string | undefined {
  const span = trace.getSpan(context.active());
  const ctx = span?.spanContext();
  return ctx && trace.isSpanContextValid(ctx) ? ctx.traceId : undefined;
}

/** The events with the trace id added to those of a step (all of them, when there is a trace). */
export function withTraceId<E extends { step?: string | null; data?: Record<string, unknown> }>(events: E[], traceId: string | undefined): E[] {
  if (!traceId) return events;
  return events.map((e) => (e.step ? { ...e, data: { ...(e.data ?? {}), traceId } } : e));
}
