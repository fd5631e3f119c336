/**
 * `runwarden show <task>`: one task by id or externalRef: its state, steps (in runbook order)
 * with status, attempts and captures, its context and its ledger as a timeline. `--json` is the
 * shape interfaces.md fixes.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { RunwardenError } from '../../errors.js';
import { loadRunbookSet } from '../../runbook/load.js';
import type { RunbookSet } from '../../runbook/plan.js';
import { createMasker } from '../../secrets/mask.js';
import { openDb } from '../../store/db.js';
import { readTaskView } from '../../store/task-view.js';
import { action, commonOptions, printJson, withCommon } from '../common.js';
import { formatTask } from '../task-format.js';

/** The runbooks, for step order only: a broken or missing folder must not hide a task. */
async function runbooksForOrder(dir: string): Promise<RunbookSet | undefined> {
  try {
    return (await loadRunbookSet(dir)).set;
  } catch {
    return undefined;
  }
}

export function register(program: Command): void {
  withCommon(program.command('show <task>').description('show a task (by id or externalRef): state, steps, context and ledger')).action(
    action(async (ref: string, opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      // Values are masked at record time; masking again here costs little and catches a miss.
      const config = await loadConfig(common.config ? { path: common.config } : {});
      const masker = createMasker(config.secretValues());
      const runbooks = await runbooksForOrder(common.runbooks);
      const db = await openDb(common.db);
      try {
        const view = await readTaskView(db, ref, (id) => runbooks?.byId.get(id));
        if (!view) throw new RunwardenError('TASK_NOT_FOUND', `no task with id or externalRef ${ref}`);
        const masked = masker.maskValue(view);
        if (common.json) printJson(masked);
        else process.stdout.write(`${formatTask(masked)}\n`);
      } finally {
        await db.close();
      }
    }),
  );
}
