/**
 * `runwarden work`: run a worker until stopped, or `--until-idle`. The worker is put together by
 * the composition root (service.ts), as the demo's and `serve`'s are. A database that is down at
 * start is waited for (said once), as one that goes away later is.
 */
import type { Command } from 'commander';
import type { Logger } from '../../log.js';
import type { Service } from '../../service.js';
import type { TaskRow } from '../../store/tasks.js';
import { action, commonOptions, printJson, rolesOption, ROLES_HELP, runtimeFor, withCommon } from '../common.js';

export function register(program: Command): void {
  withCommon(
    program
      .command('work')
      .description('run a worker: claim due tasks and carry them to a verified end, or stop them safely')
      .option('--until-idle', 'return once no task is queued, running, retry_scheduled or compensating')
      .option('--concurrency <n>', 'tasks driven at once', '4')
      .option('--worker-id <id>', 'this worker\'s name in leases and the ledger')
      .option('--lease <duration>', 'how long a claim holds without renewal (a duration: 30s, 2m)', '30s')
      .option('--roles <list>', ROLES_HELP),
  ).action(
    action(async (opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const { RunwardenError, isRunwardenError } = await import('../../errors.js');
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) {
        throw new RunwardenError('USAGE', `--concurrency must be a whole number of at least 1, got ${String(opts.concurrency)}`);
      }
      const { tryParseDuration, DURATION_HINT } = await import('../../runbook/duration.js');
      const leaseMs = tryParseDuration(String(opts.lease));
      if (leaseMs === undefined || leaseMs <= 0) {
        throw new RunwardenError('USAGE', `--lease takes a duration, ${DURATION_HINT}; got ${String(opts.lease)}`);
      }
      const [{ agentFromEnv, createExecutor, maxCallsFromEnv }, { advisorFromEnv }, { createService }, { durabilityNote }, { warnRunbookProblems }, { rolesNote }] = await Promise.all([
        import('../../agents/index.js'),
        import('../../agents/advisor.js'),
        import('../../service.js'),
        import('../../store/db.js'),
        import('../../runtime.js'),
        import('../../orchestrator/roles.js'),
      ]);
      const roles = await rolesOption(opts.roles);
      // Signals are handled from the start: a worker waiting for its database stops on Ctrl-C too.
      const starting = new AbortController();
      let service: Service | undefined;
      let logger: Logger | undefined;
      let signals = 0;
      const onSignal = () => {
        signals += 1;
        starting.abort();
        if (!service) return;
        if (signals === 1) {
          logger?.info('stopping: finishing the attempts in flight (signal again to abort them)');
          void service.stop();
        } else {
          service.abort();
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const rt = await runtimeFor(common, 'run', { waitForDatabase: { signal: starting.signal }, roles }).catch((err: unknown) => {
          // Stopped while waiting for the database: a clean stop, not a failure.
          if (starting.signal.aborted && isRunwardenError(err) && err.code === 'DATABASE_UNAVAILABLE') return null;
          throw err;
        });
        if (!rt) return;
        logger = rt.logger;
        try {
          // A broken runbook leaves only itself out: say so once, at start, with its problems.
          warnRunbookProblems(rt, common.runbooks);
          service = createService(rt, {
            // Agents are on when RUNWARDEN_LLM_MODEL is set; bad model settings stop the worker here, at start.
            executor: createExecutor({ agent: agentFromEnv() }),
            agentCallCap: maxCallsFromEnv(),
            // With a model configured, it may reword each packet's why once, before the packet's first send.
            advisor: advisorFromEnv(),
            ...(opts.workerId ? { workerId: String(opts.workerId) } : {}),
            leaseMs,
            concurrency,
            roles,
            // On a terminal, a line per task as it leaves this worker: what a person watching wants.
            ...(process.stdout.isTTY && !common.json ? { onTaskReleased: (t: TaskRow) => process.stdout.write(`${progressLine(t)}\n`) } : {}),
          });
          if (signals > 0) return; // stopped while the database was being opened
          const worker = service.worker;
          // Where the work is kept and what survives a crash: the line a person starting a worker reads.
          process.stderr.write(`runwarden work: worker ${worker.workerId} (${rolesNote(roles)}) on ${durabilityNote(rt.db)}\n`);
          const stats = opts.untilIdle ? await service.runUntilIdle() : await service.run();
          if (common.json) printJson({ workerId: worker.workerId, ...stats });
          else if (opts.untilIdle) process.stdout.write(`worker ${worker.workerId}: ${stats.claimed} claim(s), idle\n`);
        } finally {
          await rt.close();
        }
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }),
  );
}

/** `18:02:11  tsk_…  INC-4211  service-restart  escalated (verification_failed at restart)` */
export function progressLine(t: TaskRow, now: Date = new Date()): string {
  const time = now.toISOString().slice(11, 19);
  const why = t.escalation && ['escalated', 'awaiting_approval', 'partially_completed'].includes(t.state) ? ` (${t.escalation.kind}${t.escalation.step ? ` at ${t.escalation.step}` : ''})` : '';
  const next = t.state === 'retry_scheduled' && t.nextAttemptAt ? ` (next try ${t.nextAttemptAt.toISOString().slice(11, 19)})` : '';
  return [time, t.id, t.externalRef ?? '-', t.runbookId ?? t.taskClass, `${t.state}${why}${next}`].join('  ');
}
