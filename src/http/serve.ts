/**
 * What `runwarden serve` runs: the runtime, the service (worker, outbox deliverer, scheduler)
 * and the API in one process, started and stopped in order. Kept out of the CLI module so the
 * command stays a thin adapter and a test can run the same code in-process.
 */
import { isRunwardenError, RunwardenError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import type { Service } from '../service.js';
import type { WorkRole } from '../lifecycle/vocabulary.js';

export interface ServeOptions {
  /** Opens the runtime, waiting for a database that is down until `signal` aborts. */
  open(signal: AbortSignal): Promise<Runtime>;
  port: string;
  host: string;
  /** Run a worker and the scheduler here (default true). */
  worker: boolean;
  concurrency: string;
  lease: string;
  workerId?: string;
  /**
   * The roles the worker serves (`--roles`); the runtime `open` gives holds only their secrets.
   * Default: every role.
   */
  roles?: readonly WorkRole[];
  /** The runbooks folder, named when its problems are reported at start. */
  runbooksDir: string;
  /** Told once the server listens (tests). */
  onListening?: (address: string) => void;
  /** Stop when this aborts, as on a first signal (tests). Default: SIGINT and SIGTERM. */
  signal?: AbortSignal;
}

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RunwardenError('USAGE', `--port must be a whole number from 0 to 65535; got ${raw}`);
  return port;
}

/** Runs `serve` until a signal (or `o.signal`) stops it; resolves once everything is closed. */
export async function runServe(o: ServeOptions): Promise<void> {
  const port = parsePort(o.port);
  const concurrency = Number(o.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RunwardenError('USAGE', `--concurrency must be a whole number of at least 1, got ${o.concurrency}`);
  const { tryParseDuration, DURATION_HINT } = await import('../runbook/duration.js');
  const leaseMs = tryParseDuration(o.lease);
  if (leaseMs === undefined || leaseMs <= 0) throw new RunwardenError('USAGE', `--lease takes a duration, ${DURATION_HINT}; got ${o.lease}`);

  const stopping = new AbortController();
  let service: Service | undefined;
  let signals = 0;
  const onSignal = () => {
    signals += 1;
    if (signals === 1) stopping.abort();
    else service?.abort();
  };
  const external = o.signal;
  external?.addEventListener('abort', onSignal, { once: true });
  if (!external) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    const rt = await o.open(stopping.signal).catch((err: unknown) => {
      if (stopping.signal.aborted && isRunwardenError(err) && err.code === 'DATABASE_UNAVAILABLE') return null;
      throw err;
    });
    if (!rt) return;
    try {
      const [{ createService }, { agentFromEnv, createExecutor, maxCallsFromEnv }, { advisorFromEnv }, { buildApp }, { durabilityNote }, { ApiMetrics }, { warnRunbookProblems }, { rolesNote }] = await Promise.all([
        import('../service.js'),
        import('../agents/index.js'),
        import('../agents/advisor.js'),
        import('./app.js'),
        import('../store/db.js'),
        import('../metrics/api-metrics.js'),
        import('../runtime.js'),
        import('../orchestrator/roles.js'),
      ]);
      // A broken runbook leaves only itself out (its task classes are refused at intake): say so
      // once, at start, with its problems, as `work` does.
      warnRunbookProblems(rt, o.runbooksDir);
      // One set of metrics for the API and the worker of this process.
      const metrics = new ApiMetrics();
      service = o.worker
        ? createService(rt, {
            executor: createExecutor({ agent: agentFromEnv() }),
            agentCallCap: maxCallsFromEnv(),
            advisor: advisorFromEnv(),
            ...(o.workerId ? { workerId: o.workerId } : {}),
            leaseMs,
            concurrency,
            observer: metrics.observer(),
            onDelivered: (stats) => metrics.delivered(stats),
            ...(o.roles ? { roles: o.roles } : {}),
          })
        : undefined;
      const app = buildApp({
        db: rt.db,
        config: rt.config,
        runbooks: { ...rt.runbooks, unavailable: rt.unavailable },
        masker: rt.masker,
        logger: rt.logger,
        metrics,
        ...(service ? { onAction: service.escalation.onAction } : {}),
      });
      if (stopping.signal.aborted) {
        await app.close();
        return;
      }
      const address = await app.listen({ port, host: o.host });
      process.stderr.write(
        `runwarden serve: listening on ${address}; ${service ? `worker ${service.worker.workerId} (${rolesNote(o.roles)})` : 'no worker (--no-worker)'} on ${durabilityNote(rt.db)}\n`,
      );
      o.onListening?.(address);
      const working = service?.run();
      await new Promise<void>((resolve) => {
        if (stopping.signal.aborted) resolve();
        else stopping.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      rt.logger.info('stopping: no new requests or claims; finishing what is in flight (signal again to abort it)');
      // Stop taking work on both sides at once: the listener (requests in flight finish, new
      // ones get 503) and the worker (attempts in flight are recorded, tasks handed back).
      await Promise.all([app.close(), service?.stop()]);
      await working;
    } finally {
      await rt.close();
    }
  } finally {
    external?.removeEventListener('abort', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
