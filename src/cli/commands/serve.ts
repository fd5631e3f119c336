/**
 * `runwarden serve [--port N] [--host H] [--no-worker]`: the HTTP API (and the console and
 * metrics) in one process with a worker, the outbox deliverer and the scheduler, all put
 * together by the composition root (service.ts) as `work` does. Several `serve` processes on one
 * PostgreSQL share the work as several `work` processes do. `--roles` narrows the worker to some
 * roles and the secrets to theirs, as `work --roles` does; runbooks with problems are reported at
 * start, as `work` reports them.
 *
 * A first SIGINT or SIGTERM stops gracefully: the listener stops taking requests (those in
 * flight finish), the worker records the attempts in flight and hands its tasks back, then the
 * database closes. A second signal aborts the attempts in flight.
 */
import type { Command } from 'commander';
import { action, commonOptions, rolesOption, ROLES_HELP, runtimeFor, withCommon } from '../common.js';

export function register(program: Command): void {
  withCommon(
    program
      .command('serve')
      .description('serve the HTTP API, console and metrics, with a worker and the scheduler in the same process')
      .option('--port <n>', 'TCP port to listen on (env PORT)', process.env.PORT ?? '8080')
      .option('--host <host>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
      .option('--no-worker', 'serve only: run no worker or scheduler here (another process does the work)')
      .option('--concurrency <n>', 'tasks the worker drives at once', '4')
      .option('--worker-id <id>', "this worker's name in leases and the ledger")
      .option('--lease <duration>', 'how long a claim holds without renewal (a duration: 30s, 2m)', '30s')
      .option('--roles <list>', ROLES_HELP),
  ).action(
    action(async (opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const roles = await rolesOption(opts.roles);
      const { runServe } = await import('../../http/serve.js');
      await runServe({
        open: (signal) => runtimeFor(common, 'run', { waitForDatabase: { signal }, roles }),
        runbooksDir: common.runbooks,
        roles,
        port: String(opts.port),
        host: String(opts.host),
        worker: opts.worker !== false,
        concurrency: String(opts.concurrency),
        lease: String(opts.lease),
        ...(opts.workerId ? { workerId: String(opts.workerId) } : {}),
      });
    }),
  );
}
