/**
 * Recorded ledgers for the decision function: each fixture is one or more runbooks (their YAML
 * text) and a sequence of decisions, each with the exact input the decision saw (the task as stored, the
 * event, the clock, the random numbers and tokens it drew) and the exact Decision it returned.
 * `replay.test.ts` feeds every recorded input through `decide` again and compares, so any change
 * in what the orchestrator decides shows up as a named decision of a named scenario.
 *
 * Fixtures are JSON with dates as ISO strings. The task is kept as the store keeps it (the cursor
 * as raw JSON), so a fixture recorded by an older version is also a task written by that version.
 */
import { compileRunbookText } from '../../../src/runbook/load.js';
import type { CompiledRunbook } from '../../../src/runbook/plan.js';
import { readCursor } from '../../../src/orchestrator/cursor.js';
import { decide } from '../../../src/orchestrator/decide.js';
import type { Decision, DecideEnv, OpenAttempt, OrchestratorEvent, TaskView } from '../../../src/orchestrator/types.js';
import type { RawOutcome } from '../../../src/orchestrator/outcome.js';
import type { StepRecord } from '../../../src/store/tasks.js';
import type { TaskState } from '../../../src/lifecycle/vocabulary.js';

/** A task as a decision reads it, in JSON: what the `tasks` row holds of it. */
export interface StoredTask {
  id: string;
  externalRef: string | null;
  taskClass: string;
  requestedBy: string | null;
  input: Record<string, unknown>;
  state: TaskState;
  currentStep: string | null;
  steps: Record<string, StepRecord>;
  cursor: Record<string, unknown>;
  retryUsed: number;
  retryLimit: number;
  deadlineAt: string | null;
  cancelRequested: boolean;
  /** The stored escalation's kind, when the task has one (the cursor reader may need it). */
  escalationKind?: string | null;
}

export type StoredEvent =
  | { kind: 'claimed'; openAttempts: (Omit<OpenAttempt, 'startedAt'> & { startedAt: string })[] }
  | { kind: 'finished'; attempt: { step: string; kind: OpenAttempt['kind']; attempt: number; idempotencyKey: string | null }; outcome: RawOutcome; durationMs: number }
  | { kind: 'polled' };

export interface StoredEnv {
  now: string;
  /** The random numbers the decision drew, in order. */
  random: number[];
  /** The tokens the decision made, in order. */
  tokens: string[];
  env: Record<string, string>;
  secrets: Record<string, string>;
  stopping?: boolean;
  agentCallCap?: number;
}

export interface RecordedDecision {
  label: string;
  /** The runbook (a key of the fixture's `runbooks`). */
  runbook: string;
  task: StoredTask;
  event: StoredEvent;
  env: StoredEnv;
  /** The Decision as JSON (dates as ISO strings, undefined fields absent). */
  decision: unknown;
}

export interface Fixture {
  name: string;
  about: string;
  /** The YAML text of each runbook the decisions ran, by runbook id. */
  runbooks: Record<string, string>;
  decisions: RecordedDecision[];
}

/** How credentials are hashed in recorded decisions: visible, deterministic. */
export const hashToken = (t: string): string => `hash(${t})`;

export function compileFixtureRunbook(name: string, text: string): CompiledRunbook {
  const { runbook, problems } = compileRunbookText(text, `replay/${name}.yaml`);
  if (!runbook) throw new Error(`fixture ${name}: the runbook does not compile:\n${problems.map((p) => `${p.line}:${p.col}: ${p.path}: ${p.message}`).join('\n')}`);
  return runbook;
}

/** The view a decision reads, from the stored task. */
export function viewOf(t: StoredTask): TaskView {
  return {
    id: t.id,
    externalRef: t.externalRef,
    taskClass: t.taskClass,
    requestedBy: t.requestedBy,
    input: structuredClone(t.input),
    state: t.state,
    currentStep: t.currentStep,
    steps: structuredClone(t.steps),
    cursor: readCursor(t.cursor, { state: t.state, currentStep: t.currentStep, escalationKind: t.escalationKind ?? null }),
    retryUsed: t.retryUsed,
    retryLimit: t.retryLimit,
    deadlineAt: t.deadlineAt ? new Date(t.deadlineAt) : null,
    cancelRequested: t.cancelRequested,
  };
}

export function eventOf(e: StoredEvent): OrchestratorEvent {
  if (e.kind === 'claimed') return { kind: 'claimed', openAttempts: e.openAttempts.map((o) => ({ ...o, startedAt: new Date(o.startedAt) })) };
  return structuredClone(e) as OrchestratorEvent;
}

/**
 * The env a recorded decision ran with. Randomness and tokens come from the recording: drawing
 * more than was recorded throws, and `drawn()` tells whether fewer were drawn.
 */
export function envOf(e: StoredEnv): { env: DecideEnv; drawn: () => { random: number; tokens: number } } {
  let r = 0;
  let k = 0;
  const env: DecideEnv = {
    now: new Date(e.now),
    random: () => {
      const v = e.random[r];
      if (v === undefined) throw new Error(`the decision drew random number ${r + 1}; the recording has ${e.random.length}`);
      r += 1;
      return v;
    },
    newToken: () => {
      const v = e.tokens[k];
      if (v === undefined) throw new Error(`the decision made token ${k + 1}; the recording has ${e.tokens.length}`);
      k += 1;
      return v;
    },
    hashToken,
    env: { ...e.env },
    secrets: { ...e.secrets },
    ...(e.stopping !== undefined ? { stopping: e.stopping } : {}),
    ...(e.agentCallCap !== undefined ? { agentCallCap: e.agentCallCap } : {}),
  };
  return { env, drawn: () => ({ random: r, tokens: k }) };
}

/**
 * A recorded decision's JSON with its commit's cursor read as the store would read it back: a
 * cursor recorded in an earlier shape is compared by what it means now (`readCursor` upgrades it
 * for the task as the commit leaves it), so a fixture is also a task in flight across an upgrade.
 */
export function expectedJson(rec: RecordedDecision): unknown {
  const d = structuredClone(rec.decision) as { commit?: { to?: TaskState; patch: Record<string, unknown> } };
  const c = d.commit;
  if (!c || c.patch.cursor === undefined) return d;
  const currentStep = 'currentStep' in c.patch ? (c.patch.currentStep as string | null) : rec.task.currentStep;
  const escalation = c.patch.escalation as { kind?: string } | null | undefined;
  const escalationKind = escalation !== undefined ? escalation?.kind ?? null : rec.task.escalationKind ?? null;
  c.patch.cursor = readCursor(c.patch.cursor, { state: c.to ?? rec.task.state, currentStep, escalationKind });
  return JSON.parse(JSON.stringify(d));
}

/** A Decision as the JSON a fixture stores. */
export function decisionJson(d: Decision): unknown {
  return JSON.parse(JSON.stringify(d));
}

export { decide };
