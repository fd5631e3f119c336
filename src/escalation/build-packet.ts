/**
 * Builds the escalation packet v1 from the stored task and its ledger only (no live calls), so
 * the packet says exactly what the record says and can be rebuilt the same way later. Pure: time,
 * ids and the masker are passed in.
 */
import { actionsAllowedFrom } from '../lifecycle/transitions.js';
import type { EscalationReason } from '../lifecycle/vocabulary.js';
import type { EscalationInfo } from '../store/tasks.js';
import type { CompiledRunbook } from '../runbook/plan.js';
import { createMasker, MASK, type Masker } from '../secrets/mask.js';
import { maskPaths, sensitiveValues } from '../secrets/sensitive.js';
import { clipText, isoOrNull, type AttemptRecord, type LedgerEvent, type PacketStepRecord, type PacketTask } from './packet-input.js';
import { agentOf, attemptsOf, evidenceOf, progressOf, sideEffectsOf } from './packet-parts.js';
import { PACKET_VERSION, type Packet, type PacketSeverity } from './packet-schema.js';
import { recommend } from './recommend.js';

/** Attempts kept in a packet by default; older ones are counted in `attemptsOmitted`. */
export const DEFAULT_MAX_ATTEMPTS = 50;
/** Longest one-line summary. */
export const SUMMARY_LIMIT = 200;

export interface BuildPacketInput {
  /** `newId('pkt')`. */
  packetId: string;
  now: Date;
  task: PacketTask;
  /** The task's compiled runbook; undefined when it is no longer loaded (the packet says less). */
  plan: CompiledRunbook | undefined;
  events: LedgerEvent[];
  attempts: AttemptRecord[];
  /** Why it stopped. Default: the task's `escalation`. */
  reason?: EscalationInfo;
  /** Masks known secret values (the deployment's); sensitive inputs are masked regardless. */
  masker?: Masker;
  /** Base URL of `runwarden serve`, for `links.task`. Default: no links. */
  publicUrl?: string;
  /** Default DEFAULT_MAX_ATTEMPTS. */
  maxAttempts?: number;
}

/**
 * The route of an escalation: `escalation.routes[reason kind]`, then `routes[failure class]`,
 * then the approval's route (approvals), then the step's `route`, then `escalation.route`
 * (default: the runbook owner). `default` when no runbook is loaded.
 */
export function routeOf(plan: CompiledRunbook | undefined, reason: Pick<EscalationInfo, 'kind' | 'failureClass' | 'step'>): string {
  if (!plan) return 'default';
  const e = plan.escalation;
  const step = reason.step ? plan.steps[plan.stepIndex[reason.step] ?? -1] : undefined;
  const approvalRoute =
    (reason.kind === 'approval_required' || reason.kind === 'confirm_after_retry') && step
      ? step.spec.action === 'approve'
        ? step.spec.with.route
        : step.approval?.route
      : undefined;
  return e.routes[reason.kind] ?? (reason.failureClass ? e.routes[reason.failureClass] : undefined) ?? approvalRoute ?? step?.route ?? e.route ?? plan.owner;
}

/** The runbook's `escalation.severity`; `high` when no runbook is loaded. */
export function severityOf(plan: CompiledRunbook | undefined): PacketSeverity {
  return plan?.escalation.severity ?? 'high';
}

const WHAT: Record<EscalationReason, (step: string, extra: string) => string> = {
  retries_exhausted: (s, x) => `${s} kept failing${x}, retries used up`,
  non_retryable: (s, x) => `${s} failed${x}, not retryable`,
  verification_failed: (s, x) => `${s} done, but ${x || 'its check'} did not hold`,
  ambiguous_state: (s) => `${s} may or may not have taken effect`,
  off_policy: (s) => `${s} stopped by policy`,
  deadline_exceeded: (s) => `deadline passed at ${s}`,
  budget_exhausted: (s) => `retry budget used up at ${s}`,
  approval_required: (s) => `${s} needs an approval`,
  callback_timeout: (s) => `no callback for ${s} in time`,
  compensation_failed: (s) => `rollback stuck: undoing ${s} failed`,
  partial_completion: (s, x) => `finished except ${x || s}`,
  silent_failure: () => 'no successful run in the expected window',
  confirm_after_retry: (s) => `${s} succeeded only after retries; a person confirms it`,
};

/**
 * What the task was about, from its first plain input values in the order the runbook's input
 * schema lists them (stored input comes back in jsonb's key order): `billing-api (production)`.
 */
