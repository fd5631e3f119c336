/**
 * `runwarden demo` as a library: start the simulated operations API on loopback, submit the demo
 * tasks from the example runbooks, run one worker until idle with a progress view, print the
 * handover packet of the task that failed verification, and the commands to try next. With
 * `keep`, the simulated API and a worker then stay up until the signal (keep-running.ts).
 *
 * The deployment config is built here in code (the API's URL and token, a JSON-lines file sink)
 * so the demo needs nothing but `npm install`, and it never reads the user's runwarden.yaml or
 * DATABASE_URL: demo tasks must not land in a real deployment's database or pager.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createExecutor } from '../agents/index.js';
import { deploymentConfig } from '../config/index.js';
import { PacketSchema } from '../escalation/packet-schema.js';
import { renderPacketMarkdown } from '../escalation/render-markdown.js';
import type { Logger } from '../log.js';
import { submitTask } from '../orchestrator/intake.js';
import { loadRunbooksOrThrow } from '../runtime.js';
import { createService } from '../service.js';
import { createMasker } from '../secrets/mask.js';
import { startSim } from '../sim/index.js';
import { isPostgresUrl, MEMORY_TARGET, openDb, type Db } from '../store/db.js';
import { latestPacket } from '../store/packets.js';
import { getTask, listEvents, listTasks, type TaskRow } from '../store/tasks.js';
import { keepRunning } from './keep-running.js';
import { nextSteps, shellQuote, tryNextHeading, type NextStepTasks } from './next-steps.js';
import { packetsFileFor, resetDemoData } from './demo-data.js';
import { intro, keepHints, SUBMITTED } from './messages.js';
import { progressView, type ProgressOutput, type TaskProgress } from './progress.js';
import { DEMO_SCENARIOS, type DemoScenario } from './scenarios.js';

/** The example runbooks shipped with the package, beside `src/` and `dist/` (never cwd). */
export const EXAMPLE_RUNBOOKS_DIR = fileURLToPath(new URL('../../runbooks', import.meta.url));

/** The demo's default database, relative to the working directory. */
export const DEMO_DEFAULT_DB = './.runwarden/db';

export { packetsFileFor, resetDemoData };

export interface DemoOptions {
  /** Database target: a PGlite directory or a PostgreSQL URL. Default DEMO_DEFAULT_DB. */
  db?: string;
  /** Runbooks folder. Default EXAMPLE_RUNBOOKS_DIR. */
  runbooks?: string;
  /** Delete the embedded database (and the demo's packet file) first. Default false. */
  reset?: boolean;
  /** Where the demo writes. */
  out: ProgressOutput;
  logger: Logger;
  /** Which commands the program has, for the "try next" list. Default: all. */
  has?: (command: string) => boolean;
  /** How often the progress view reads the ledger, in ms. Default 150. */
  pollMs?: number;
  /**
   * Stops the worker early (Ctrl-C), or ends `keep`: the tasks in flight are handed back,
   * nothing half-recorded.
   */
  signal?: AbortSignal;
  /**
   * After the run, keep the simulated API and a worker going until `signal` aborts, printing a
   * line per state change, so operator actions from another terminal carry tasks on. Default false.
   */
  keep?: boolean;
}

export interface DemoResult {
  /** Each scenario with its task as it ended. */
  tasks: Array<{ scenario: DemoScenario; task: TaskRow }>;
  /** Scenarios whose task did not end as the demo meant it to (empty when all went to plan). */
  unexpected: Array<{ scenario: DemoScenario; task: TaskRow }>;
  /** The JSON-lines file the packets were delivered to. */
  packetsFile: string;
  elapsedMs: number;
}

/** A tag for external references that differs between runs: base36 seconds and two random chars. */
function runTag(): string {
  return `${Math.floor(Date.now() / 1000).toString(36)}${randomBytes(2).toString('hex').slice(0, 2)}`;
}

