/**
 * The recommended next action: rules over the reason, the failure class, the step's `repeat` and
 * what already changed, with the runbook owner's `escalation.recommend` text alongside. Pure.
 *
 * The action is always one the task's state allows; the commands are the exact command lines,
 * with `<you>` and `<...>` where only the responder knows the value.
 */
import type { EscalationReason, FailureClass, OperatorAction, StepStatus, TaskState } from '../lifecycle/vocabulary.js';
import type { CompiledRunbook, CompiledStep } from '../runbook/plan.js';
import { systemOf } from './packet-parts.js';
import type { PacketRecommendation, PacketSideEffect } from './packet-schema.js';

export interface RecommendInput {
  reason: { kind: EscalationReason; failureClass: FailureClass | null; step: string | null; message: string };
  taskId: string;
  state: TaskState;
  allowed: OperatorAction[];
  plan: CompiledRunbook | undefined;
  /** Status and attempts of the reason's step. */
  stepStatus: StepStatus | null;
  stepAttempts: number;
  sideEffects: PacketSideEffect[];
  failedSteps: string[];
  retryBudget: { used: number; limit: number };
  /** The failed verification check, when there is one. */
  check?: string;
}

interface Rule {
  action: OperatorAction | null;
  why: string;
  /** Actions to give commands for, in order (the action itself first when it has a command). */
  commands: Cmd[];
}

type Cmd = { action: OperatorAction; flags?: string; reason?: string } | { raw: string };

/**
 * The owner's text for this case: by reason kind, then failure class, then step id. What
 * happened outranks where: a runbook's `restart:` text about the call failing must not answer a
 * verification failure at that step when `verification_failed:` says what to do.
 */
export function ownerNote(plan: CompiledRunbook | undefined, r: RecommendInput['reason']): string | null {
  const texts = plan?.escalation.recommend ?? {};
  // An approval request is not a failure: the step's or class's failure advice does not apply.
  const keys = r.kind === 'approval_required' || r.kind === 'confirm_after_retry' ? [r.kind] : [r.kind, r.failureClass, r.step];
  for (const key of keys) if (key && texts[key]) return texts[key]!;
  return null;
}

/** Placeholder reasons that read right for the action (the ledger keeps whatever is given). */
const DEFAULT_REASONS: Partial<Record<OperatorAction, string>> = {
  takeover: 'investigating',
  approve: '<why you approve>',
  deny: '<why you deny>',
  cancel: '<why it is no longer wanted>',
};

function command(taskId: string, c: Cmd): string {
  if ('raw' in c) return c.raw;
  const flags = c.flags ? ` ${c.flags}` : '';
  return `runwarden ${c.action} ${taskId}${flags} --operator <you> --reason "${c.reason ?? DEFAULT_REASONS[c.action] ?? '<what you found>'}"`;
}

