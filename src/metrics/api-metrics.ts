/**
 * runwarden's Prometheus metrics, through prom-client with a registry of their own (never the
 * global one, so an embedding program's metrics and ours do not collide, and tests get a fresh
 * set each). Names follow the Prometheus conventions: `runwarden_` prefix, `_total` on counters,
 * seconds and bytes as units, and label sets bounded by the runbooks loaded (runbook, step) or
 * by runwarden's own vocabularies: never a task id, an externalRef or a token name.
 *
 * Two kinds of figure. Counters and histograms count what this process did (the worker's
 * attempts, escalations and claims, the API's requests): sum them across processes. Gauges read
 * at scrape time from the database (tasks by state, outbox backlog) describe the whole
 * deployment: every process reports the same value, so aggregate them with max, not sum.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WorkerObserver } from '../orchestrator/observer.js';
import type { CheckpointWrite } from '../store/checkpoints.js';
import type { Db } from '../store/db.js';
import { countOutbox, countTasksByState } from '../store/metrics-queries.js';
import type { TaskRow } from '../store/tasks.js';
import { TASK_STATES } from '../lifecycle/vocabulary.js';

/** Seconds: a step's attempt, from a fast HTTP call to a long wait. */
const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Seconds: a task, from intake to its end. */
const TASK_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600];
/** Seconds a retry was put off. */
const RETRY_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600];
/** Seconds a claim query took. */
const CLAIM_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** How long gauges read from the database are reused between scrapes. */
export const GAUGE_CACHE_MS = 5000;

/** The label a runbook gets: its id, or `none` for a task rejected before one was found. */
const runbookLabel = (t: Pick<TaskRow, 'runbookId'>) => t.runbookId ?? 'none';

