/** `runwarden demo [--reset] [--keep] [--db ...] [--runbooks ...]`: the whole flow against a simulated operations API. */
import type { Command } from 'commander';
import { action, ExitCode, useColor } from '../common.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the example runbooks end to end on the embedded database against a simulated operations API')
    .option('--reset', 'delete the demo database first and start clean')
    // Not the common --db: RUNWARDEN_DB and DATABASE_URL may name a real deployment's database,
    // and demo tasks must not land there unless asked for by name.
    .option('--db <url-or-path>', 'embedded database directory or PostgreSQL URL', './.runwarden/db')
    .option('--runbooks <dir>', 'runbooks folder (default: the example runbooks shipped with runwarden)')
    .option(
      '--keep',
      'then keep the simulated API and a worker running until Ctrl-C, so approve or resume in another terminal carries the task on ' +
        '(those commands share the database with the demo, embedded or PostgreSQL)',
    )
    .action(
      action(async (opts: Record<string, unknown>) => {
        const [{ runDemo }, { createLogger }] = await Promise.all([import('../../demo/index.js'), import('../../log.js')]);
        const stop = new AbortController();
        // Once each: a second Ctrl-C finds no handler and ends the process at once.
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const result = await runDemo({
            db: String(opts.db),
            ...(opts.runbooks ? { runbooks: String(opts.runbooks) } : {}),
            reset: Boolean(opts.reset),
            keep: Boolean(opts.keep),
            out: {
              write: (text) => void process.stdout.write(text),
              tty: Boolean(process.stdout.isTTY),
              color: useColor(process.stdout),
              ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
            },
            // Warnings only: the progress view is the demo's account of what happens.
            logger: createLogger({ level: process.env.RUNWARDEN_LOG_LEVEL ?? 'warn' }),
            has: (name) => program.commands.some((c) => c.name() === name),
            signal: stop.signal,
          });
          if (result.unexpected.length) {
            for (const { scenario, task } of result.unexpected) {
              process.stderr.write(`runwarden: demo task ${task.id} (${scenario.key}) ended ${task.state}, not ${scenario.expect}\n`);
            }
            throw new ExitCode(1);
          }
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }),
    );
}
