/**
 * `runwarden intake log [--source S] [--limit N]`: what the intake sources received, newest
 * first, each request with what it became (tasks made, deduplicated, rejected and refused with
 * why, events the mapping excluded, resolutions), refused requests (bad signature, no
 * credential, unreadable body) included. A mapping that matches nothing shows here as
 * `excluded`, and a sender with the wrong secret as `unauthorized`.
 */
import type { Command } from 'commander';
import { RunwardenError } from '../../errors.js';
import { action, commonOptions, printJson, runtimeFor, withCommon } from '../common.js';

export function register(program: Command): void {
  withCommon(
    program
      // One view for now; an argument rather than a subcommand keeps `intake` one command of the
      // reference with its options.
      .command('intake <view>')
      .description('`intake log`: requests the intake sources received, newest first, with what each became')
      .option('--source <name>', 'only this source (a name under intake.sources)')
      .option('--limit <n>', 'at most this many requests', '50'),
  ).action(
    action(async (view: string, opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      if (view !== 'log') throw new RunwardenError('USAGE', `runwarden intake shows: log; got ${view}`);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new RunwardenError('USAGE', `--limit must be a whole number of at least 1; got ${String(opts.limit)}`);
      const { listIntakeEvents } = await import('../../store/intake-log.js');
      const rt = await runtimeFor(common, 'read', { withRunbooks: false });
      try {
        const source = opts.source === undefined ? undefined : String(opts.source);
        if (source !== undefined && rt.config.intakeSources[source] === undefined) {
          const known = Object.keys(rt.config.intakeSources).sort();
          // Not an error: a source removed from the config still has its history.
          process.stderr.write(`runwarden: note: ${source} is not a configured source (configured: ${known.join(', ') || 'none'})\n`);
        }
        const rows = await listIntakeEvents(rt.db, { ...(source ? { source } : {}), limit });
        const events = rt.masker.maskValue(rows.map((e) => ({ ...e, receivedAt: e.receivedAt.toISOString() })));
        if (common.json) {
          printJson(events);
          return;
        }
        if (!events.length) {
          process.stdout.write(`no intake requests recorded${source ? ` for ${source}` : ''}\n`);
          return;
        }
        const lines: string[] = [];
        for (const e of events) {
          const counts = Object.entries(e.summary).map(([k, n]) => `${n} ${k}`).join(', ');
          lines.push(`${e.receivedAt}  ${e.source} (${e.sourceType})  ${e.outcome}${counts ? `: ${counts}` : ''}${e.error ? `: ${e.error}` : ''}  ${e.id}`);
          for (const r of e.results) {
            const what = [r.taskId, r.externalRef ? `ref ${r.externalRef}` : undefined, r.reason].filter(Boolean).join('  ');
            lines.push(`    ${r.unit}: ${r.result}${what ? `  ${what}` : ''}`);
          }
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        await rt.close();
      }
    }),
  );
}
