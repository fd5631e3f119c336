/**
 * The database schema (drizzle). Migrations in `drizzle/` are generated from this file by
 * `npm run db:generate` and committed; an applied migration is never edited.
 *
 * Times are `timestamptz` written from the injected clock (passed as parameters), never `now()`,
 * so tests with a fake clock work against a real database.
 */
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { FIRE_KINDS, FIRE_OUTCOMES, SCHEDULE_EVENT_TYPES } from '../lifecycle/schedule-vocabulary.js';
import { ATTEMPT_KINDS, ATTEMPT_OUTCOMES, TASK_STATES, WORK_ROLES } from '../lifecycle/vocabulary.js';

const inList = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(', '));
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * One row per task. `steps` holds each step's status, attempt count and captures (the `steps.<id>`
 * CEL context), so a checkpoint is one row update. `eventSeq` is the ledger's last sequence
 * number: the ledger insert takes its seq from the same UPDATE that changes the task.
 */
export const tasks = pgTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    externalRef: text('external_ref'),
    taskClass: text('task_class').notNull(),
    runbookId: text('runbook_id'),
    runbookVersion: integer('runbook_version'),
    /** The content hash of the runbook version the task runs on, to the end (`runbook_versions`). */
    runbookHash: text('runbook_hash'),
    requestedBy: text('requested_by'),
    input: jsonb('input').notNull().default({}),
    priority: integer('priority').notNull().default(0),
    state: text('state').notNull(),
    /** The step the cursor is on (null before the first and after the last). */
    currentStep: text('current_step'),
    steps: jsonb('steps').notNull().default({}),
    /** Orchestrator bookkeeping that is not a step's: compensation cursor, pending decisions. */
    cursor: jsonb('cursor').notNull().default({}),
    retryUsed: integer('retry_used').notNull().default(0),
    retryLimit: integer('retry_limit').notNull().default(0),
    deadlineAt: ts('deadline_at'),
    /** When a `retry_scheduled` task is due, or when a wait times out. */
    nextAttemptAt: ts('next_attempt_at'),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: ts('lease_expires_at'),
    /**
     * The fencing token of the current claim: every claim bumps it, and every write a worker
     * makes for the task (checkpoint, renewal, release) must name it with its worker id, so a
     * worker that lost the task, even to itself, cannot write under a later claim.
     */
    leaseEpoch: integer('lease_epoch').notNull().default(0),
    /**
     * The id of the last worker write applied, so a write whose commit was not acknowledged (the
     * connection dropped at COMMIT) can tell on retry whether it landed instead of applying twice.
     */
    lastWriteId: text('last_write_id'),
    /** The unguessable credential of a waiting `wait` step (stored hashed). */
    callbackTokenHash: text('callback_token_hash'),
    /** An operator asked for cancel while a worker held the task; the worker stops at a safe point. */
    cancelRequested: boolean('cancel_requested').notNull().default(false),
    /** Why intake refused the task: `[{ path, message }]`. */
    rejection: jsonb('rejection'),
    /** The reason of the last escalation (kind, failure class, step, message). */
    escalation: jsonb('escalation'),
    /**
     * The role whose work comes next (WORK_ROLES), set with every checkpoint: only a worker that
     * serves it claims the task. Null: any worker may claim it and hands it on if it is not its
     * role's (a task an operator or a callback has just put back in the queue).
     */
    awaitingRole: text('awaiting_role'),
    /** The value of the runbook's `policy.concurrency.key`, evaluated at intake; null without one. */
    concurrencyKey: text('concurrency_key'),
    /** `policy.concurrency.limit` of the runbook version the task runs on; null without a key. */
    concurrencyLimit: integer('concurrency_limit'),
    eventSeq: integer('event_seq').notNull().default(0),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('tasks_external_ref_key').on(t.externalRef),
    index('tasks_concurrency_key_idx').on(t.concurrencyKey, t.state),
    check('tasks_awaiting_role_check', sql`${t.awaitingRole} is null or ${t.awaitingRole} in (${inList(WORK_ROLES)})`),
    uniqueIndex('tasks_callback_token_key').on(t.callbackTokenHash),
    index('tasks_state_idx').on(t.state, t.nextAttemptAt),
    index('tasks_runbook_idx').on(t.runbookId, t.createdAt),
    // Listings (`tasks`, `tasks --state S`, the API's pages) and the report's window
    // (`created_at >= since`): newest first, read from an index at any table size.
    index('tasks_created_idx').on(t.createdAt, t.id),
    index('tasks_state_created_idx').on(t.state, t.createdAt, t.id),
    // The claim: live, claimable tasks only, in claim order. The predicate is the claim's own
    // disjunction of states (claim.ts CLAIM_SQL, which writes them as literals), so the planner
    // can prove the claim inside it; finished tasks, most of a long-lived table, are not in it.
    index('tasks_claim_idx')
      .on(t.priority.desc(), t.createdAt, t.id)
      .where(sql`(${t.state} = 'queued' AND ${t.concurrencyKey} IS NULL) OR ${t.state} IN ('retry_scheduled', 'waiting_callback', 'running', 'compensating', 'awaiting_approval')`),
    // Admission by concurrency key (claimKeyed): the queued keyed tasks, per key in claim order.
    index('tasks_claim_keyed_idx')
      .on(t.concurrencyKey, t.priority.desc(), t.createdAt, t.id)
      .where(sql`${t.state} = 'queued' AND ${t.concurrencyKey} IS NOT NULL`),
    check('tasks_state_check', sql`${t.state} in (${inList(TASK_STATES)})`),
  ],
);

