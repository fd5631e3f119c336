/** What the demo says around its progress view: the intro before the run, the hints of `--keep`. */
import { isPostgresUrl } from '../store/db.js';
import type { ProgressSubject } from './progress.js';
import { DEMO_SCENARIOS } from './scenarios.js';

/** What is about to happen; on a pipe also the legend of the keys the plain lines use. */
export function intro(url: string, target: string, tty: boolean): string {
  const where = isPostgresUrl(target) ? 'PostgreSQL' : `the embedded database in ${target}`;
  const lines = [
    `runwarden demo: ${DEMO_SCENARIOS.length} tasks from the example runbooks, carried by one worker on ${where}`,
    `against a simulated operations API on ${url}. Each shows one way a task can end:`,
    '',
  ];
  const keyWidth = Math.max(...DEMO_SCENARIOS.map((s) => s.key.length));
  if (!tty) lines.push(...DEMO_SCENARIOS.map((s) => `  ${s.key.padEnd(keyWidth)}  ${s.title}`), '');
  return `${lines.join('\n')}\n`;
}

/** How the lines for a task submitted while `--keep` runs are labelled. */
export const SUBMITTED: ProgressSubject = { key: 'submitted', title: 'a task submitted while the demo runs' };

/** What `--keep` does, what changed on the simulated API, and, on the embedded database, how two processes share it. */
export function keepHints(url: string, recovered: readonly string[], embedded: boolean): string {
  const lines = [
    '',
    `The demo keeps running (--keep): the simulated API on ${url} and a worker carry on until Ctrl-C.`,
    ...recovered.map((r) => `${r[0]!.toUpperCase()}${r.slice(1)}: resume the escalated task and watch it complete.`),
    "Each state change of the demo's tasks, and of any task you submit, is printed below.",
  ];
  if (embedded) lines.push('Your commands in another terminal share the embedded database with the demo, which serves it while it runs.');
  return `${lines.join('\n')}\n`;
}
