/**
 * `runwarden report [--since <duration>] [--runbook R] [--json]`: per runbook and per step, how
 * tasks end, how often they pause for people, whether retries after a first failure pay off and
 * how long recovery takes; and the audits: how much finished work people reviewed, what they
 * found, how often a packet was enough. Computed in SQL over the ledger (src/store/report.ts).
 */
import type { Command } from 'commander';
import { action, commonOptions, printJson, runtimeFor, withCommon } from '../common.js';

export function register(program: Command): void {
  withCommon(
    program
      .command('report')
      .description('per runbook and step: completion, escalation and pause rates, retry success after a first failure, time to recovery; audit coverage and findings, and the share of helpful packets')
      .option('--since <duration>', 'only tasks created this long ago or later (a duration: 24h, 7d); audits: tasks finished since then')
      .option('--runbook <id>', 'only tasks of this runbook'),
  ).action(
    action(async (opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const [{ RunwardenError }, { tryParseDuration, DURATION_HINT }, { buildReport, formatReport }] = await Promise.all([
        import('../../errors.js'),
        import('../../runbook/duration.js'),
        import('../../store/report.js'),
      ]);
      let since: Date | undefined;
      if (opts.since !== undefined) {
        const ms = tryParseDuration(String(opts.since));
        if (ms === undefined || ms <= 0) throw new RunwardenError('USAGE', `--since takes a duration, ${DURATION_HINT}; got ${String(opts.since)}`);
        since = new Date(Date.now() - ms);
      }
      const rt = await runtimeFor(common, 'read', { withRunbooks: false });
      try {
        const built = await buildReport(rt.db, { ...(since ? { since } : {}), ...(opts.runbook ? { runbook: String(opts.runbook) } : {}), now: new Date() });
        // Review notes are free text a person typed: a secret pasted into one is not printed.
        const report = { ...built, audit: { ...built.audit, findings: rt.masker.maskValue(built.audit.findings) } };
        if (common.json) printJson(report);
        else process.stdout.write(formatReport(report));
      } finally {
        await rt.close();
      }
    }),
  );
}