/** Every attempt of an action, probe, verification, compensation or refresh. */
export const attempts = pgTable(
  'attempts',
  {
    taskId: text('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    step: text('step').notNull(),
    kind: text('kind').notNull(),
    attempt: integer('attempt').notNull(),
    idempotencyKey: text('idempotency_key'),
    startedAt: ts('started_at').notNull(),
    finishedAt: ts('finished_at'),
    outcome: text('outcome'),
    failureClass: text('failure_class'),
    error: text('error'),
    durationMs: integer('duration_ms'),
    /** A trimmed, secret-masked summary of the result (status, body excerpt, exit code). */
    result: jsonb('result'),
  },
  (t) => [
    primaryKey({ columns: [t.taskId, t.step, t.kind, t.attempt] }),
    check('attempts_kind_check', sql`${t.kind} in (${inList(ATTEMPT_KINDS)})`),
    check('attempts_outcome_check', sql`${t.outcome} is null or ${t.outcome} in (${inList(ATTEMPT_OUTCOMES)})`),
  ],
);

/** The append-only ledger: one row per event, numbered per task. */
export const events = pgTable(
  'events',
  {
    taskId: text('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    at: ts('at').notNull(),
    type: text('type').notNull(),
    step: text('step'),
    actor: text('actor').notNull(),
    data: jsonb('data').notNull().default({}),
  },
  (t) => [primaryKey({ columns: [t.taskId, t.seq] }), index('events_type_idx').on(t.type, t.at)],
);

/** Escalation packets, stored with the task before delivery. */
export const packets = pgTable(
  'packets',
  {
    id: text('id').primaryKey(),
    taskId: text('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    createdAt: ts('created_at').notNull(),
    reason: text('reason').notNull(),
    route: text('route').notNull(),
    body: jsonb('body').notNull(),
    /** Set when the task later left the escalation (resolved at the sinks that support it). */
    resolvedAt: ts('resolved_at'),
  },
  (t) => [index('packets_task_idx').on(t.taskId, t.createdAt)],
);

/** The delivery outbox: one row per packet and sink, written in the escalating transaction. */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    packetId: text('packet_id')
      .notNull()
      .references(() => packets.id, { onDelete: 'cascade' }),
    taskId: text('task_id').notNull(),
    sink: text('sink').notNull(),
    /** `trigger` (the packet) or `resolve` (the task left the escalation). */
    kind: text('kind').notNull().default('trigger'),
    state: text('state').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull(),
    lastError: text('last_error'),
    deliveredAt: ts('delivered_at'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('outbox_packet_sink_kind_key').on(t.packetId, t.sink, t.kind),
    index('outbox_due_idx').on(t.state, t.nextAttemptAt),
    check('outbox_state_check', sql`${t.state} in ('pending', 'delivered', 'dead')`),
  ],
);

/**
 * Every runbook version a task started with, by content hash: its source, so each task runs on
 * its own version to the end whatever the runbooks folder holds now.
 */
export const runbookVersions = pgTable('runbook_versions', {
  hash: text('hash').primaryKey(),
  runbookId: text('runbook_id').notNull(),
  version: integer('version').notNull(),
  /** Where the source was read from when it was stored (for messages only). */
  file: text('file').notNull(),
  source: text('source').notNull(),
  createdAt: ts('created_at').notNull(),
});

/**
 * One row per fire of a schedule, written in the transaction that handles the fire and before
 * its task: the primary key on runbook, time and kind is the claim, so however many schedulers
 * run, each fire is handled once (a second INSERT waits for the first to commit, then finds the
 * row). `outcome` says what became of it; `task_id` is the task it made (or the rejected one).
 */
export const scheduleFires = pgTable(
  'schedule_fires',
  {
    runbookId: text('runbook_id').notNull(),
    fireAt: ts('fire_at').notNull(),
    kind: text('kind').notNull().default('cron'),
    taskId: text('task_id'),
    outcome: text('outcome').notNull().default('created'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.runbookId, t.fireAt, t.kind] }),
    index('schedule_fires_task_idx').on(t.taskId),
    check('schedule_fires_kind_check', sql`${t.kind} in (${inList(FIRE_KINDS)})`),
    check('schedule_fires_outcome_check', sql`${t.outcome} in (${inList(FIRE_OUTCOMES)})`),
  ],
);

/**
 * One row per schedule a scheduler has seen (by runbook id): where its fires are handled up to,
 * whether an operator paused it, the fire waiting behind a run (overlap queue), the missed fires
 * still to be told to the next run, and the open silent-failure packet. Locked (FOR UPDATE) by
 * whoever handles the schedule, so its state moves in one place at a time.
 */
