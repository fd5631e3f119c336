/** Schedules: the scheduler loop, the stuck-task watchdog, the operator's schedule actions and the schedules' status. */
export { Scheduler, type SchedulerOptions, type TickReport } from './scheduler.js';
export { StuckTaskWatch, quietLimitMs, WATCHDOG_ACTOR, type StuckReport } from './stuck-tasks.js';
export { pauseSchedule, resumeSchedule, runScheduleNow, scheduledRunbook, type ScheduleActionContext, type ScheduleActionInput } from './schedule-actions.js';
export { scheduleStatuses, scheduleDetail, type ScheduleStatus, type ScheduleDetail } from './schedule-status.js';
export { decideFires, dueFires, DEFAULT_GRACE_MS, MISSED_COUNT_LIMIT, type FireAction, type FirePlan, type FireState } from './fires.js';
export { silenceOf, type Silence } from './silence.js';
export { scheduleHealth, type HealthVerdict } from './health.js';
export { runRef, SCHEDULER_ACTOR } from './start-run.js';