/** Runs the demo; writes the intro, progress, packet and next steps to `o.out`. */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const target = o.db ?? DEMO_DEFAULT_DB;
  const runbooksDir = o.runbooks ?? EXAMPLE_RUNBOOKS_DIR;
  const out = o.out;
  if (o.reset) await resetDemoData(target);
  const token = `demo_${randomBytes(16).toString('hex')}`;
  // Creating the embedded database takes seconds on first use: it starts at once and the intro
  // is written meanwhile, so the wait is not a blank screen.
  const opening = openDb(target, { logger: o.logger });
  const [rbs, simmed] = await Promise.allSettled([loadRunbooksOrThrow(runbooksDir), startSim({ token })]);
  if (simmed.status === 'fulfilled' && rbs.status === 'fulfilled') out.write(intro(simmed.value.url, target, out.tty));
  const [opened] = await Promise.allSettled([opening]);
  if (rbs.status === 'rejected' || simmed.status === 'rejected' || opened.status === 'rejected') {
    if (simmed.status === 'fulfilled') await simmed.value.close();
    if (opened.status === 'fulfilled') await opened.value.close();
    throw [rbs, simmed, opened].find((r) => r.status === 'rejected')!.reason;
  }
  const runbooks = rbs.value;
  const sim = simmed.value;
  const db = opened.value;
  const packetsFile = packetsFileFor(target);
  const config = deploymentConfig({
    env: { OPS_API_URL: sim.url },
    secrets: { OPS_API_TOKEN: token },
    sinks: { archive: { name: 'archive', type: 'file', path: packetsFile } },
    routes: { default: ['archive'] },
  });
  const masker = createMasker(config.secretValues());
  try {
    const tag = runTag();
    const tracked: Array<TaskProgress & { scenario: DemoScenario }> = [];
    for (const scenario of DEMO_SCENARIOS) {
      scenario.arrange?.(sim);
      const { task } = await submitTask(db, runbooks, scenario.request(tag), { now: new Date(), env: { ...config.env }, secrets: { ...config.secrets } });
      tracked.push({ scenario, task, fresh: [] });
    }

    const seen = new Map<string, number>();
    /** Reads each task's new ledger events and its row through `dbh`, for a view to show. */
    const readLedger = async (dbh: Db, list: TaskProgress[]) => {
      for (const t of list) {
        const events = await listEvents(dbh, t.task.id);
        const from = seen.get(t.task.id) ?? 0;
        t.fresh = events.filter((e) => e.seq > from);
        seen.set(t.task.id, events.at(-1)?.seq ?? from);
        t.task = (await getTask(dbh, t.task.id)) ?? t.task;
      }
    };
    const view = progressView(out, DEMO_SCENARIOS, started);
    const refresh = async () => {
      await readLedger(db, tracked);
      view.update(tracked);
    };
    await refresh();

    /** A worker set up as the demo's: its config, escalation hooks, outbox delivery and scheduler (service.ts). */
    const demoWorker = (dbh: Db) =>
      createService(
        { db: dbh, config, runbooks, masker, logger: o.logger },
        // Every demo task at once: the run takes as long as the slowest story, not their sum.
        { executor: createExecutor(), concurrency: DEMO_SCENARIOS.length, pollMs: 250 },
      );
    const worker = demoWorker(db);
    const onAbort = () => void worker.stop();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    // The view reads the ledger on its own timer: one refresh at a time, never piling up.
    let polling = true;
    const poller = (async () => {
      while (polling) {
        await new Promise((r) => setTimeout(r, o.pollMs ?? 150));
        if (polling) await refresh();
      }
    })();
    try {
      await worker.runUntilIdle();
    } finally {
      polling = false;
      await poller;
      o.signal?.removeEventListener('abort', onAbort);
    }
    await refresh();

    const tasks = tracked.map(({ scenario, task }) => ({ scenario, task }));
    const byState = (s: TaskRow['state']) => tasks.find((t) => t.task.state === s && t.scenario.expect === s)?.task.id;
    const escalated = byState('escalated');
    if (escalated) {
      const packet = await latestPacket(db, escalated);
      if (packet) {
        out.write(`\nThe packet the unhealthy restart handed over (also in ${packetsFile}):\n\n`);
        out.write(renderPacketMarkdown(PacketSchema.parse(packet.body)));
      }
    }
    // Judged on the demo's own run: what an operator does with --keep afterwards is theirs.
    const unexpected = tasks.filter((t) => t.task.state !== t.scenario.expect);
    const keep = Boolean(o.keep) && !o.signal?.aborted;
    const recovered: string[] = [];
    if (keep) {
      for (const s of DEMO_SCENARIOS) {
        s.recover?.(sim);
        if (s.recovered) recovered.push(s.recovered);
      }
    }

    const ids: NextStepTasks = {};
    const put = (k: keyof NextStepTasks, id: string | undefined) => id && (ids[k] = id);
    put('completed', byState('completed'));
    put('rejected', byState('rejected'));
    put('escalated', escalated);
    put('rolledBack', byState('rolled_back'));
    put('awaiting', byState('awaiting_approval'));
    const flags: string[] = [];
    if (o.db !== undefined && resolve(o.db) !== resolve(DEMO_DEFAULT_DB)) flags.push(`--db ${shellQuote(o.db)}`);
    // The commands load runbooks from ./runbooks by default; elsewhere they need to be told.
    if (resolve(runbooksDir) !== resolve('runbooks')) flags.push(`--runbooks ${shellQuote(runbooksDir)}`);
    out.write(tryNextHeading(target, keep));
    out.write(nextSteps({ tasks: ids, flags, has: o.has ?? (() => true), keep }));
    if (!keep) {
      out.write(
        `\nThe simulated API stopped with the demo: a task you approve or resume waits in the queue for a worker.\n` +
          `Run the demo with --keep to keep the simulated API and a worker running, and watch such a task carry on.\n`,
      );
      return { tasks, unexpected, packetsFile, elapsedMs: Date.now() - started };
    }

    out.write(keepHints(sim.url, recovered, db.kind === 'pglite' && db.target !== MEMORY_TARGET));
    // The demo's rejected task never moves again and its line is shown; a task submitted while
    // the demo runs is picked up by the worker, so it gets lines too.
    const live: TaskProgress[] = tracked.filter((t) => t.task.state !== 'rejected');
    // Plain lines even on a terminal: in-place redraws would overwrite the hints above them.
    const liveView = progressView({ write: (text) => out.write(text), tty: false, color: out.color }, [...DEMO_SCENARIOS, SUBMITTED], started);
    await keepRunning({
      db,
      worker: demoWorker,
      async refresh(dbh) {
        for (const task of await listTasks(dbh, { limit: 20 })) {
          if (task.createdAt.getTime() >= started && !tracked.some((t) => t.task.id === task.id) && !live.some((t) => t.task.id === task.id)) {
            live.push({ scenario: SUBMITTED, task, fresh: [] });
          }
        }
        await readLedger(dbh, live);
        liveView.update(live);
      },
      ready: () => out.write(`\nready: the simulated API and a worker keep running until Ctrl-C\n\n`),
      signal: o.signal ?? new AbortController().signal,
      logger: o.logger,
    });
    return { tasks, unexpected, packetsFile, elapsedMs: Date.now() - started };
  } finally {
    await db.close();
    await sim.close();
  }
}
