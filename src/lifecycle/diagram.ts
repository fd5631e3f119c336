/**
 * The task state diagram, drawn from the transition table so the picture in the docs cannot show
 * a move the store would refuse, or miss one it allows.
 */
import { TRANSITIONS } from './transitions.js';
import { TASK_STATES, TERMINAL_STATES, type TaskState } from './vocabulary.js';

/** Where intake puts a task: accepted (`queued`) or refused and stored (`rejected`). */
export const INTAKE_STATES = ['queued', 'rejected'] as const satisfies readonly TaskState[];

/**
 * A Mermaid `stateDiagram-v2` of the task lifecycle: `[*]` into the intake states, one arrow per
 * entry of `TRANSITIONS` (in the order of `TASK_STATES`, then of the table), and `[*]` out of the
 * terminal states, which are also styled apart. Deterministic; ends with a newline.
 */
export function stateDiagram(): string {
  const lines = ['stateDiagram-v2', '    direction TB'];
  for (const s of INTAKE_STATES) lines.push(`    [*] --> ${s}`);
  for (const from of TASK_STATES) {
    for (const to of TRANSITIONS[from] as readonly TaskState[]) lines.push(`    ${from} --> ${to}`);
  }
  for (const s of TERMINAL_STATES) lines.push(`    ${s} --> [*]`);
  lines.push('    classDef terminal font-weight:bold,stroke-width:3px');
  lines.push(`    class ${TERMINAL_STATES.join(',')} terminal`);
  return `${lines.join('\n')}\n`;
}
