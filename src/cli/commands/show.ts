/**
 * `runwarden show <task>`: one task by id or externalRef: its state, steps (in runbook order)
 * with status, attempts and captures, its context and its ledger as a timeline. `--json` is the
 * shape interfaces.md fixes. Reads only: the worker's secrets need not be set (those that are
 * set are masked), and a broken or missing runbook folder costs at most the step order of a task
 * accepted before intake recorded it, never the task.
 */
import type { Command } from 'commander';
import { action, commonOptions, printJson, runtimeFor, withCommon } from '../common.js';

export function register(program: Command): void {
  withCommon(program.command('show <task>').description('show a task (by id or externalRef): state, steps, context and ledger')).action(
    action(async (ref: string, opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const [{ RunwardenError }, { readTaskView }, { formatTask }] = await Promise.all([
        import('../../errors.js'),
        import('../../store/task-view.js'),
        import('../task-format.js'),
      ]);
      // The runbooks are loaded only for a task whose acceptance did not record its step order
      // and sensitive inputs (see viewNeedsRunbook): compiling them is most of a show's time.
      const rt = await runtimeFor(common, 'read', { withRunbooks: false });
      try {
        const runbookOf = async (id: string) => {
          const { loadRunbooks } = await import('../../runtime.js');
          return (await loadRunbooks(common.runbooks).catch(() => undefined))?.byId.get(id);
        };
        const view = await readTaskView(rt.db, ref, runbookOf, { masker: rt.masker });
        if (!view) throw new RunwardenError('TASK_NOT_FOUND', `no task with id or externalRef ${ref}`);
        if (common.json) printJson(view);
        else process.stdout.write(`${formatTask(view)}\n`);
      } finally {
        await rt.close();
      }
    }),
  );
}
