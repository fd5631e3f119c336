/**
 * `runwarden audit sample [--since] [--runbook] [--size N]`: finished tasks picked at random for a
 * person to review (those never reviewed first); `runwarden audit record <task> --verdict ok|issue
 * --note ... --auditor <name>`: the review, recorded in the task's ledger. Thin adapters over
 * src/store/audit.ts; the report shows the figures.
 */
import { Argument, type Command } from 'commander';
import { RunwardenError } from '../../errors.js';
import { action, commonOptions, printJson, runtimeFor, withCommon, type CommonOptions } from '../common.js';

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

const ACTIONS = ['sample', 'record'] as const;

export function register(program: Command): void {
  withCommon(
    program
      .command('audit')
      .description('review finished tasks: `sample` picks some at random (those never reviewed first), `record` writes what a review found into the task\'s ledger')
      .addArgument(new Argument('<action>', '`sample` (finished tasks to review) or `record` (a review of one task)').choices(ACTIONS))
      .argument('[task]', 'with record: the task reviewed (id or externalRef)')
      .option('--since <when>', 'sample: only tasks finished since then, a duration back from now (7d) or an ISO date')
      .option('--runbook <id>', 'sample: only tasks of this runbook')
      .option('--size <n>', 'sample: how many', '10')
      .option('--verdict <ok|issue>', 'record: ok (handled as it should be) or issue (something is wrong; say what in --note)')
      .option('--note <text>', 'record: what the review found (required with --verdict issue)')
      .option('--auditor <name>', 'record: who reviewed it (recorded in the ledger)'),
  ).action(
    action(async (what: (typeof ACTIONS)[number], ref: string | undefined, opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      if (what === 'sample') return sample(common, opts);
      if (!ref) throw new RunwardenError('USAGE', 'audit record needs the task: runwarden audit record <task> --verdict ok|issue --auditor <name>');
      const verdict = String(opts.verdict ?? '');
      if (verdict !== 'ok' && verdict !== 'issue') throw new RunwardenError('USAGE', `audit record needs --verdict ok or issue; got ${verdict || 'none'}`);
      if (!opts.auditor) throw new RunwardenError('USAGE', 'audit record needs --auditor <name>: it goes into the task\'s ledger');
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

async function sample(common: CommonOptions, opts: Record<string, unknown>): Promise<void> {
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
}