function rule(i: RecommendInput, step: CompiledStep | undefined): Rule {
  const r = i.reason;
  const name = r.step ?? 'the task';
  const system = step ? systemOf(step) ?? 'the system it acts on' : 'the system it acts on';
  const once = step?.repeat === 'once';
  // What skip should supply: the external ids first, else whatever the step captures.
  const captureKeys = step ? (step.ids.length ? step.ids : Object.keys(step.capture)) : [];
  const captureFlags = captureKeys.map((k) => `--capture ${k}=<${k}>`).join(' ');

  // A once step that may have taken effect outranks everything else: replaying it blindly is the
  // double charge this project exists to prevent.
  if (once && i.stepStatus === 'in_doubt') {
    return {
      action: 'takeover',
      why: `${name} may have taken effect: it changes ${system}, cannot be repeated safely, and its outcome was not recorded. Check ${system} for the ${name} before resuming. If it happened, skip the step${captureFlags ? ' and give the ids it would have captured' : ''}; if it did not, retry it${step?.probe ? ' (its probe runs first)' : ''}.`,
      commands: [
        { action: 'takeover', reason: `checking ${system} for ${name}` },
        { action: 'skip', flags: captureFlags || undefined, reason: `${name} did happen in ${system}` },
        { action: 'retry', flags: step?.probe ? undefined : '--yes', reason: `${name} did not happen in ${system}` },
      ],
    };
  }
  switch (r.kind) {
    case 'approval_required':
      return {
        action: 'approve',
        why: `${name} waits for an approval before it runs: ${r.message}`,
        commands: [{ action: 'approve' }, { action: 'deny' }],
      };
    case 'confirm_after_retry':
      return {
        action: 'approve',
        why: `${name} succeeded, but only after retries: ${r.message}. Check ${system} shows the intended end state, then approve to go on, or deny to stop.`,
        commands: [{ action: 'approve', reason: `${system} is in the intended state` }, { action: 'deny', reason: `${system} is not as intended` }],
      };
    case 'partial_completion':
      return {
        action: null,
        why: `The task finished with ${i.failedSteps.join(', ') || name} not done, and is closed as partially completed. Finish what matters by hand.`,
        commands: [{ raw: `runwarden show ${i.taskId}` }],
      };
    case 'retries_exhausted':
      return {
        action: 'retry',
        why: `${name} failed ${i.stepAttempts} time(s) with ${r.failureClass ?? 'unclassified'} errors and its retry policy is used up. Check that ${system} is healthy again, then retry.`,
        commands: [{ action: 'retry', flags: once && !step?.probe ? '--yes' : undefined, reason: `${system} is healthy again` }, { action: 'takeover' }],
      };
    case 'budget_exhausted':
      return {
        action: 'resume',
        why: `The task used its whole retry budget (${i.retryBudget.used} of ${i.retryBudget.limit}). Read the attempts for a cause; once it is fixed, resume with a fresh budget.`,
        commands: [{ action: 'resume', flags: '--reset-budget' }, { action: 'takeover' }],
      };
    case 'deadline_exceeded':
      return {
        action: 'resume',
        why: `The task's deadline passed at ${name}. If the work is still wanted, resume: it gets a fresh deadline, recorded in the ledger.`,
        commands: [{ action: 'resume', reason: 'still wanted' }, { action: 'cancel', reason: 'no longer wanted' }],
      };
    case 'verification_failed':
      return {
        action: 'takeover',
        why: `${name} ran, but ${i.check ? `the check ${i.check}` : 'its verification'} did not hold: the end state was not reached. Find out why before anything runs again; resume re-enters ${name}${undoable(i).length ? ', rollback undoes what can be undone' : ''}.`,
        commands: [{ action: 'takeover' }, { action: 'resume' }, { action: 'rollback' }],
      };
    case 'ambiguous_state':
      return {
        action: 'takeover',
        why: `${name} needs a judgement automation would not make: ${r.message}. Decide, then skip ${name} if it is settled by hand, or roll back.`,
        commands: [{ action: 'takeover' }, { action: 'skip' }, { action: 'rollback' }],
      };
    case 'off_policy':
      return {
        action: 'takeover',
        why: `A policy stopped ${name}: ${r.message}. Do not work around it; check with the runbook owner, then close the task or resume once the policy allows it.`,
        commands: [{ action: 'takeover' }, { action: 'fail', reason: 'refused by policy' }, { action: 'resume' }],
      };
    case 'callback_timeout':
      return {
        action: 'takeover',
        why: `${name} waited for a callback that did not come in time. Check whether the external work finished: if it did, skip ${name} with the data it would have sent; if not, retry to wait again.`,
        commands: [{ action: 'takeover' }, { action: 'skip', flags: captureFlags || undefined, reason: 'the work finished; data from <where>' }, { action: 'retry', reason: 'waiting again' }],
      };
    case 'compensation_failed':
      return {
        action: 'resume',
        why: `The rollback stopped at ${name}: ${r.message.replace(/^undoing \S+ failed: /, '')}. Some changes may be undone and others not; check ${system}, fix the cause, then resume to continue the rollback.`,
        commands: [{ action: 'resume', reason: 'cause of the failed undo fixed' }, { action: 'takeover' }],
      };
    case 'silent_failure': {
      // The schedule's alert, hung on its latest run: nothing to do to this task as such.
      const id = i.plan?.id ?? '<runbook>';
      return {
        action: null,
        why: `No scheduled run of ${i.plan?.id ?? 'the runbook'} completed in its expected window: ${r.message}. The schedule goes on firing and this alert resolves when a run completes. Read what the latest runs did (an escalated one has its own packet), fix what stops them, then run the schedule now to check.`,
        commands: [{ raw: `runwarden schedule show ${id}` }, { raw: `runwarden show ${i.taskId}` }, { raw: `runwarden schedule run-now ${id} --operator <you> --reason "checking the fix"` }],
      };
    }
    case 'non_retryable':
      return nonRetryable(i, name, system);
  }
}