export const schedules = pgTable('schedules', {
  runbookId: text('runbook_id').primaryKey(),
  /** The cron and timezone as last handled (a change is a ledger event). */
  cron: text('cron').notNull(),
  timezone: text('timezone').notNull(),
  /** Every fire up to here (inclusive) is handled: made, skipped, queued or counted missed. */
  cursorAt: ts('cursor_at').notNull(),
  /** The silence window counts from no earlier than this: registration, resume, a cron change. */
  watchSince: ts('watch_since').notNull(),
  paused: boolean('paused').notNull().default(false),
  pausedAt: ts('paused_at'),
  pausedBy: text('paused_by'),
  pauseReason: text('pause_reason'),
  /** The fire waiting for the run still going (overlap `queue`; at most one waits). */
  queuedFireAt: ts('queued_fire_at'),
  /** Missed fires (`missed: skip`) not yet recorded in a run's ledger: `{ count, from, to }`. */
  missedNote: jsonb('missed_note'),
  /** The open silent-failure packet, until a run completes again. */
  alertPacketId: text('alert_packet_id').references(() => packets.id, { onDelete: 'set null' }),
  alertSince: ts('alert_since'),
  /** The schedule ledger's last sequence number. */
  eventSeq: integer('event_seq').notNull().default(0),
  createdAt: ts('created_at').notNull(),
  updatedAt: ts('updated_at').notNull(),
});

/** The ledger of a schedule: one row per event, numbered per runbook (SCHEDULE_EVENT_TYPES). */
export const scheduleEvents = pgTable(
  'schedule_events',
  {
    runbookId: text('runbook_id')
      .notNull()
      .references(() => schedules.runbookId, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    at: ts('at').notNull(),
    type: text('type').notNull(),
    actor: text('actor').notNull(),
    data: jsonb('data').notNull().default({}),
  },
  (t) => [primaryKey({ columns: [t.runbookId, t.seq] }), check('schedule_events_type_check', sql`${t.type} in (${inList(SCHEDULE_EVENT_TYPES)})`)],
);

/**
 * Every request an intake source received (`POST /v1/intake/<source>`), with what it became:
 * per unit (one alert of a group, or the payload) the task made, deduplicated, rejected or
 * refused and why, the events the mapping excluded, and the resolutions. Refused requests (bad
 * signature, no credential, unreadable body) are recorded too, so a mapping that matches nothing
 * and a sender with the wrong secret are both visible (`runwarden intake log`).
 */
export const intakeEvents = pgTable(
  'intake_events',
  {
    id: text('id').primaryKey(),
    source: text('source').notNull(),
    sourceType: text('source_type').notNull(),
    receivedAt: ts('received_at').notNull(),
    /** The sender's id of the delivery (X-GitHub-Delivery, webhook-id, ...), when it gives one. */
    deliveryId: text('delivery_id'),
    /** `processed`, or why the request was refused: `unauthorized`, `invalid`. */
    outcome: text('outcome').notNull(),
    /** Counts by result: created, deduplicated, rejected, refused, excluded, cancelled, ignored. */
    summary: jsonb('summary').notNull().default({}),
    /** One entry per unit: `{ unit, result, taskId?, externalRef?, reason? }`. */
    results: jsonb('results').notNull().default([]),
    error: text('error'),
  },
  (t) => [index('intake_events_source_idx').on(t.source, t.receivedAt), check('intake_events_outcome_check', sql`${t.outcome} in ('processed', 'unauthorized', 'invalid')`)],
);

/**
 * Where a task came from when an intake source made it: the source and the ticket to write the
 * outcome back to (an incident id, an issue key, a repository and issue number).
 */
export const taskOrigins = pgTable('task_origins', {
  taskId: text('task_id')
    .primaryKey()
    .references(() => tasks.id, { onDelete: 'cascade' }),
  source: text('source').notNull(),
  sourceType: text('source_type').notNull(),
  target: jsonb('target').notNull().default({}),
  createdAt: ts('created_at').notNull(),
});

/**
 * The write-back outbox: one row per outcome to tell a task's origin (its escalation, its end),
 * written in the transaction that changed the task, delivered with retries like the packet
 * outbox (a claim is a lease: `attempts` bumped, `next_attempt_at` pushed past the send).
 */
export const writebacks = pgTable(
  'writebacks',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    taskId: text('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    source: text('source').notNull(),
    /** `escalated` or `ended`. */
    kind: text('kind').notNull(),
    /** Deduplicates: the task and the ledger sequence number of the change. */
    key: text('key').notNull(),
    body: jsonb('body').notNull(),
    state: text('state').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull(),
    lastError: text('last_error'),
    deliveredAt: ts('delivered_at'),
    createdAt: ts('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('writebacks_key_key').on(t.key),
    index('writebacks_due_idx').on(t.state, t.nextAttemptAt),
    check('writebacks_state_check', sql`${t.state} in ('pending', 'delivered', 'dead')`),
    check('writebacks_kind_check', sql`${t.kind} in ('escalated', 'ended')`),
  ],
);
