/** `runwarden tasks [--state S] [--runbook R] [--limit N]`: the newest tasks first. */
import type { Command } from 'commander';
import { RunwardenError } from '../../errors.js';
import { TASK_STATES, type TaskState } from '../../lifecycle/vocabulary.js';
import { openDb } from '../../store/db.js';
import { summarizeTask } from '../../store/task-view.js';
import { listTasks } from '../../store/tasks.js';
import { action, commonOptions, printJson, withCommon } from '../common.js';
import { formatTaskTable } from '../task-format.js';

export function register(program: Command): void {
  withCommon(
    program
      .command('tasks')
      .description('list tasks, newest first')
      .option('--state <state>', `only tasks in this state (${TASK_STATES.join(', ')})`)
      .option('--runbook <id>', 'only tasks of this runbook')
      .option('--limit <n>', 'at most this many', '50'),
  ).action(
    action(async (opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const state = opts.state as string | undefined;
      if (state !== undefined && !(TASK_STATES as readonly string[]).includes(state)) {
        throw new RunwardenError('USAGE', `--state must be one of ${TASK_STATES.join(', ')}; got ${state}`);
      }
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new RunwardenError('USAGE', `--limit must be a whole number of at least 1; got ${String(opts.limit)}`);
      const db = await openDb(common.db);
      try {
        const tasks = await listTasks(db, {
          ...(state ? { state: state as TaskState } : {}),
          ...(opts.runbook ? { runbook: String(opts.runbook) } : {}),
          limit,
        });
        const summaries = tasks.map(summarizeTask);
        if (common.json) printJson(summaries);
        else process.stdout.write(`${formatTaskTable(summaries)}\n`);
      } finally {
        await db.close();
      }
    }),
  );
}
