/**
 * runwarden itself: tasks/s and steps/s of the 1-step and 3-step no-op runbooks at a worker
 * concurrency, per-step overhead (the time between one action's end and the next one's start,
 * which holds the checkpoint and the decision, and for the last step until the task is
 * released), and submit to first action with an idle worker waiting.
 */
import { createExecutor } from '../../src/agents/index.js';
import { silentLogger } from '../../src/log.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { Worker } from '../../src/orchestrator/worker.js';
import type { Db } from '../../src/store/db.js';
import { actionTimes, CLASSES, clearTasks, percentile, plugins, runbooks, seedTasks } from './common.js';

const executor = createExecutor({ plugins });

export interface RunResult {
  tasks: number;
  completed: number;
  ms: number;
  tasksPerS: number;
  stepsPerS: number;
  overhead?: { p50: number; p99: number; samples: number };
}

/** Carries `n` queued tasks of a `steps`-step runbook through one worker of `concurrency`. */
export async function runTasks(db: Db, steps: 1 | 3, n: number, concurrency: number, o: { overhead?: boolean } = {}): Promise<RunResult> {
  await clearTasks(db);
  await seedTasks(db, CLASSES[steps], n);
  const released = new Map<string, number>();
  actionTimes.byTask.clear();
  actionTimes.enabled = Boolean(o.overhead);
  const worker = new Worker({
    db,
    runbooks,
    executor,
    logger: silentLogger,
    concurrency,
    ...(o.overhead ? { onTaskReleased: (t) => released.set(t.id, performance.now()) } : {}),
  });
  const started = performance.now();
  await worker.runUntilIdle();
  const ms = performance.now() - started;
  actionTimes.enabled = false;
  const [row] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tasks WHERE state = 'completed'");
  const completed = Number(row?.n ?? 0);
  const result: RunResult = { tasks: n, completed, ms, tasksPerS: (completed / ms) * 1000, stepsPerS: ((completed * steps) / ms) * 1000 };
  if (o.overhead) {
    const gaps: number[] = [];
    for (const [id, times] of actionTimes.byTask) {
      for (let i = 1; i < times.length; i++) gaps.push(times[i]!.start - times[i - 1]!.end);
      const last = times[times.length - 1];
      const end = released.get(id);
      if (last && end !== undefined) gaps.push(end - last.end);
    }
    result.overhead = { p50: percentile(gaps, 50), p99: percentile(gaps, 99), samples: gaps.length };
  }
  actionTimes.byTask.clear();
  return result;
}

/**
 * Submit to first action: an idle worker waits (LISTEN where it can), a task is submitted, and
 * the time until its action starts is taken; `n` times, one after another, at uneven spacing so
 * a poll interval cannot line up with the submissions.
 */
export async function submitLatency(db: Db, n: number): Promise<{ p50: number; p99: number; max: number }> {
  await clearTasks(db);
  const worker = new Worker({ db, runbooks, executor, logger: silentLogger, concurrency: 4 });
  const running = worker.run();
  const samples: number[] = [];
  try {
    // Let the worker reach its idle wait first.
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const { task } = await submitTask(db, runbooks, { taskClass: CLASSES[1], input: {} }, { now: new Date(), env: {}, secrets: {} });
      const deadline = t0 + 5000;
      while (!actionTimes.firstStart.has(task.id) && performance.now() < deadline) await new Promise((r) => setImmediate(r));
      const at = actionTimes.firstStart.get(task.id);
      samples.push((at ?? performance.now()) - t0);
      actionTimes.firstStart.delete(task.id);
      await new Promise((r) => setTimeout(r, 3 + ((i * 7) % 11)));
    }
  } finally {
    await worker.stop();
    await running;
  }
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples) };
}
