/**
 * Which role does which work (runbook-format.md, "Additions in v1.1"): `execution` runs a step's
 * action, refreshes and compensations; `verification` runs `verify` checks and probes; `agent`
 * makes the model call of a `decide` step; `escalation` answers what waits on people (the
 * packet of an approval nobody gave in time, re-escalations, deliveries).
 *
 * Pure: the driver stamps the role on every attempt's ledger events and stores the role whose
 * work comes next (`tasks.awaiting_role`) with each checkpoint, so the claim hands the task only
 * to a worker that serves it.
 */
import type { AttemptKind, TaskState, WorkRole } from '../lifecycle/vocabulary.js';
import { WORK_ROLES } from '../lifecycle/vocabulary.js';
import type { CompiledRunbook, CompiledStep } from '../runbook/plan.js';
import type { DecisionEvent, Next } from './types.js';

/** Every role: what a worker serves unless `--roles` says otherwise. */
export const ALL_ROLES: readonly WorkRole[] = WORK_ROLES;

/** The role that runs an attempt of `kind` for `step`. */
export function roleOfAttempt(kind: AttemptKind, step: Pick<CompiledStep, 'spec'> | undefined): WorkRole {
  switch (kind) {
    case 'verify':
    case 'probe':
      return 'verification';
    case 'action':
      return step?.spec.action === 'decide' ? 'agent' : 'execution';
    case 'refresh':
    case 'compensate':
      return 'execution';
  }
}

/** What the cursor says the walk does next at its current step. */
function roleOfPhase(at: string | undefined, step: CompiledStep | undefined): WorkRole {
  switch (at) {
    case 'verifying':
    case 'probing':
      return 'verification';
    case 'attempting':
    case 'entering':
      return step?.spec.action === 'decide' ? 'agent' : 'execution';
    default:
      return 'execution';
  }
}

/**
 * The role whose work comes next once a checkpoint is written: the attempt it starts, else what
 * the task's state and cursor leave to do. Null for a task no worker takes up again.
 */
export function awaitingRoleOf(
  plan: CompiledRunbook,
  after: { state: TaskState; currentStep: string | null; cursor: Record<string, unknown> },
  next: Next,
): WorkRole | null {
  const step = after.currentStep ? plan.steps[plan.stepIndex[after.currentStep] ?? -1] : undefined;
  if (next.type === 'perform') return roleOfAttempt(next.attempt.kind, plan.steps[plan.stepIndex[next.attempt.step] ?? -1]);
  switch (after.state) {
    case 'queued':
    case 'running':
    case 'retry_scheduled': {
      const phase = (after.cursor.phase as { at?: string } | undefined)?.at;
      return after.currentStep === null ? roleOfPhase('entering', plan.steps[0]) : roleOfPhase(phase, step);
    }
    case 'waiting_callback':
    case 'compensating':
      return 'execution';
    case 'awaiting_approval':
    case 'escalated':
    case 'in_handover':
      return 'escalation';
    default:
      return null;
  }
}

/** The role of the first work of a new task (intake): its first step's. */
export function firstRoleOf(plan: CompiledRunbook): WorkRole {
  return roleOfPhase('entering', plan.steps[0]);
}

/** Ledger events that record an attempt's start or outcome; each names its role. */
const ATTEMPT_EVENTS = new Set(['attempt.started', 'attempt.finished', 'attempt.in_doubt', 'probe.result', 'verification.result', 'refresh.started']);
const AGENT_EVENTS = new Set(['agent.call', 'agent.proposal']);
const EXECUTION_EVENTS = new Set(['compensation.started', 'compensation.finished', 'step.started', 'step.succeeded', 'step.failed']);
const ESCALATION_EVENTS = new Set(['escalated', 'approval.requested', 'packet.emitted', 'packet.delivery', 'escalation.reescalated']);

/**
 * The events of one checkpoint with `data.role` set on each that belongs to a role's work:
 * attempts by their kind (probe and verify: verification), model calls (agent), compensations
 * (execution), escalations (escalation). Events that already name a role keep it.
 */
export function withRoles(events: DecisionEvent[], plan: CompiledRunbook): DecisionEvent[] {
  return events.map((e) => {
    if (e.data && typeof e.data.role === 'string') return e;
    let role: WorkRole | undefined;
    if (ATTEMPT_EVENTS.has(e.type)) {
      const kind = (e.data?.kind as AttemptKind | undefined) ?? (e.type === 'probe.result' ? 'probe' : e.type === 'verification.result' ? 'verify' : e.type === 'refresh.started' ? 'refresh' : 'action');
      role = roleOfAttempt(kind, e.step ? plan.steps[plan.stepIndex[e.step] ?? -1] : undefined);
    } else if (AGENT_EVENTS.has(e.type)) role = 'agent';
    else if (EXECUTION_EVENTS.has(e.type)) role = 'execution';
    else if (ESCALATION_EVENTS.has(e.type)) role = 'escalation';
    return role ? { ...e, data: { ...(e.data ?? {}), role } } : e;
  });
}

/** Parses `--roles verification,execution`; every role when empty. Throws on an unknown name. */
export function parseRoles(text: string | undefined): WorkRole[] {
  if (text === undefined || text.trim() === '' || text.trim() === 'all') return [...ALL_ROLES];
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !(WORK_ROLES as readonly string[]).includes(n));
  if (bad.length) throw new Error(`unknown role${bad.length > 1 ? 's' : ''} ${bad.join(', ')}; roles are ${WORK_ROLES.join(', ')} (or all)`);
  return [...new Set(names)] as WorkRole[];
}

/** `all roles`, or `roles verification, escalation`: how a start-up line names what a worker serves. */
export function rolesNote(roles: readonly WorkRole[] = ALL_ROLES): string {
  return ALL_ROLES.every((r) => roles.includes(r)) ? 'all roles' : `roles ${roles.join(', ')}`;
}