function subjectOf(input: Record<string, unknown>, plan: CompiledRunbook | undefined): string {
  const listed = Object.keys(asRecord(plan?.inputSchema.properties));
  const keys = [...listed.filter((k) => k in input), ...Object.keys(input).filter((k) => !listed.includes(k))];
  const values = keys
    .map((k) => input[k])
    .filter((v): v is string | number => (typeof v === 'string' && v !== MASK && v.length > 0) || typeof v === 'number')
    .slice(0, 3)
    .map((v) => clipText(String(v), 40));
  if (!values.length) return '';
  return values.length === 1 ? values[0]! : `${values[0]} (${values.slice(1).join(', ')})`;
}

function summaryOf(plan: CompiledRunbook | undefined, runbook: string, input: Record<string, unknown>, reason: EscalationInfo, extra: string): string {
  const subject = subjectOf(input, plan);
  const what = WHAT[reason.kind](reason.step ?? 'the task', extra);
  return clipText(`${runbook}${subject ? ` for ${subject}` : ''}: ${what}`, SUMMARY_LIMIT);
}

/** A copy of `input` with each sensitive dotted path replaced by the mask. */
export const maskSensitive = maskPaths;

/** The values at the sensitive paths (kept here for callers that read them from the packet builder). */
export { sensitiveValues };

const asRecord = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * The packet for a task that stopped (escalated, awaiting approval, partially completed). Never
 * throws on odd ledger data: a packet with less in it beats no packet. Secrets and sensitive
 * inputs are masked; the result validates against PacketSchema.
 */
export function buildPacket(i: BuildPacketInput): Packet {
  const { task, plan } = i;
  const steps = asRecord(task.steps) as Record<string, PacketStepRecord>;
  const stored = asRecord(task.escalation) as Partial<EscalationInfo>;
  const reason: EscalationInfo = i.reason ?? {
    kind: stored.kind ?? 'non_retryable',
    failureClass: stored.failureClass ?? null,
    step: stored.step ?? task.currentStep,
    message: stored.message ?? 'no reason was recorded',
    at: stored.at ?? i.now.toISOString(),
  };
  const sensitive = plan?.sensitiveInputs ?? [];
  const rawInput = asRecord(task.input);
  const input = maskSensitive(rawInput, sensitive);
  const progress = progressOf(plan, steps, task.currentStep);
  const sideEffects = sideEffectsOf(plan, steps, i.attempts);
  const { attempts, omitted } = attemptsOf(i.attempts, i.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const failedSteps = [...progress.failed, ...progress.inDoubt];
  const evidence = evidenceOf(i.events, i.attempts, { step: reason.step, failedSteps });
  const failedCheck = evidence.find((e) => e.kind === 'verification' && !e.passed && e.step === reason.step);
  const check = failedCheck?.kind === 'verification' ? failedCheck.check : undefined;
  const allowedActions = actionsAllowedFrom(task.state);
  const retryBudget = { used: task.retryUsed, limit: task.retryLimit };
  const stepRec = reason.step ? steps[reason.step] : undefined;
  const extra =
    reason.kind === 'verification_failed'
      ? (check ?? '')
      : reason.kind === 'partial_completion'
        ? failedSteps.join(', ')
        : reason.failureClass
          ? ` (${reason.failureClass})`
          : '';
  const packet: Packet = {
    packetVersion: PACKET_VERSION,
    packetId: i.packetId,
    createdAt: i.now.toISOString(),
    task: { id: task.id, externalRef: task.externalRef, taskClass: task.taskClass, requestedBy: task.requestedBy, input },
    runbook: { id: plan?.id ?? task.runbookId, version: plan && plan.version === task.runbookVersion ? plan.version : task.runbookVersion, owner: plan?.owner ?? null },
    state: task.state,
    reason: { kind: reason.kind, failureClass: reason.failureClass, step: reason.step, message: clipText(reason.message, 1000) },
    summary: summaryOf(plan, plan?.id ?? task.runbookId ?? task.taskClass, input, reason, extra),
    severity: severityOf(plan),
    route: routeOf(plan, reason),
    progress,
    sideEffects,
    attempts,
    attemptsOmitted: omitted,
    retryBudget,
    deadline: isoOrNull(task.deadlineAt),
    evidence,
    agent: agentOf(i.events),
    recommendation: recommend({
      reason,
      taskId: task.id,
      state: task.state,
      allowed: allowedActions,
      plan,
      stepStatus: stepRec?.status ?? null,
      stepAttempts: stepRec?.attempts ?? 0,
      sideEffects,
      failedSteps,
      retryBudget,
      ...(check ? { check } : {}),
    }),
    allowedActions,
    links: i.publicUrl ? { task: `${i.publicUrl.replace(/\/+$/, '')}/tasks/${task.id}` } : {},
  };
  // Sensitive inputs by value too: an API answer or an error may echo them anywhere.
  const bySensitive = createMasker(sensitiveValues(rawInput, sensitive));
  const masked = bySensitive.maskValue(packet);
  return i.masker ? i.masker.maskValue(masked) : masked;
}
