/**
 * `runwarden schedules [--json]`: every schedule with its health; `runwarden schedule
 * pause|resume|run-now|show <runbook>`: an operator's actions on one schedule (each in the
 * schedule's ledger with operator and reason), and one schedule with its fires and ledger. Thin
 * adapters over src/scheduler.
 */
import { Argument, type Command } from 'commander';
import { RunwardenError } from '../../errors.js';
import { openRuntime, type Runtime } from '../../runtime.js';
import { pauseSchedule, resumeSchedule, runScheduleNow, scheduleDetail, scheduleStatuses, type ScheduleDetail, type ScheduleStatus } from '../../scheduler/index.js';
import { action, commonOptions, ExitCode, printJson, withCommon } from '../common.js';
import { formatRejection, shortTime, table } from '../task-format.js';

const ACTIONS = ['pause', 'resume', 'run-now', 'show'] as const;
type ScheduleCommand = (typeof ACTIONS)[number];

const compact = (v: unknown, max = 100) => {
  const s = JSON.stringify(v) ?? '';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
};

/** The `runwarden schedules` table; `no schedules` when no loaded runbook has one. */
export function formatSchedules(list: ScheduleStatus[]): string {
  if (!list.length) return 'no schedules: no runbook in the folder has a `schedule`';
  return table(
    ['RUNBOOK', 'CRON', 'TIMEZONE', 'HEALTH', 'LAST FIRE', 'NEXT FIRE', 'LAST SUCCESS', 'WHY'],
    list.map((s) => [s.runbook, s.cron, s.timezone, s.health, shortTime(s.lastFire?.at ?? null), shortTime(s.nextFire), shortTime(s.lastSuccess?.at ?? null), s.why]),
  );
}

/** The `runwarden schedule show` page: the schedule, its recent fires, its ledger. */
export function formatScheduleDetail(d: ScheduleDetail): string {
  const out: string[] = [`${d.runbook}  ${d.health}`];
  const field = (name: string, value: string) => out.push(`  ${name.padEnd(14)}${value}`);
  field('why', d.why);
  field('cron', `${d.cron} (${d.timezone})`);
  field('policies', `missed: ${d.missed}, overlap: ${d.overlap}${d.expectSuccessWithin ? `, expectSuccessWithin: ${d.expectSuccessWithin}` : ''}`);
  field('next fire', shortTime(d.nextFire));
  field('last success', d.lastSuccess ? `${shortTime(d.lastSuccess.at)} (${d.lastSuccess.taskId})` : '-');
  if (d.latestRun) field('latest run', `${d.latestRun.taskId} ${d.latestRun.summary}`);
  if (d.alert) field('alert', `silent-failure packet ${d.alert.packetId} open since ${shortTime(d.alert.since)}`);
  else if (d.silentAt) field('silent at', `${shortTime(d.silentAt)} unless a run completes first`);
  out.push('', 'fires');
  out.push(...(d.fires.length ? table(['AT', 'KIND', 'OUTCOME', 'TASK'], d.fires.map((f) => [shortTime(f.at), f.kind, f.outcome, f.taskId ?? '-'])).split('\n').map((l) => `  ${l}`) : ['  none yet']));
  out.push('', 'ledger');
  out.push(...(d.events.length ? table(['SEQ', 'AT', 'EVENT', 'ACTOR', 'DATA'], d.events.map((e) => [String(e.seq), shortTime(e.at), e.type, e.actor, compact(e.data)])).split('\n').map((l) => `  ${l}`) : ['  empty']));
  return out.join('\n');
}

/** Runs fn on an open runtime and closes it. */
async function withRuntime<T>(opts: Record<string, unknown>, fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const rt = await openRuntime(commonOptions(opts));
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

export function register(program: Command): void {
  withCommon(program.command('schedules').description('list the schedules: cron and timezone, last and next fire, last success, health (ok, late, failing, paused) and why')).action(
    action(async (opts: Record<string, unknown>) => {
      const json = commonOptions(opts).json;
      await withRuntime(opts, async (rt) => {
        const list = rt.masker.maskValue(await scheduleStatuses(rt.db, rt.runbooks, new Date()));
        if (json) printJson(list);
        else process.stdout.write(`${formatSchedules(list)}\n`);
      });
    }),
  );

  withCommon(
    program
      .command('schedule')
      .description("act on one schedule: pause or resume it, run it now, or show it with its fires and ledger")
      .addArgument(new Argument('<action>', 'what to do: `pause` (no fire makes a run until resumed), `resume` (fire again; what was passed over is not caught up), `run-now` (one run now, through intake) or `show` (the schedule, its fires and its ledger)').choices(ACTIONS))
      .argument('<runbook>', 'the id of a runbook with a schedule')
      .option('--operator <name>', 'who is acting (recorded in the schedule\'s ledger); required except for show')
      .option('--reason <text>', 'why (recorded in the schedule\'s ledger); required except for show'),
  ).action(
    action(async (what: ScheduleCommand, runbook: string, opts: Record<string, unknown>) => {
      const json = commonOptions(opts).json;
      const who = { operator: String(opts.operator ?? ''), reason: String(opts.reason ?? '') };
      if (what !== 'show' && (!who.operator.trim() || !who.reason.trim())) {
        throw new RunwardenError('USAGE', `schedule ${what} needs --operator <name> and --reason <text>: they go into the schedule's ledger`);
      }
      await withRuntime(opts, async (rt) => {
        const ctx = { db: rt.db, runbooks: rt.runbooks, env: { ...rt.config.env }, secrets: { ...rt.config.secrets }, emit: { config: rt.config, masker: rt.masker }, now: new Date() };
        if (what === 'show') {
          const detail = rt.masker.maskValue(await scheduleDetail(rt.db, rt.runbooks, runbook, ctx.now));
          if (json) printJson(detail);
          else process.stdout.write(`${formatScheduleDetail(detail)}\n`);
          return;
        }
        if (what === 'run-now') {
          const task = await runScheduleNow(ctx, runbook, who);
          if (json) printJson({ runbook, id: task.id, externalRef: task.externalRef, state: task.state, ...(task.rejection ? { rejection: task.rejection } : {}) });
          else process.stdout.write(`${task.id} ${task.externalRef}\n${task.state === 'rejected' ? formatRejection(task) : `state: ${task.state}`}\n`);
          // Refused at intake, as `submit` is: the schedule's ledger and health record it too.
          if (task.state === 'rejected') throw new ExitCode(1);
          return;
        }
        const row = what === 'pause' ? await pauseSchedule(ctx, runbook, who) : await resumeSchedule(ctx, runbook, who);
        if (json) printJson({ runbook, paused: row.paused });
        else process.stdout.write(`${runbook} ${row.paused ? 'paused' : 'resumed'}\n`);
      });
    }),
  );
}
