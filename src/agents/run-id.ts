/**
 * One run id everywhere (runbook-format.md, "Additions in v1.1"): every outbound HTTP request of
 * a step, its checks, probes and compensations carries the task id as `X-Runwarden-Task`, and
 * `traceparent` (W3C Trace Context) when an OpenTelemetry tracer is installed and a span is
 * active; an `exec` step gets `RUNWARDEN_TASK_ID`. The system on the other side can then tie an
 * undo to the action it undoes, and its logs to the task, without knowing runwarden.
 */
import { context, propagation } from '@opentelemetry/api';

/** The header that names the task on every request of its steps. */
export const TASK_HEADER = 'X-Runwarden-Task';

/** The environment variable that names the task for an `exec` step. */
export const TASK_ENV = 'RUNWARDEN_TASK_ID';

/**
 * The headers a step's request carries for `taskId`. Without an installed propagator (no
 * OpenTelemetry SDK), `propagation.inject` writes nothing, so only the task header is sent.
 */
export function runIdHeaders(taskId: string): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  const out: Record<string, string> = { [TASK_HEADER]: taskId };
  if (carrier.traceparent) out.traceparent = carrier.traceparent;
  if (carrier.tracestate) out.tracestate = carrier.tracestate;
  return out;
}

/** The environment entries an `exec` step gets for `taskId`. */
export function runIdEnv(taskId: string): Record<string, string> {
  return { [TASK_ENV]: taskId };
}
