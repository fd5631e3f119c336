/**
 * `runwarden audit sample [--since] [--runbook] [--size N]`: finished tasks picked at random for a
 * person to review (those never reviewed first); `runwarden audit record <task> --verdict ok|issue
 * --note ... --auditor <name>`: the review, recorded in the task's ledger. Thin adapters over
 * src/store/audit.ts; the report shows the figures.
 */
import type { Command } from 'commander';
import { RunwardenError } from '../../errors.js';
import { action, commonOptions, printJson, runtimeFor, withCommon } from '../common.js';

/** `--since`: an ISO date or time, or a duration back from now (`7d`, `12h`). */
export async function parseSince(text: string | undefined, now: Date = new Date()): Promise<Date | undefined> {
  if (text === undefined) return undefined;
  const { tryParseDuration } = await import('../../runbook/duration.js');
  const ms = tryParseDuration(text);
  if (ms !== undefined) return new Date(now.getTime() - ms);
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) throw new RunwardenError('USAGE', `--since takes a duration back from now (7d, 12h) or an ISO date (2026-11-01); got ${text}`);
  return at;
}

export function register(program: Command): void {
  const audit = program.command('audit').description('review finished tasks: sample some at random, record what the review found');
  withCommon(
    audit
      .command('sample')
      .description('finished tasks picked at random for review, those never reviewed first')
      .option('--since <when>', 'only tasks finished since then: a duration back from now (7d) or an ISO date')
      .option('--runbook <id>', 'only tasks of this runbook')
      .option('--size <n>', 'how many', '10'),
  ).action(
    action(async (opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const size = Number(opts.size);
      if (!Number.isInteger(size) || size < 1) throw new RunwardenError('USAGE', `--size must be a whole number of at least 1; got ${String(opts.size)}`);
      const since = await parseSince(opts.since as string | undefined);
      const [{ sampleFinished }, { summarizeTask }, { formatTaskTable }] = await Promise.all([
        import('../../store/audit.js'),
        import('../../store/task-view.js'),
        import('../task-format.js'),
      ]);
      const rt = await runtimeFor(common, 'read', { withRunbooks: false });
      try {
        const tasks = await sampleFinished(rt.db, { size, ...(since ? { since } : {}), ...(opts.runbook ? { runbook: String(opts.runbook) } : {}) });
        const summaries = rt.masker.maskValue(tasks.map(summarizeTask));
        if (common.json) printJson(summaries);
        else {
          process.stdout.write(`${formatTaskTable(summaries)}\n`);
          if (tasks.length) process.stdout.write('review each with `runwarden show <task>`, then `runwarden audit record <task> --verdict ok|issue --note "..." --auditor <you>`\n');
        }
      } finally {
        await rt.close();
      }
    }),
  );
  withCommon(
    audit
      .command('record <task>')
      .description("record a review of a finished task in its ledger")
      .requiredOption('--verdict <ok|issue>', 'ok: handled as it should be; issue: something is wrong (say what in --note)')
      .option('--note <text>', 'what the review found (required with --verdict issue)', '')
      .requiredOption('--auditor <name>', 'who reviewed it (recorded in the ledger)'),
  ).action(
    action(async (ref: string, opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const verdict = String(opts.verdict);
      if (verdict !== 'ok' && verdict !== 'issue') throw new RunwardenError('USAGE', `--verdict takes ok or issue; got ${verdict}`);
      const [{ recordAudit }, { getTask }] = await Promise.all([import('../../store/audit.js'), import('../../store/tasks.js')]);
      const rt = await runtimeFor(common, 'read', { withRunbooks: false });
      try {
        const task = await getTask(rt.db, ref);
        if (!task) throw new RunwardenError('TASK_NOT_FOUND', `no task with id or externalRef ${ref}`);
        const done = await recordAudit(rt.db, { taskId: task.id, verdict, note: String(opts.note ?? ''), auditor: String(opts.auditor), now: new Date() });
        if (common.json) printJson({ id: done.id, state: done.state, verdict });
        else process.stdout.write(`${done.id} ${done.state}: review recorded (${verdict})\n`);
      } finally {
        await rt.close();
      }
    }),
  );
}