function nonRetryable(i: RecommendInput, name: string, system: string): Rule {
  const r = i.reason;
  switch (r.failureClass) {
    case 'permission':
      return {
        action: 'retry',
        why: `${system} refused ${name}: runwarden lacks the permission. Fix the credentials or grants it uses for ${system}, then retry.`,
        commands: [{ action: 'retry', reason: 'permission fixed' }, { action: 'takeover' }],
      };
    case 'invalid_input':
      return {
        action: 'fail',
        why: `${system} rejected the request of ${name} as invalid: the task input or the runbook's request is wrong. Retrying sends the same request; close this task and submit a corrected one.`,
        commands: [{ action: 'fail', reason: 'invalid request; resubmitted corrected' }, { action: 'takeover' }],
      };
    case 'internal':
      return {
        action: 'takeover',
        why: `runwarden could not carry out the runbook at ${name}: ${r.message}. Fix the runbook (runwarden validate), then resume.`,
        commands: [{ action: 'takeover' }, { action: 'resume', reason: 'runbook fixed' }],
      };
    case 'business':
      return {
        action: 'takeover',
        why: `${system} refused ${name} for a business reason: ${r.message}. Settle it with the owner of ${system}; then retry, or skip if it was done by hand.`,
        commands: [{ action: 'takeover' }, { action: 'retry' }, { action: 'skip' }],
      };
    default: {
      const undo = undoable(i).length > 0;
      return {
        action: undo ? 'rollback' : 'fail',
        why: `${name} cannot go on: ${r.message}.${undo ? ' Roll back what changed, or take it over to finish by hand.' : ' Nothing has changed yet; close the task, or take it over.'}`,
        commands: [undo ? { action: 'rollback' } : { action: 'fail' }, { action: 'takeover' }],
      };
    }
  }
}

/** A sentence on what already changed and whether a rollback can undo it. */
function changedNote(i: RecommendInput): string {
  const live = i.sideEffects.filter((s) => s.effect === 'applied' || s.effect === 'maybe' || s.effect === 'undo_failed');
  if (!live.length) return '';
  const fmt = (s: PacketSideEffect) => {
    const ids = Object.entries(s.ids).map(([k, v]) => `${k} ${String(v)}`);
    return `${s.step}${s.effect === 'maybe' ? ' (maybe)' : ''}${ids.length ? ` (${ids.join(', ')})` : ''}`;
  };
  const stepsById = new Map((i.plan?.steps ?? []).map((s) => [s.id, s]));
  const noUndo = live.filter((s) => !stepsById.get(s.step)?.compensate).map((s) => s.step);
  return ` Already changed: ${live.map(fmt).join('; ')}.${noUndo.length ? ` A rollback cannot undo ${noUndo.join(', ')}.` : ''}`;
}

/** Live side effects a rollback can undo (their step has a compensation). */
function undoable(i: RecommendInput): PacketSideEffect[] {
  const stepsById = new Map((i.plan?.steps ?? []).map((s) => [s.id, s]));
  return i.sideEffects.filter((s) => (s.effect === 'applied' || s.effect === 'maybe') && stepsById.get(s.step)?.compensate);
}

/** The recommendation for a packet. The action is always among `allowed` (or null when none is). */
export function recommend(i: RecommendInput): PacketRecommendation {
  const step = i.reason.step && i.plan ? i.plan.steps[i.plan.stepIndex[i.reason.step] ?? -1] : undefined;
  const r = rule(i, step);
  let action = r.action;
  if (action && (!i.allowed.includes(action) || (action === 'rollback' && undoable(i).length === 0))) action = i.allowed.includes('takeover') ? 'takeover' : (i.allowed.find((a) => a !== 'cancel') ?? null);
  // A rollback with nothing it can undo would only mislead.
  const canUndo = undoable(i).length > 0;
  const commands = r.commands
    .filter((c) => 'raw' in c || (i.allowed.includes(c.action) && (c.action !== 'rollback' || canUndo)))
    .map((c) => command(i.taskId, c));
  if (action && !r.commands.some((c) => !('raw' in c) && c.action === action)) commands.unshift(command(i.taskId, { action }));
  const keepNote = i.reason.kind !== 'approval_required' && i.reason.kind !== 'confirm_after_retry' && i.reason.kind !== 'partial_completion';
  return {
    action,
    why: r.why + (keepNote ? changedNote(i) : ''),
    ownerNote: ownerNote(i.plan, i.reason),
    commands: [...new Set(commands)],
  };
}
