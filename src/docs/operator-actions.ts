/**
 * The "allowed from" table of docs/operator-guide.md, generated from the transition table's
 * ACTION_FROM: the states the operator actions accept are the ones the code enforces.
 */
import { ACTION_FROM } from '../lifecycle/transitions.js';
import { OPERATOR_ACTIONS, TASK_STATES, type TaskState } from '../lifecycle/vocabulary.js';
import { code, generatedNotice, table } from './markdown.js';

/** States as inline code, in the order of TASK_STATES. */
function statesText(states: readonly TaskState[]): string {
  return states.map((s) => code(s)).join(', ');
}

/**
 * One row per operator action, in OPERATOR_ACTIONS order: the action (linked to its section of
 * the guide) and the states it may be taken from. Ends with a newline.
 */
export function operatorActionTable(): string {
  const rows = OPERATOR_ACTIONS.map((a) => {
    const from = ACTION_FROM[a] as readonly TaskState[];
    const ordered = TASK_STATES.filter((s) => from.includes(s));
    return [`[${code(a)}](#${a})`, statesText(ordered)];
  });
  return `${generatedNotice('ACTION_FROM in src/lifecycle/transitions.ts')}\n\n${table(['action', 'allowed from'], rows)}`;
}
