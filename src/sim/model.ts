/**
 * The simulated operations API's vocabulary (docs/simulated-api.md): the effects it applies, the
 * faults a test can script, what it records about each request, and the state a test can set.
 * The zod schemas validate what arrives over `/_sim/*` so a typo in a crash test's fault is a
 * 400 with the problem named, not a fault that silently never fires.
 */
import { z } from 'zod';

/** Every kind of effect a mutating route applies, one per route. */
export const EFFECT_KINDS = [
  'service.restart',
  'crm.account.create',
  'crm.account.delete',
  'entitlement.put',
  'billing.invoice.create',
  'billing.invoice.void',
  'billing.charge.create',
  'billing.charge.refund',
  'provisioning.tenant.create',
  'provisioning.tenant.delete',
  'email.message.send',
] as const;
export type EffectKind = (typeof EFFECT_KINDS)[number];

/** One applied effect, in the order the server applied them. */
export interface Effect {
  /** 1, 2, ... in application order; restarts at 1 after a reset. */
  seq: number;
  /** ISO timestamp of when it was applied. */
  at: string;
  kind: EffectKind;
  method: string;
  /** Path without the query string. */
  path: string;
  /** The request's `Idempotency-Key`, when it sent one (even on routes that ignore it). */
  idempotencyKey?: string;
  /** Id of the resource created or affected (`rst_1`, `acc_2`, a customer for entitlements). */
  id?: string;
  /** The request body as received (parsed JSON). */
  body: unknown;
}

/** How the server ended a request. */
export const REQUEST_OUTCOMES = ['answered', 'dropped', 'aborted', 'pending'] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/**
 * One request the server saw (control routes under `/_sim/` are not recorded). Headers are kept
 * raw, `Authorization` included: this is a test double and tests assert on what was sent.
 */
export interface RequestRecord {
  seq: number;
  at: string;
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or `undefined` when there was none. */
  body: unknown;
  /** Status answered; `null` when the connection was dropped or the client went away first. */
  status: number | null;
  /** `dropped`: a `dropAfterEffect` fault; `aborted`: the client closed it while it waited. */
  outcome: RequestOutcome;
  /** True when the answer was an idempotent replay (no effect applied). */
  replayed?: boolean;
  /** True when a scripted fault applied to it. */
  faulted?: boolean;
}

const httpMethod = z
  .string()
  .transform((m) => m.toUpperCase())
  .describe('HTTP method the fault applies to; any method when omitted');

/** A scripted fault (`POST /_sim/faults`, `sim.fault()`). */
export const FaultSchema = z
  .strictObject({
    method: httpMethod.optional(),
    path: z
      .string()
      .refine((p) => p.startsWith('/') || p === '*', 'path must start with / (or be * for every path)')
      .describe('path matched exactly (no query string), or as a prefix when it ends with `*`'),
    times: z
      .int()
      .min(-1)
      .refine((n) => n !== 0, 'times must be -1 (always) or at least 1')
      .default(1)
      .describe('how many matching requests it applies to; default 1, -1 for always'),
    status: z.int().min(100).max(599).optional().describe('answer with this status instead of handling the request'),
    body: z.unknown().optional().describe('body of the scripted answer; default `{ "error": "scripted fault" }`'),
    retryAfter: z.number().min(0).optional().describe('seconds, sent as the Retry-After header'),
    delayMs: z.int().min(0).default(0).describe('wait this long before answering; default 0'),
    dropAfterEffect: z
      .boolean()
      .default(false)
      .describe('handle the request (apply its effect), then destroy the connection without answering'),
    holdAfterEffectMs: z
      .int()
      .min(0)
      .default(0)
      .describe('apply the effect, then hold the answer this long (a worker killed meanwhile leaves the effect applied and unrecorded)'),
    echoHeaders: z
      .boolean()
      .default(false)
      .describe('answer an error (status, default 400) whose body echoes the request headers and body'),
  })
  .refine((f) => f.status !== undefined || f.delayMs > 0 || f.dropAfterEffect || f.echoHeaders || f.holdAfterEffectMs > 0, {
    message: 'a fault needs at least one of status, delayMs > 0, dropAfterEffect, echoHeaders, holdAfterEffectMs > 0',
  })
  // A scripted answer replaces handling, a drop happens after handling: asking for both is a typo.
  .refine((f) => !(f.dropAfterEffect && (f.status !== undefined || f.echoHeaders)), {
    message: 'dropAfterEffect answers nothing, so it cannot be combined with status or echoHeaders',
  });

/** A fault as a test writes it (defaults optional). */
export type Fault = z.input<typeof FaultSchema>;
/** A fault with its defaults applied. */
export type ResolvedFault = z.output<typeof FaultSchema>;

export const SERVICE_STATUSES = ['healthy', 'degraded'] as const;
export type ServiceStatus = (typeof SERVICE_STATUSES)[number];

export const TENANT_STATUSES = ['provisioning', 'ready', 'failed'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

export const ServiceStateSchema = z.strictObject({
  status: z.enum(SERVICE_STATUSES).describe('current health'),
  stayDegraded: z.boolean().optional().describe('a restart leaves it degraded; default false'),
});
export type ServiceState = z.infer<typeof ServiceStateSchema>;

export const EntitlementSchema = z.strictObject({
  plan: z.string().min(1).describe('plan name'),
  features: z.array(z.string()).describe('enabled features'),
});
export type EntitlementInput = z.infer<typeof EntitlementSchema>;

/**
 * How new tenants behave: by default they are `ready` at once. With `pollsUntilDone: N` a new
 * tenant starts as `provisioning` and its N-th `GET` reports `finalStatus` (for verifiers that poll).
 */
export const ProvisioningSchema = z.strictObject({
  pollsUntilDone: z
    .int()
    .min(0)
    .default(0)
    .describe('the N-th GET of a new tenant reports finalStatus, earlier ones `provisioning`; default 0 (done at once)'),
  finalStatus: z.enum(['ready', 'failed']).default('ready').describe('status once done; default ready'),
});
export type Provisioning = z.input<typeof ProvisioningSchema>;

/** `POST /_sim/state`: every field optional, each merges into the current state. */
export const StateInputSchema = z.strictObject({
  services: z.record(z.string(), ServiceStateSchema).optional().describe('service health by name'),
  entitlements: z.record(z.string(), EntitlementSchema).optional().describe('entitlements by customer'),
  token: z.string().min(1).nullable().optional().describe('expected bearer token; null turns auth off'),
  provisioning: ProvisioningSchema.optional().describe('how new tenants behave'),
});
export type StateInput = z.input<typeof StateInputSchema>;

/** Turns zod issues into the `{ path, message }` problems runwarden reports everywhere. */
export function zodProblems(err: z.ZodError): Array<{ path: string; message: string }> {
  return err.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}
