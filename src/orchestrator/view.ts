/** The decision's view of a stored task: the row's fields it reads, its cursor read (and upgraded). */
import type { TaskRow } from '../store/tasks.js';
import { readCursor } from './cursor.js';
import type { TaskView } from './types.js';

export function taskViewOf(row: TaskRow): TaskView {
  return {
    id: row.id,
    externalRef: row.externalRef,
    taskClass: row.taskClass,
    requestedBy: row.requestedBy,
    input: row.input,
    state: row.state,
    currentStep: row.currentStep,
    steps: row.steps,
    cursor: readCursor(row.cursor, { state: row.state, currentStep: row.currentStep, escalationKind: row.escalation?.kind ?? null }),
    retryUsed: row.retryUsed,
    retryLimit: row.retryLimit,
    deadlineAt: row.deadlineAt,
    cancelRequested: row.cancelRequested,
  };
}
