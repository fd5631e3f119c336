/**
 * `runwarden submit <file|->`: intake one task request (interfaces.md, "Task request"). Prints
 * the task id and state; a rejection is stored as a `rejected` task, printed with every reason,
 * and exits 1. Malformed JSON is refused before anything is opened: nothing is stored.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { RunwardenError } from '../../errors.js';
import { parseRequestText, submitTask } from '../../orchestrator/intake.js';
import { openRuntime } from '../../runtime.js';
import { listEvents } from '../../store/events.js';
import { taskView } from '../../store/task-view.js';
import { action, commonOptions, ExitCode, printJson, withCommon } from '../common.js';
import { formatRejection } from '../task-format.js';

async function readRequest(file: string): Promise<string> {
  if (file === '-') return text(process.stdin);
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new RunwardenError('REQUEST_INVALID', `cannot read the task request ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export function register(program: Command): void {
  withCommon(
    program
      .command('submit <file>')
      .description('submit one task request (JSON; `-` reads stdin); prints the task id and state, exits 1 when rejected'),
  ).action(
    action(async (file: string, opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const request = parseRequestText(await readRequest(file), file === '-' ? 'the request on stdin' : file);
      const rt = await openRuntime(common);
      let rejected = false;
      try {
        const { task, created } = await submitTask(rt.db, rt.runbooks, request, {
          now: new Date(),
          env: { ...rt.config.env },
          secrets: { ...rt.config.secrets },
          actor: 'intake',
        });
        rejected = task.state === 'rejected';
        const view = rt.masker.maskValue(taskView(task, await listEvents(rt.db, task.id), task.runbookId ? rt.runbooks.byId.get(task.runbookId) : undefined));
        if (common.json) {
          printJson({ ...view, created });
        } else {
          const existing = created ? '' : ` (existing task for externalRef ${task.externalRef}; nothing created)`;
          process.stdout.write(`${task.id} ${task.state}${existing}\n`);
          if (rejected) process.stdout.write(`${formatRejection(view)}\n`);
        }
      } finally {
        await rt.close();
      }
      if (rejected) throw new ExitCode(1);
    }),
  );
}
