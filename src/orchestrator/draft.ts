/**
 * A working copy of a task inside one decision: the decision walks forward through everything it
 * can settle without I/O (skipped steps, `set` steps, `next` rules), then emits ONE commit with
 * every change and ledger event it gathered, so each checkpoint is one transaction.
 */
import type { FailureClass, StepStatus, TaskState } from '../lifecycle/vocabulary.js';
import type { CompiledRunbook, CompiledStep, ExprContext } from '../runbook/plan.js';
import type { Cursor, Phase } from './cursor.js';
import type { AttemptFinish, AttemptRef, Commit, DecideEnv, DecisionEvent, EscalationInfo, StepRecord, TaskView } from './types.js';

export class Draft {
  readonly steps: Record<string, StepRecord>;
  cursor: Cursor;
  currentStep: string | null;
  retryUsed: number;
  state: TaskState;
  to: TaskState | undefined;
  nextAttemptAt: Date | null | undefined;
  callbackTokenHash: string | null | undefined;
  escalationInfo: EscalationInfo | undefined;
  startAttempt: AttemptRef | undefined;
  readonly finishAttempts: AttemptFinish[] = [];
  readonly events: DecisionEvent[] = [];
  private touched = false;

  constructor(
    readonly task: TaskView,
    readonly plan: CompiledRunbook,
    readonly env: DecideEnv,
  ) {
    this.steps = structuredClone(task.steps);
    for (const s of plan.steps) {
      this.steps[s.id] ??= { status: 'pending', attempts: 0, captures: {} };
    }
    this.cursor = structuredClone(task.cursor);
    this.currentStep = task.currentStep;
    this.retryUsed = task.retryUsed;
    this.state = task.state;
  }

  get now(): Date {
    return this.env.now;
  }
  get nowIso(): string {
    return this.env.now.toISOString();
  }

  step(id: string): CompiledStep {
    const index = this.plan.stepIndex[id];
    const step = index === undefined ? undefined : this.plan.steps[index];
    if (!step) throw new Error(`runbook ${this.plan.id} has no step ${id}`);
    return step;
  }

  current(): CompiledStep | undefined {
    return this.currentStep ? this.step(this.currentStep) : undefined;
  }

  record(id: string): StepRecord {
    const r = this.steps[id];
    if (!r) throw new Error(`no record for step ${id}`);
    return r;
  }

  event(type: DecisionEvent['type'], step: string | null, data: Record<string, unknown> = {}): void {
    this.events.push({ type, step, data });
    this.touched = true;
  }

  setStatus(id: string, status: StepStatus, note?: string): void {
    const r = this.record(id);
    r.status = status;
    if (status === 'running') r.startedAt ??= this.nowIso;
    if (status !== 'running' && status !== 'pending') r.finishedAt = this.nowIso;
    if (note !== undefined) r.note = note;
    this.touched = true;
  }

  touch(): void {
    this.touched = true;
  }

  moveTo(state: TaskState): void {
    if (state === this.state) return;
    this.to = state;
    this.state = state;
    this.touched = true;
  }

  /** The walk's phase. */
  get phase(): Phase {
    return this.cursor.phase;
  }

  /** Moves the walk to another phase of the current step (or the rollback). */
  setPhase(phase: Phase): void {
    this.cursor.phase = phase;
    this.touched = true;
  }

  /** The walk enters step `id`: its phase and memo start afresh. */
  enter(id: string): void {
    this.currentStep = id;
    this.cursor.phase = { at: 'entering' };
    this.cursor.step = {};
    this.touched = true;
  }

  /** The walk leaves the steps (the last is done, or the rollback is): no current step. */
  leaveSteps(): void {
    this.currentStep = null;
    this.cursor.phase = { at: 'idle' };
    this.cursor.step = {};
    this.touched = true;
  }

  /** Next attempt number for `${kind}:${step}` (1-based), counted durably in the cursor. */
  nextAttemptNo(kind: string, step: string): number {
    const counters = this.cursor.counters;
    const key = `${kind}:${step}`;
    counters[key] = (counters[key] ?? 0) + 1;
    return counters[key];
  }

  /** The CEL context over the draft (captures so far, statuses, `task.attempt` of the step). */
  context(step?: CompiledStep): ExprContext {
    const steps: ExprContext['steps'] = {};
    // A capture named `status` wins: the spec's own example reads `steps['check-health'].status` as the
    // captured health, not the step's status.
    for (const [id, r] of Object.entries(this.steps)) steps[id] = { status: r.status, ...r.captures } as ExprContext['steps'][string];
    const attempt = step ? Math.max(1, this.record(step.id).attempts) : 1;
    return {
      input: this.task.input,
      task: {
        id: this.task.id,
        externalRef: this.task.externalRef,
        taskClass: this.task.taskClass,
        attempt,
        requestedBy: this.task.requestedBy,
        ...(this.cursor.callbackToken ? { callbackToken: this.cursor.callbackToken } : {}),
      } as ExprContext['task'],
      steps,
      env: this.env.env,
      secrets: this.env.secrets,
    };
  }

  escalate(info: Omit<EscalationInfo, 'at'>): void {
    const full: EscalationInfo = { ...info, at: this.nowIso };
    this.escalationInfo = full;
    this.event('escalated', info.step, {
      kind: info.kind,
      failureClass: info.failureClass,
      message: info.message,
    });
    this.moveTo('escalated');
  }

  /** A packet-worthy stop that is not an escalation (approval needed, partial completion). */
  notice(info: Omit<EscalationInfo, 'at'>): void {
    this.escalationInfo = { ...info, at: this.nowIso };
    this.touched = true;
  }

  failuresOf(cls: FailureClass): number {
    return this.cursor.step.failures?.[cls] ?? 0;
  }

  countFailure(cls: FailureClass): number {
    const f = (this.cursor.step.failures ??= {});
    f[cls] = (f[cls] ?? 0) + 1;
    return f[cls];
  }

  /** The commit of everything gathered, or undefined when nothing changed. */
  commit(): Commit | undefined {
    if (!this.touched && !this.startAttempt && this.finishAttempts.length === 0) return undefined;
    const c: Commit = {
      patch: {
        currentStep: this.currentStep,
        steps: this.steps,
        cursor: this.cursor,
        retryUsed: this.retryUsed,
      },
      events: this.events,
    };
    if (this.to) c.to = this.to;
    if (this.nextAttemptAt !== undefined) c.patch.nextAttemptAt = this.nextAttemptAt;
    if (this.callbackTokenHash !== undefined) c.patch.callbackTokenHash = this.callbackTokenHash;
    if (this.escalationInfo) {
      c.patch.escalation = this.escalationInfo;
      c.escalation = this.escalationInfo;
    }
    if (this.startAttempt) c.startAttempt = this.startAttempt;
    if (this.finishAttempts.length) c.finishAttempts = this.finishAttempts;
    return c;
  }
}
