/**
 * What the demo tells a new user to try next: real commands with the demo's own task ids, ready
 * to paste. Only commands the program has are offered, so the list cannot promise a command
 * that answers `unknown command`.
 */

/** The task ids the commands refer to, by the role they play in the demo. */
export interface NextStepTasks {
  completed?: string;
  escalated?: string;
  rolledBack?: string;
  awaiting?: string;
  rejected?: string;
}

export interface NextStepOptions {
  tasks: NextStepTasks;
  /** Options every command needs to find the demo's data (`--db ...`, `--runbooks ...`), already quoted. */
  flags: string[];
  /** True when the program has this command (`serve` is offered only if it exists). */
  has(command: string): boolean;
  /** The demo keeps a worker running (`--keep`): the notes say what an action then shows. Default false. */
  keep?: boolean;
}

/** Quotes a value for a POSIX shell when it needs it. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The "try next" section: one command per line, each followed by what it shows. */
export function nextSteps(o: NextStepOptions): string {
  const extra = o.flags.length ? ` ${o.flags.join(' ')}` : '';
  const rows: Array<[string, string]> = [];
  const add = (command: string, args: string, what: string) => {
    if (o.has(command)) rows.push([`runwarden ${command}${args ? ` ${args}` : ''}${extra}`, what]);
  };
  const t = o.tasks;
  add('tasks', '', 'every task, newest first');
  if (t.completed) add('show', t.completed, 'the restart: each attempt, the retries and the check that proved it');
  if (t.rejected) add('show', t.rejected, 'the refused request and the guard that refused it');
  if (t.rolledBack) add('show', t.rolledBack, 'the rollback: which steps were undone, newest first');
  if (t.escalated) {
    add('packet', `${t.escalated} --format md`, 'the handover packet printed above');
    add('takeover', `${t.escalated} --operator you --reason "looking at search-api"`, 'take the stopped task over');
    add('resume', `${t.escalated} --operator you --reason "search-api is healthy again"`, o.keep ? 'hand it back to automation: it runs again below' : 'hand it back to automation');
  }
  if (t.awaiting) add('approve', `${t.awaiting} --operator you --reason "contract signed"`, o.keep ? 'approve the move to enterprise: it is applied and completes below' : 'approve the move to enterprise');
  add('serve', '', 'the HTTP API and the console over the same tasks (sign-in tokens: docs/console.md)');
  // Two lines per command: a long command with its note beside it would wrap on a narrow terminal.
  return rows.map(([cmd, what]) => `  # ${what}\n  ${cmd}\n`).join('');
}

/**
 * The line above the commands: where the demo's tasks stay, and how to start clean. `--reset`
 * empties an embedded database only (on PostgreSQL it is refused), so it is offered only there.
 */
export function tryNextHeading(target: string, keep: boolean): string {
  const postgres = /^postgres(ql)?:\/\//i.test(target);
  const stay = postgres ? 'the database; run the demo again to add more' : `${target}; run the demo again to add more, --reset to start clean`;
  return `\nTry next${keep ? ', in a second terminal' : ''} (the demo's tasks stay in ${stay}):\n\n`;
}
