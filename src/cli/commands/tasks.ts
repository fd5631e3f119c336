/** `runwarden tasks [--state S] [--runbook R] [--limit N]`: the newest tasks first. */
import type { Command } from 'commander';
import { RunwardenError } from '../../errors.js';
import { TASK_STATES, type TaskState } from '../../lifecycle/vocabulary.js';
import { action, commonOptions, printJson, runtimeFor, withCommon } from '../common.js';

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
      const [{ summarizeTask }, { listTasks }, { formatTaskTable }] = await Promise.all([
        import('../../store/task-view.js'),
        import('../../store/tasks.js'),
        import('../task-format.js'),
      ]);
      // The list needs no runbook, but the config is read all the same: a --config that names no
      // file must fail here as it does everywhere, and what it makes secret stays masked.
      const rt = await runtimeFor(common, 'read', { withRunbooks: false });
      try {
        const tasks = await listTasks(rt.db, {
          ...(state ? { state: state as TaskState } : {}),
          ...(opts.runbook ? { runbook: String(opts.runbook) } : {}),
          limit,
        });
        const summaries = rt.masker.maskValue(tasks.map(summarizeTask));
        if (common.json) printJson(summaries);
        else process.stdout.write(`${formatTaskTable(summaries)}\n`);
      } finally {
        await rt.close();
      }
    }),
  );
}
