/**
 * The task transition table: the one place that says which state may follow which. The store's
 * transition function applies it in SQL (`UPDATE ... WHERE state = ANY(allowed)`), the operator
 * actions read their allowed states from it, and the docs draw the state diagram from it.
 */
import type { OperatorAction, TaskState } from './vocabulary.js';
import { TASK_STATES, TERMINAL_STATES } from './vocabulary.js';

/**
 * from -> the states it may move to. `queued` is where automation continues from after a person
 * (approve, resume, retry, skip) or a callback hands a task back: a worker claims it from there.
 */
export const TRANSITIONS = {
  queued: ['running', 'cancelled'],
  running: [
    'queued', // lease released on a graceful stop
    'retry_scheduled',
    'waiting_callback',
    'awaiting_approval',
    'compensating',
    'escalated',
    'completed',
    'partially_completed',
    'cancelled',
  ],
  retry_scheduled: ['running', 'queued', 'in_handover', 'cancelled'],
  waiting_callback: ['queued', 'running', 'in_handover', 'cancelled'],
  awaiting_approval: ['queued', 'escalated', 'compensating', 'cancelled'],
  compensating: ['rolled_back', 'escalated', 'cancelled'],
  escalated: [
    'queued',
    'in_handover',
    'compensating',
    'completed',
    'partially_completed',
    'failed',
    'cancelled',
  ],
  in_handover: ['queued', 'compensating', 'completed', 'partially_completed', 'failed', 'cancelled'],
  failed: ['queued', 'cancelled'],
  completed: [],
  partially_completed: [],
  rolled_back: [],
  cancelled: [],
  rejected: [],
} as const satisfies Record<TaskState, readonly TaskState[]>;

/** True when the table allows `from -> to`. */
export function canTransition(from: TaskState, to: TaskState): boolean {
  return (TRANSITIONS[from] as readonly TaskState[]).includes(to);
}

/** Every state that may move to `to`: the `ANY($allowed)` of the guarded UPDATE. */
export function predecessorsOf(to: TaskState): TaskState[] {
  return TASK_STATES.filter((from) => canTransition(from, to));
}

export function isTerminal(state: TaskState): boolean {
  return (TERMINAL_STATES as readonly TaskState[]).includes(state);
}

/** States the operator actions may be taken from (lifecycle.md, "Operator actions"). */
export const ACTION_FROM = {
  approve: ['awaiting_approval'],
  deny: ['awaiting_approval'],
  takeover: ['escalated', 'retry_scheduled', 'waiting_callback'],
  resume: ['escalated', 'in_handover', 'failed'],
  retry: ['escalated', 'in_handover', 'retry_scheduled'],
  skip: ['escalated', 'in_handover'],
  rollback: ['escalated', 'in_handover'],
  complete: ['escalated', 'in_handover'],
  fail: ['escalated', 'in_handover'],
  cancel: ['queued', 'running', 'retry_scheduled', 'waiting_callback', 'awaiting_approval', 'compensating', 'escalated', 'in_handover', 'failed'],
} as const satisfies Record<OperatorAction, readonly TaskState[]>;

/** The operator actions allowed from a state (what a packet's `allowedActions` lists). */
export function actionsAllowedFrom(state: TaskState): OperatorAction[] {
  return (Object.keys(ACTION_FROM) as OperatorAction[]).filter((a) =>
    (ACTION_FROM[a] as readonly TaskState[]).includes(state),
  );
}
