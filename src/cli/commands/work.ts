/** `runwarden work`: run a worker until stopped, or `--until-idle`. */
import type { Command } from 'commander';
import { agentFromEnv, createExecutor, maxCallsFromEnv } from '../../agents/index.js';
import { parseDuration } from '../../runbook/duration.js';
import { Worker } from '../../orchestrator/worker.js';
import { openRuntime } from '../../runtime.js';
import { RunwardenError } from '../../errors.js';
import { action, commonOptions, printJson, withCommon } from '../common.js';
import type { TaskRow } from '../../store/tasks.js';
import { durabilityNote } from '../../store/db.js';
import { escalationHooks } from '../../escalation/hooks.js';
import { createDeliverer } from '../../escalation/outbox-delivery.js';
import { advisorFromEnv } from '../../agents/advisor.js';

export function register(program: Command): void {
  withCommon(
    program
      .command('work')
      .description('run a worker: claim due tasks and carry them to a verified end, or stop them safely')
      .option('--until-idle', 'return once no task is queued, running, retry_scheduled or compensating')
      .option('--concurrency <n>', 'tasks driven at once', '4')
      .option('--worker-id <id>', 'this worker\'s name in leases and the ledger')
      .option('--lease <duration>', 'how long a claim holds without renewal', '30s'),
  ).action(
    action(async (opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) {
        throw new RunwardenError('USAGE', `--concurrency must be a whole number of at least 1, got ${String(opts.concurrency)}`);
      }
      const leaseMs = parseDuration(String(opts.lease));
      const rt = await openRuntime(common);
      // Packets are written in the transactions that stop tasks; the outbox is delivered between
      // idle looks and once more before --until-idle returns (what is not due yet waits).
      const escalation = escalationHooks(rt);
      // With a model configured, it may reword each packet's why once, before the packet's first send.
      const delivery = createDeliverer({ db: rt.db, config: rt.config, masker: rt.masker, logger: rt.logger, advisor: advisorFromEnv() });
      const worker = new Worker({
        db: rt.db,
        runbooks: rt.runbooks,
        // Agents are on when RUNWARDEN_LLM_MODEL is set; bad model settings stop the worker here, at start.
        executor: createExecutor({ agent: agentFromEnv() }),
        agentCallCap: maxCallsFromEnv(),
        logger: rt.logger,
        ...(opts.workerId ? { workerId: String(opts.workerId) } : {}),
        leaseMs,
        concurrency,
        env: { ...rt.config.env },
        secrets: { ...rt.config.secrets },
        mask: (v) => rt.masker.maskValue(v),
        hooks: escalation.hooks,
        // On a terminal, a line per task as it leaves this worker: what a person watching wants.
        ...(process.stdout.isTTY && !common.json ? { onTaskReleased: (t: TaskRow) => process.stdout.write(`${progressLine(t)}\n`) } : {}),
        // A delivery problem (the database blinked) must not stop the worker: the rows wait.
        onIdle: () => delivery.deliver().then(
          () => undefined,
          (err: unknown) => rt.logger.warn({ err }, 'outbox delivery failed; the packets stay queued'),
        ),
      });
      // Where the work is kept and what survives a crash: the line a person starting a worker reads.
      process.stderr.write(`runwarden work: worker ${worker.workerId} on ${durabilityNote(rt.db)}\n`);
      let signals = 0;
      const onSignal = () => {
        signals += 1;
        if (signals === 1) {
          rt.logger.info('stopping: finishing the attempts in flight (signal again to abort them)');
          void worker.stop();
        } else {
          worker.abortAll();
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const stats = opts.untilIdle ? await worker.runUntilIdle() : await worker.run();
        if (common.json) printJson({ workerId: worker.workerId, ...stats });
        else if (opts.untilIdle) process.stdout.write(`worker ${worker.workerId}: ${stats.claimed} claim(s), idle\n`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await rt.close();
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
