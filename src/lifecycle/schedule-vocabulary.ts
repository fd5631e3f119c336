/**
 * The closed vocabularies of schedules: where a fire came from, what became of it, the events of
 * a schedule's own ledger and its health. Each is one `as const` tuple feeding the types, the
 * database check constraints and the docs, as in vocabulary.ts.
 */

/** `cron`: the schedule's timer; `run_now`: an operator asked for a run outside it. */
export const FIRE_KINDS = ['cron', 'run_now'] as const;
export type FireKind = (typeof FIRE_KINDS)[number];

/**
 * What became of one fire: `created` a task, `refused` at intake (the rejected task is kept),
 * `skipped` because a run was still going (overlap skip), `queued` behind one (overlap queue;
 * `created` once it starts).
 */
export const FIRE_OUTCOMES = ['created', 'refused', 'skipped', 'queued'] as const;
export type FireOutcome = (typeof FIRE_OUTCOMES)[number];

/**
 * The ledger of a schedule (table `schedule_events`, numbered per runbook): everything that
 * happened to the schedule itself, as its tasks' ledgers record what happened to each run.
 */
export const SCHEDULE_EVENT_TYPES = [
  /** A scheduler saw the schedule for the first time; fires count from here. */
  'schedule.registered',
  /** The runbook's cron or timezone changed. */
  'schedule.changed',
  'schedule.paused',
  'schedule.resumed',
  /** An operator's run outside the timer. */
  'schedule.run_now',
  /** A fire made its task. */
  'fire.created',
  /** Intake refused a fire's task (a guard, the input): the schedule goes on. */
  'fire.refused',
  /** A fire came while a run was still going (overlap skip, or a second fire behind a queued one). */
  'fire.skipped',
  /** A fire waits for the run still going (overlap queue). */
  'fire.queued',
  /** Fires that passed while no scheduler ran: how many, from when to when, and what was done. */
  'fires.missed',
  /** No run completed in the expected window: a silent-failure packet went out. */
  'silent_failure',
  /** A run completed again (or the schedule was paused): the silent-failure packet is resolved. */
  'silent_failure.resolved',
] as const;
export type ScheduleEventType = (typeof SCHEDULE_EVENT_TYPES)[number];

/**
 * A schedule's health, most urgent reason first: `paused` by an operator; `late`: a fire did not
 * happen when due, or no run completed within `expectSuccessWithin` of a fire; `failing`: the
 * latest run ended without completing, or its fire was refused; `ok` otherwise.
 */
export const SCHEDULE_HEALTH = ['ok', 'late', 'failing', 'paused'] as const;
export type ScheduleHealth = (typeof SCHEDULE_HEALTH)[number];
