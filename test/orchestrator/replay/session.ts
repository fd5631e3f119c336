/**
 * Records a fixture: a scripted task carried through the decision function, each decision kept
 * with the exact input it saw. The script plays the worker (claims, attempt outcomes, crashes,
 * polls) and the operators (edits of the stored task, as the operator actions write them).
 * Deterministic: a fixed clock the script moves, a seeded random source, counted tokens.
 */
import type { Decision, OpenAttempt } from '../../../src/orchestrator/types.js';
import type { RawOutcome } from '../../../src/orchestrator/outcome.js';
import type { CompiledRunbook } from '../../../src/runbook/plan.js';
import type { TaskState } from '../../../src/lifecycle/vocabulary.js';
import {
  compileFixtureRunbook,
  type Fixture,
  decide,
  decisionJson,
  envOf,
  eventOf,
  viewOf,
  type RecordedDecision,
  type StoredEnv,
  type StoredEvent,
  type StoredTask,
} from './kit.js';

export const T0 = new Date('2026-03-02T09:00:00.000Z');

/** mulberry32: a small seeded generator, so recordings are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.round((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 1e6) / 1e6;
  };
}

export interface SessionOptions {
  input?: Record<string, unknown>;
  task?: Partial<StoredTask>;
  env?: Record<string, string>;
  secrets?: Record<string, string>;
  seed?: number;
}

const CLAIMABLE: TaskState[] = ['queued', 'retry_scheduled', 'waiting_callback'];

export class Session {
  readonly plan: CompiledRunbook;
  task: StoredTask;
  now = new Date(T0);
  /** When the stored task is next due (retry, wait timeout), as the last commit set it. */
  nextAttemptAt: Date | null = null;
  last: Decision | undefined;
  private readonly decisions: RecordedDecision[] = [];
  private readonly rng: () => number;
  private tokenNo = 0;
  private readonly env: Record<string, string>;
  private readonly secrets: Record<string, string>;

  constructor(
    readonly name: string,
    readonly about: string,
    readonly runbook: string,
    opts: SessionOptions = {},
  ) {
    this.plan = compileFixtureRunbook(name, runbook);
    this.rng = seeded(opts.seed ?? 7);
    this.env = opts.env ?? { OPS_API_URL: 'http://ops.invalid' };
    this.secrets = opts.secrets ?? { OPS_API_TOKEN: 'ops-secret-token' };
    this.task = {
      id: `tsk_${name.replace(/[^a-z0-9]/g, '')}`.slice(0, 24),
      externalRef: `REF-${name}`,
      taskClass: this.plan.taskClasses[0]!,
      requestedBy: 'replay',
      input: opts.input ?? {},
      state: 'queued',
      currentStep: null,
      steps: Object.fromEntries(this.plan.steps.map((s) => [s.id, { status: 'pending' as const, attempts: 0, captures: {} }])),
      cursor: {},
      retryUsed: 0,
      retryLimit: this.plan.policy.retryBudget,
      deadlineAt: new Date(T0.getTime() + this.plan.policy.deadlineMs).toISOString(),
      cancelRequested: false,
      ...opts.task,
    };
  }

  /** Moves the clock. */
  wait(ms: number): this {
    this.now = new Date(this.now.getTime() + ms);
    return this;
  }

  /** One decision, recorded, and its commit applied to the stored task. */
  decide(label: string, event: StoredEvent, over: { stopping?: boolean; agentCallCap?: number } = {}): Decision {
    const drawnRandom: number[] = [];
    const drawnTokens: string[] = [];
    const stored: StoredEnv = { now: this.now.toISOString(), random: drawnRandom, tokens: drawnTokens, env: this.env, secrets: this.secrets, ...over };
    const input = structuredClone(this.task);
    const { env } = envOf({ ...stored, random: [], tokens: [] });
    env.random = () => {
      const v = this.rng();
      drawnRandom.push(v);
      return v;
    };
    env.newToken = () => {
      const t = `cb_${this.task.id}_${++this.tokenNo}`;
      drawnTokens.push(t);
      return t;
    };
    const d = decide(viewOf(input), this.plan, eventOf(event), env);
    this.decisions.push({ label, runbook: this.plan.id, task: input, event: structuredClone(event), env: stored, decision: decisionJson(d) });
    this.apply(d);
    this.last = d;
    return d;
  }

  /** What the store does with a commit (the fields a decision reads back). */
  private apply(d: Decision): void {
    const c = d.commit;
    if (!c) return;
    const t = this.task;
    if (c.to) t.state = c.to;
    if (c.patch.currentStep !== undefined) t.currentStep = c.patch.currentStep;
    if (c.patch.steps) t.steps = structuredClone(c.patch.steps);
    if (c.patch.cursor) t.cursor = structuredClone(c.patch.cursor) as Record<string, unknown>;
    if (c.patch.retryUsed !== undefined) t.retryUsed = c.patch.retryUsed;
    if (c.patch.nextAttemptAt !== undefined) this.nextAttemptAt = c.patch.nextAttemptAt;
    if (c.patch.escalation !== undefined) t.escalationKind = c.patch.escalation?.kind ?? null;
  }

  /** A worker claims the task (at its due time when it is scheduled), with any attempts left open. */
  claim(label = 'claim', open: OpenAttempt[] = [], over: { stopping?: boolean; agentCallCap?: number } = {}): Decision {
    const due = this.task.state === 'retry_scheduled' || this.task.state === 'waiting_callback';
    if (due && this.nextAttemptAt && this.nextAttemptAt > this.now) this.now = new Date(this.nextAttemptAt);
    if (this.task.state === 'retry_scheduled') this.nextAttemptAt = null;
    if (CLAIMABLE.includes(this.task.state)) this.task.state = 'running';
    return this.decide(label, { kind: 'claimed', openAttempts: open.map((o) => ({ ...o, startedAt: o.startedAt.toISOString() })) }, over);
  }

  /** The attempt the last decision started finished with `outcome`. */
  finish(label: string, outcome: RawOutcome, durationMs = 5, over: { stopping?: boolean; agentCallCap?: number } = {}): Decision {
    const next = this.last?.next;
    if (next?.type !== 'perform') throw new Error(`${this.name}/${label}: the last decision did not start an attempt (${next?.type})`);
    this.wait(durationMs);
    return this.decide(label, { kind: 'finished', attempt: next.attempt, outcome, durationMs }, over);
  }

  /** After a `sleep`: the clock moves by it and the decision is asked again. */
  poll(label = 'poll'): Decision {
    const next = this.last?.next;
    if (next?.type !== 'sleep') throw new Error(`${this.name}/${label}: the last decision did not sleep (${next?.type})`);
    this.wait(next.ms);
    return this.decide(label, { kind: 'polled' });
  }

  /** The worker died during the attempt the last decision started; another claims the task. */
  crash(label = 'crash: claimed again', after = 30_000): Decision {
    const next = this.last?.next;
    if (next?.type !== 'perform') throw new Error(`${this.name}/${label}: no attempt in flight to crash`);
    const startedAt = new Date(this.now);
    this.wait(after);
    return this.claim(label, [{ ...next.attempt, startedAt }]);
  }

  /** An operator (or a callback) edits the stored task, as the operator actions write it. */
  operator(edit: (t: StoredTask, cursor: Record<string, any>) => void): this {
    edit(this.task, this.task.cursor as Record<string, any>);
    return this;
  }

  expect(state: TaskState): this {
    if (this.task.state !== state) throw new Error(`${this.name}: expected the task ${state}, it is ${this.task.state}`);
    return this;
  }

  /** The decisions recorded so far. */
  recorded(): RecordedDecision[] {
    return this.decisions;
  }
}

/** HTTP results as the executor reports them. */
export const http = (status: number, body: unknown = {}, extra: { retryAfterMs?: number } = {}): RawOutcome => ({
  kind: 'result',
  result: { status, headers: {}, body },
  ...extra,
});

export const reset: RawOutcome = { kind: 'error', code: 'ECONNRESET', message: 'socket hang up', maybeApplied: true };
export const timedOut = (ms: number): RawOutcome => ({ kind: 'error', code: 'TIMEOUT', message: `no response within ${ms}ms`, maybeApplied: true });
export const aborted: RawOutcome = { kind: 'error', code: 'ABORTED', message: 'aborted', maybeApplied: true, failureClass: 'transient' };

/** One fixture from the sessions of a scenario, recorded in turn. */
export function fixtureOf(name: string, sessions: Session[]): Fixture {
  const runbooks: Record<string, string> = {};
  for (const s of sessions) runbooks[s.plan.id] = s.runbook;
  return { name, about: sessions[0]!.about, runbooks, decisions: sessions.flatMap((s) => s.recorded()) };
}
