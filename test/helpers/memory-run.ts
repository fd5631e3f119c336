/**
 * Runs one task through the decision function and a real executor with the task held in
 * memory: the driver's loop without a database, for tests about what actions do (HTTP to the
 * simulated API, a mocked model) rather than about what is stored.
 */
import type { Executor } from '../../src/agents/index.js';
import { silentLogger } from '../../src/log.js';
import { decide } from '../../src/orchestrator/decide.js';
import { readCursor } from '../../src/orchestrator/cursor.js';
import { Draft } from '../../src/orchestrator/draft.js';
import type { Decision, DecideEnv, DecisionEvent, EscalationInfo, OrchestratorEvent, TaskView } from '../../src/orchestrator/types.js';
import type { RawOutcome } from '../../src/orchestrator/outcome.js';
import type { CompiledRunbook } from '../../src/runbook/plan.js';
import { env as testEnv, taskView } from './plan-builder.js';

/** A task as the store keeps it, as far as a decision's commit can change it. */
export type MemoryTask = TaskView & {
  nextAttemptAt: Date | null;
  callbackTokenHash: string | null;
  escalation: EscalationInfo | null;
};

export interface MemoryRun {
  task: MemoryTask;
  /** The last escalation (or notice) a commit carried. */
  escalation?: EscalationInfo;
  events: DecisionEvent[];
  /** `${kind}:${step}` of every attempt the executor ran, in order. */
  performed: string[];
  /** Raw outcomes of the attempts, in order. */
  outcomes: RawOutcome[];
  last: Decision;
}

/**
 * Applies a commit to the task, as the store would: the state, then every field of the patch
 * (a field the patch leaves out keeps its value; one it sets to null is cleared).
 */
export function applyCommit(task: TaskView, d: Decision): MemoryTask {
  const base: MemoryTask = { nextAttemptAt: null, callbackTokenHash: null, escalation: null, ...task };
  const c = d.commit;
  if (!c) return base;
  const next: MemoryTask = { ...base, ...(c.to ? { state: c.to } : {}) };
  const p = c.patch;
  if (p.currentStep !== undefined) next.currentStep = p.currentStep;
  if (p.steps !== undefined) next.steps = structuredClone(p.steps);
  if (p.cursor !== undefined) next.cursor = readCursor(structuredClone(p.cursor), next);
  if (p.retryUsed !== undefined) next.retryUsed = p.retryUsed;
  if (p.nextAttemptAt !== undefined) next.nextAttemptAt = p.nextAttemptAt;
  if (p.callbackTokenHash !== undefined) next.callbackTokenHash = p.callbackTokenHash;
  if (p.escalation !== undefined) next.escalation = p.escalation;
  const applied = new Set(['currentStep', 'steps', 'cursor', 'retryUsed', 'nextAttemptAt', 'callbackTokenHash', 'escalation']);
  const unknown = Object.keys(p).filter((k) => !applied.has(k));
  // The store refuses a patch key it does not know; so does this stand-in for it.
  if (unknown.length) throw new Error(`applyCommit: the patch sets ${unknown.join(', ')}, which the store has no column for`);
  return next;
}

/**
 * Carries a task until it stops (escalated, completed, ...). A scheduled retry is taken at once
 * (the retry's time is the decision function's concern, tested elsewhere).
 */
export async function runInMemory(
  plan: CompiledRunbook,
  input: Record<string, unknown>,
  executor: Executor,
  opts: { env?: Record<string, string>; secrets?: Record<string, string>; decideEnv?: Partial<DecideEnv>; task?: Partial<TaskView> } = {},
): Promise<MemoryRun> {
  const denv = (): DecideEnv => testEnv(new Date(), { env: opts.env ?? {}, secrets: opts.secrets ?? {}, ...opts.decideEnv });
  let task: MemoryTask = applyCommit(taskView(plan, { input, taskClass: plan.taskClasses[0] ?? 'test.run', deadlineAt: new Date(Date.now() + 60_000), ...opts.task }), { next: { type: 'release' } });
  let event: OrchestratorEvent = { kind: 'claimed', openAttempts: [] };
  const events: DecisionEvent[] = [];
  const performed: string[] = [];
  const outcomes: RawOutcome[] = [];
  let escalation: EscalationInfo | undefined;
  const stop = new AbortController();
  for (let i = 0; i < 100; i++) {
    const d = decide(task, plan, event, denv());
    task = applyCommit(task, d);
    events.push(...(d.commit?.events ?? []));
    if (d.commit?.escalation) escalation = d.commit.escalation;
    if (d.next.type === 'release') {
      if (task.state !== 'retry_scheduled') return { task, ...(escalation ? { escalation } : {}), events, performed, outcomes, last: d };
      task = { ...task, state: 'running' };
      event = { kind: 'claimed', openAttempts: [] };
      continue;
    }
    if (d.next.type === 'sleep') {
      event = { kind: 'polled' };
      continue;
    }
    const { attempt, spec } = d.next;
    const step = plan.steps[plan.stepIndex[attempt.step]!]!;
    performed.push(`${attempt.kind}:${attempt.step}`);
    const started = performance.now();
    const outcome = await executor.run(spec, {
      expr: new Draft(task, plan, denv()).context(step),
      runbook: plan,
      step,
      attempt,
      signal: stop.signal,
      ...(d.next.timeoutMs !== undefined ? { timeoutMs: d.next.timeoutMs } : {}),
      logger: silentLogger,
    });
    outcomes.push(outcome);
    event = { kind: 'finished', attempt, outcome, durationMs: Math.round(performance.now() - started) };
  }
  throw new Error('the task did not stop within 100 decisions');
}

/** The data of every event of a type, in order. */
export function eventsOf(run: { events: DecisionEvent[] }, type: DecisionEvent['type']): Record<string, unknown>[] {
  return run.events.filter((e) => e.type === type).map((e) => e.data ?? {});
}