export class ApiMetrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;

  readonly stepAttempts = new Counter({
    name: 'runwarden_step_attempts_total',
    help: 'Finished attempts of steps (actions, probes, verifications, compensations, refreshes), by outcome and failure class',
    labelNames: ['runbook', 'step', 'kind', 'outcome', 'failure_class'] as const,
    registers: [this.registry],
  });
  readonly stepDuration = new Histogram({
    name: 'runwarden_step_duration_seconds',
    help: 'How long a step attempt took',
    labelNames: ['runbook', 'step', 'kind', 'outcome'] as const,
    buckets: STEP_BUCKETS,
    registers: [this.registry],
  });
  readonly escalations = new Counter({
    name: 'runwarden_escalations_total',
    help: 'Times a task stopped for a person, by reason (escalation-packet.md)',
    labelNames: ['runbook', 'reason'] as const,
    registers: [this.registry],
  });
  readonly tasksFinished = new Counter({
    name: 'runwarden_tasks_finished_total',
    help: 'Tasks this process saw reach an end state, by that state',
    labelNames: ['runbook', 'state'] as const,
    registers: [this.registry],
  });
  readonly taskDuration = new Histogram({
    name: 'runwarden_task_duration_seconds',
    help: 'From intake to the end state, for tasks this process finished',
    labelNames: ['runbook', 'state'] as const,
    buckets: TASK_BUCKETS,
    registers: [this.registry],
  });
  readonly retryDelay = new Histogram({
    name: 'runwarden_retry_delay_seconds',
    help: 'How long a retry was put off (backoff, or the Retry-After the system asked for)',
    labelNames: ['runbook', 'step', 'failure_class'] as const,
    buckets: RETRY_BUCKETS,
    registers: [this.registry],
  });
  readonly modelCalls = new Counter({
    name: 'runwarden_model_calls_total',
    help: 'Calls to the language model by decide steps, by whether they answered',
    labelNames: ['runbook', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly modelTokens = new Counter({
    name: 'runwarden_model_tokens_total',
    help: 'Tokens the language model used, input and output',
    labelNames: ['runbook', 'direction'] as const,
    registers: [this.registry],
  });
  readonly leaseRenewals = new Counter({
    name: 'runwarden_lease_renewals_total',
    help: "Renewals of this worker's task leases, by outcome (renewed, lost, failed: the database did not answer)",
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly claimDuration = new Histogram({
    name: 'runwarden_claim_duration_seconds',
    help: 'How long one claim of due tasks took (the claim query)',
    buckets: CLAIM_BUCKETS,
    registers: [this.registry],
  });
  readonly tasksClaimed = new Counter({
    name: 'runwarden_tasks_claimed_total',
    help: 'Tasks this worker claimed',
    registers: [this.registry],
  });
  readonly outboxDeliveries = new Counter({
    name: 'runwarden_outbox_deliveries_total',
    help: 'Packet deliveries to sinks by this process, by result (delivered, retrying: failed and scheduled again, dead: given up)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'runwarden_http_requests_total',
    help: 'API requests answered, by route pattern, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly intakeRequests = new Counter({
    name: 'runwarden_intake_requests_total',
    help: 'Task requests over the API, by result (created, existing by externalRef, rejected)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly callbacks = new Counter({
    name: 'runwarden_callbacks_total',
    help: 'Callbacks over the API, by result (delivered, unknown_token, refused)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly operatorActions = new Counter({
    name: 'runwarden_operator_actions_total',
    help: 'Operator actions over the API, by action',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly tasks = new Gauge({
    name: 'runwarden_tasks',
    help: 'Tasks in each state now (the whole deployment, read from the database: aggregate with max)',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly outboxBacklog = new Gauge({
    name: 'runwarden_outbox_backlog',
    help: 'Packet deliveries waiting in the outbox (pending), and given up (dead); the whole deployment',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly outboxOldest = new Gauge({
    name: 'runwarden_outbox_oldest_pending_seconds',
    help: 'Age of the oldest pending delivery (0 when none); the whole deployment',
    registers: [this.registry],
  });
  readonly scrapeErrors = new Counter({
    name: 'runwarden_metrics_database_errors_total',
    help: 'Scrapes whose database gauges could not be read (the gauges keep their last values)',
    registers: [this.registry],
  });

  private gaugesReadAt = Number.NEGATIVE_INFINITY;
  private readonly gaugeCacheMs: number;

  /** `gaugeCacheMs`: how long database gauges are reused between scrapes (default GAUGE_CACHE_MS). */
  constructor(o: { gaugeCacheMs?: number } = {}) {
    this.gaugeCacheMs = o.gaugeCacheMs ?? GAUGE_CACHE_MS;
  }

  /** What the worker of this process reports to these metrics. */
  observer(): WorkerObserver {
    return {
      committed: (task, commit, now) => this.observeCommit(task, commit, now),
      claimed: (count, seconds) => this.claimed(count, seconds),
      leaseRenewal: (outcome) => this.leaseRenewal(outcome),
    };
  }

  /** Everything a worker's checkpoint says: attempts finished, retries, escalations, ends, model calls. */
  observeCommit(task: TaskRow, commit: CheckpointWrite, now: Date): void {
    const runbook = runbookLabel(task);
    for (const f of commit.finishAttempts ?? []) {
      this.stepAttempts.inc({ runbook, step: f.step, kind: f.kind, outcome: f.outcome, failure_class: f.failureClass ?? 'none' });
      this.stepDuration.observe({ runbook, step: f.step, kind: f.kind, outcome: f.outcome }, f.durationMs / 1000);
    }
    for (const e of commit.events) {
      const data = e.data ?? {};
      if (e.type === 'retry.scheduled' && typeof data.delayMs === 'number') {
        this.retryDelay.observe({ runbook, step: e.step ?? 'none', failure_class: typeof data.failureClass === 'string' ? data.failureClass : 'none' }, data.delayMs / 1000);
      } else if (e.type === 'agent.call') {
        this.modelCalls.inc({ runbook, outcome: data.ok === true ? 'answered' : 'failed' });
        const tokens = data.tokens as { input?: unknown; output?: unknown } | null | undefined;
        if (tokens && typeof tokens.input === 'number') this.modelTokens.inc({ runbook, direction: 'input' }, tokens.input);
        if (tokens && typeof tokens.output === 'number') this.modelTokens.inc({ runbook, direction: 'output' }, tokens.output);
      }
    }
    if (commit.escalation) this.escalations.inc({ runbook, reason: commit.escalation.kind });
    if (commit.to && ['completed', 'partially_completed', 'rolled_back', 'cancelled', 'failed'].includes(commit.to)) this.finished(task, commit.to, now);
  }

  /** A task reached an end state (by a worker, or an operator action). */
  finished(task: Pick<TaskRow, 'runbookId' | 'createdAt'>, state: string, now: Date): void {
    const runbook = runbookLabel(task);
    this.tasksFinished.inc({ runbook, state });
    this.taskDuration.observe({ runbook, state }, Math.max(0, (now.getTime() - task.createdAt.getTime()) / 1000));
  }

  claimed(count: number, seconds: number): void {
    this.claimDuration.observe(seconds);
    if (count) this.tasksClaimed.inc(count);
  }

  leaseRenewal(outcome: 'renewed' | 'lost' | 'failed'): void {
    this.leaseRenewals.inc({ outcome });
  }

  delivered(stats: { delivered: number; retrying: number; dead: number }): void {
    if (stats.delivered) this.outboxDeliveries.inc({ result: 'delivered' }, stats.delivered);
    if (stats.retrying) this.outboxDeliveries.inc({ result: 'retrying' }, stats.retrying);
    if (stats.dead) this.outboxDeliveries.inc({ result: 'dead' }, stats.dead);
  }

  intake(result: 'created' | 'existing' | 'rejected'): void {
    this.intakeRequests.inc({ result });
  }
  callback(result: 'delivered' | 'unknown_token' | 'refused'): void {
    this.callbacks.inc({ result });
  }
  action(action: string): void {
    this.operatorActions.inc({ action });
  }
  request(route: string, method: string, status: number): void {
    this.httpRequests.inc({ route, method, status: String(status) });
  }

  /** The text exposition, with the database gauges read first (at most every GAUGE_CACHE_MS). */
  async scrape(db: Db, now = Date.now()): Promise<string> {
    if (now - this.gaugesReadAt >= this.gaugeCacheMs) {
      try {
        const [byState, outbox] = await Promise.all([countTasksByState(db), countOutbox(db, new Date(now))]);
        for (const s of TASK_STATES) this.tasks.set({ state: s }, byState[s] ?? 0);
        this.outboxBacklog.set({ state: 'pending' }, outbox.pending);
        this.outboxBacklog.set({ state: 'dead' }, outbox.dead);
        this.outboxOldest.set(outbox.oldestPendingSeconds);
        this.gaugesReadAt = now;
      } catch {
        this.scrapeErrors.inc();
      }
    }
    return this.registry.metrics();
  }
}
