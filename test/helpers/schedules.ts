/**
 * Schedules in tests: the scheduled fixture runbooks (test/fixtures/schedules), a runbook set
 * holding only the ones a test names (a scheduler handles every schedule it is given, and each
 * test keeps to its own), a scheduler on a fake clock, and reads of what it made.
 */
import { fileURLToPath } from 'node:url';
import { deploymentConfig, type DeploymentConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import type { Clock } from '../../src/orchestrator/clock.js';
import type { EmitContext } from '../../src/escalation/emit.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { loadRunbookSet } from '../../src/runbook/load.js';
import type { RunbookSet } from '../../src/runbook/plan.js';
import { Scheduler, type SchedulerOptions } from '../../src/scheduler/index.js';
import { createMasker } from '../../src/secrets/mask.js';
import type { Db } from '../../src/store/db.js';
import { listFires, listScheduleEvents } from '../../src/store/schedules.js';
import type { TaskRow } from '../../src/store/tasks.js';
import { mapTaskRow } from '../../src/store/tasks.js';
import { OPS_TOKEN, testWorker } from './harness.js';

export const SCHEDULE_FIXTURES = fileURLToPath(new URL('../fixtures/schedules', import.meta.url));

let all: RunbookSet | undefined;

/** The scheduled fixtures named (all of them when none is). */
export async function scheduleRunbooks(...ids: string[]): Promise<RunbookSet> {
  if (!all) {
    const { set, problems } = await loadRunbookSet(SCHEDULE_FIXTURES);
    if (problems.length) throw new Error(`schedule fixtures do not validate:\n${problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`).join('\n')}`);
    all = set;
  }
  const runbooks = ids.length ? ids.map((id) => all!.byId.get(id) ?? fail(`no fixture ${id}`)) : all.runbooks;
  return { runbooks, byId: new Map(runbooks.map((r) => [r.id, r])), byTaskClass: new Map(runbooks.flatMap((r) => r.taskClasses.map((c) => [c, r] as const))) };
}

function fail(message: string): never {
  throw new Error(message);
}

export interface ScheduleWorld {
  runbooks: RunbookSet;
  config: DeploymentConfig;
  env: Record<string, string>;
  secrets: Record<string, string>;
  emit: EmitContext;
  scheduler(o?: Partial<SchedulerOptions>): Scheduler;
  /** A worker that runs the tasks there are until idle (no sleeps on a fake clock: the fixtures make none). */
  work(): Promise<void>;
}

/** What a scheduler and a worker for these runbooks need, on `db` at `clock`. */
export function scheduleWorld(db: Db, runbooks: RunbookSet, clock: Clock, o: { simUrl?: string; config?: DeploymentConfig; env?: Record<string, string> } = {}): ScheduleWorld {
  const env = { OPS_API_URL: o.simUrl ?? 'http://127.0.0.1:9', ...(o.env ?? {}) };
  const secrets = { OPS_API_TOKEN: OPS_TOKEN };
  const config = o.config ?? deploymentConfig({ secrets });
  const masker = createMasker(Object.values(secrets));
  return {
    runbooks,
    config,
    env,
    secrets,
    emit: { config, masker },
    scheduler: (so = {}) => new Scheduler({ db, runbooks, env, secrets, emit: { config, masker }, logger: silentLogger, clock, ...so }),
    async work() {
      await testWorker({ db, runbooks, clock, env, secrets, masker }, { hooks: escalationHooks({ config, runbooks, masker }).hooks, pollMs: 20 }).runUntilIdle();
    },
  };
}

/** The tasks a schedule made, oldest first (through its fire rows). */
export async function scheduledTasks(db: Db, runbookId: string): Promise<TaskRow[]> {
  const rows = await db.query<Record<string, unknown>>('SELECT t.* FROM tasks t JOIN schedule_fires f ON f.task_id = t.id WHERE f.runbook_id = $1 ORDER BY t.created_at, t.id', [runbookId]);
  return rows.map(mapTaskRow);
}

export { listFires, listScheduleEvents };
