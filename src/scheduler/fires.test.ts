import { describe, expect, it } from 'vitest';
import { cronTimer } from '../runbook/cron.js';
import type { Schedule } from '../runbook/plan.js';
import { decideFires, dueFires, MISSED_COUNT_LIMIT, type FireState } from './fires.js';

const schedule = (o: Partial<Schedule> = {}): Schedule => ({ cron: '*/15 * * * *', timezone: 'UTC', input: {}, missed: 'skip', overlap: 'skip', ...o });
const at = (s: string) => new Date(s);
const state = (cursor: string, o: Partial<FireState> = {}): FireState => ({ cursorAt: at(cursor), paused: false, queuedFireAt: null, missedNote: null, ...o });

/** Every fire of `cron` in `tz` a ticking scheduler makes between `from` and `to`, ticking every `tickMs`. */
function fireTimes(cron: string, tz: string, from: string, to: string, tickMs = 60_000): string[] {
  const s = schedule({ cron, timezone: tz });
  const timer = cronTimer(cron, tz);
  let st = state(from);
  const out: string[] = [];
  for (let t = at(from).getTime() + tickMs; t <= at(to).getTime(); t += tickMs) {
    const plan = decideFires(s, timer, st, null, new Date(t));
    for (const a of plan.actions) {
      expect(a.type).toBe('fire');
      if (a.type === 'fire') out.push(a.at.toISOString());
    }
    st = plan.next;
  }
  return out;
}

describe('fires across daylight saving in a named time zone', () => {
  it('a fixed-time job runs once a day: at 03:00 on the spring-forward day (02:30 does not exist), once on the fall-back day', () => {
    // Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
    expect(fireTimes('30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', '2026-03-31T12:00:00Z', 300_000)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST: the first valid time after the gap
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-03-31T00:30:00.000Z',
    ]);
    expect(fireTimes('30 2 * * *', 'Europe/Berlin', '2026-10-23T12:00:00Z', '2026-10-26T12:00:00Z', 300_000)).toEqual([
      '2026-10-24T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first of the two 02:30s; not again at 01:30Z
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
  });

  it('an interval job keeps its real-time rhythm: no fire in the skipped hour, both passes of the repeated one', () => {
    const spring = fireTimes('0 * * * *', 'Europe/Berlin', '2026-03-28T23:30:00Z', '2026-03-29T03:30:00Z');
    expect(spring).toEqual(['2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z', '2026-03-29T03:00:00.000Z']);
    const fall = fireTimes('0 * * * *', 'Europe/Berlin', '2026-10-24T23:30:00Z', '2026-10-25T03:30:00Z');
    expect(fall).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z']);
  });

  it('US time zones change on their own dates', () => {
    // America/New_York springs forward on 2026-03-08: 09:00 local is 14:00Z before, 13:00Z after.
    expect(fireTimes('0 9 * * *', 'America/New_York', '2026-03-06T15:00:00Z', '2026-03-09T15:00:00Z', 600_000)).toEqual([
      '2026-03-07T14:00:00.000Z',
      '2026-03-08T13:00:00.000Z',
      '2026-03-09T13:00:00.000Z',
    ]);
  });
});

describe('decideFires', () => {
  const timer = cronTimer('*/15 * * * *', 'UTC');

  it('makes nothing before the first fire, then the fire a little late, and moves the cursor', () => {
    expect(decideFires(schedule(), timer, state('2026-01-01T10:00:00Z'), null, at('2026-01-01T10:14:59Z')).actions).toEqual([]);
    const p = decideFires(schedule(), timer, state('2026-01-01T10:00:00Z'), null, at('2026-01-01T10:15:02Z'));
    expect(p.actions).toEqual([{ type: 'fire', at: at('2026-01-01T10:15:00Z'), lateMs: 2000, queued: false, missed: null }]);
    expect(p.next.cursorAt).toEqual(at('2026-01-01T10:15:00Z'));
    // The same tick again: nothing twice.
    expect(decideFires(schedule(), timer, p.next, null, at('2026-01-01T10:15:03Z')).actions).toEqual([]);
  });

  it('missed: skip makes nothing for a downtime and tells the next fire how many, from when to when', () => {
    // Down from 10:05 to 12:10: seven fires passed (10:15 ... 11:45, and 12:00 is more than the grace late).
    const p = decideFires(schedule(), timer, state('2026-01-01T10:05:00Z'), null, at('2026-01-01T12:10:00Z'));
    const note = { count: 8, from: '2026-01-01T10:15:00.000Z', to: '2026-01-01T12:00:00.000Z' };
    expect(p.actions).toEqual([{ type: 'missed', note, policy: 'skip', ran: null }]);
    expect(p.next).toMatchObject({ cursorAt: at('2026-01-01T12:00:00Z'), missedNote: note });
    const q = decideFires(schedule(), timer, p.next, null, at('2026-01-01T12:15:01Z'));
    expect(q.actions).toEqual([{ type: 'fire', at: at('2026-01-01T12:15:00Z'), lateMs: 1000, queued: false, missed: note }]);
    expect(q.next.missedNote).toBeNull();
  });

  it('missed: skip with the latest fire on time runs it and counts only the earlier ones', () => {
    const p = decideFires(schedule(), timer, state('2026-01-01T10:05:00Z'), null, at('2026-01-01T11:00:20Z'));
    const note = { count: 2, from: '2026-01-01T10:15:00.000Z', to: '2026-01-01T10:30:00.000Z' };
    expect(p.actions).toEqual([
      { type: 'missed', note: { ...note, to: '2026-01-01T10:45:00.000Z', count: 3 }, policy: 'skip', ran: at('2026-01-01T11:00:00Z') },
      { type: 'fire', at: at('2026-01-01T11:00:00Z'), lateMs: 20_000, queued: false, missed: { ...note, to: '2026-01-01T10:45:00.000Z', count: 3 } },
    ]);
  });

  it('missed: run-once makes one task for the latest missed fire, never a burst', () => {
    const p = decideFires(schedule({ missed: 'run-once' }), timer, state('2026-01-01T10:05:00Z'), null, at('2026-01-01T12:10:00Z'));
    const note = { count: 8, from: '2026-01-01T10:15:00.000Z', to: '2026-01-01T12:00:00.000Z' };
    expect(p.actions).toEqual([
      { type: 'missed', note, policy: 'run-once', ran: at('2026-01-01T12:00:00Z') },
      { type: 'fire', at: at('2026-01-01T12:00:00Z'), lateMs: 600_000, queued: false, missed: note },
    ]);
    expect(p.next.missedNote).toBeNull();
  });

  it('a very long downtime is counted up to a limit, and still makes one fire for the latest', () => {
    const everySecond = cronTimer('* * * * * *', 'UTC');
    // A day of per-second fires: counted to the limit, the latest (on time) runs, the rest are missed.
    const p = decideFires(schedule({ cron: '* * * * * *' }), everySecond, state('2026-01-01T00:00:00Z'), null, at('2026-01-02T00:00:00.500Z'));
    expect(p.actions).toHaveLength(2);
    expect(p.actions[0]).toMatchObject({ type: 'missed', note: { count: MISSED_COUNT_LIMIT - 1, more: true, from: '2026-01-01T00:00:01.000Z', to: '2026-01-01T23:59:59.000Z' } });
    expect(p.actions[1]).toMatchObject({ type: 'fire', at: at('2026-01-02T00:00:00Z') });
    expect(dueFires(everySecond, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:10Z')).count).toBe(10);
  });

  it('overlap skip: a fire while a run is going makes nothing and names the run', () => {
    const p = decideFires(schedule(), timer, state('2026-01-01T10:00:00Z'), 'tsk_going', at('2026-01-01T10:15:00Z'));
    expect(p.actions).toEqual([{ type: 'skip', at: at('2026-01-01T10:15:00Z'), running: { taskId: 'tsk_going' }, waiting: false }]);
    expect(p.next.cursorAt).toEqual(at('2026-01-01T10:15:00Z'));
  });

  it('overlap allow: the fire runs beside the one going', () => {
    const p = decideFires(schedule({ overlap: 'allow' }), timer, state('2026-01-01T10:00:00Z'), 'tsk_going', at('2026-01-01T10:15:00Z'));
    expect(p.actions.map((a) => a.type)).toEqual(['fire']);
  });

  it('overlap queue: one fire waits, a second is skipped, the waiting one starts once nothing is going', () => {
    const s = schedule({ overlap: 'queue' });
    const p = decideFires(s, timer, state('2026-01-01T10:00:00Z'), 'tsk_going', at('2026-01-01T10:15:00Z'));
    expect(p.actions).toEqual([{ type: 'queue', at: at('2026-01-01T10:15:00Z'), behind: { taskId: 'tsk_going' } }]);
    expect(p.next.queuedFireAt).toEqual(at('2026-01-01T10:15:00Z'));
    const q = decideFires(s, timer, p.next, 'tsk_going', at('2026-01-01T10:30:00Z'));
    expect(q.actions).toEqual([{ type: 'skip', at: at('2026-01-01T10:30:00Z'), running: { taskId: 'tsk_going' }, waiting: true }]);
    expect(q.next.queuedFireAt).toEqual(at('2026-01-01T10:15:00Z'));
    const r = decideFires(s, timer, q.next, null, at('2026-01-01T10:40:00Z'));
    expect(r.actions).toEqual([{ type: 'fire', at: at('2026-01-01T10:15:00Z'), lateMs: 25 * 60_000, queued: true, missed: null }]);
    expect(r.next.queuedFireAt).toBeNull();
    // The waiting fire started and a new fire came in the same tick: the new one waits behind it.
    const both = decideFires(s, timer, { ...q.next, cursorAt: at('2026-01-01T10:30:00Z') }, null, at('2026-01-01T10:45:00Z'));
    expect(both.actions).toEqual([
      { type: 'fire', at: at('2026-01-01T10:15:00Z'), lateMs: 30 * 60_000, queued: true, missed: null },
      { type: 'queue', at: at('2026-01-01T10:45:00Z'), behind: { fireAt: at('2026-01-01T10:15:00Z') } },
    ]);
  });

  it('a paused schedule does nothing and keeps its cursor (resume counts what it passed over)', () => {
    const p = decideFires(schedule(), timer, state('2026-01-01T10:00:00Z', { paused: true, queuedFireAt: at('2026-01-01T09:45:00Z') }), null, at('2026-01-01T12:00:00Z'));
    expect(p.actions).toEqual([]);
    expect(p.next.cursorAt).toEqual(at('2026-01-01T10:00:00Z'));
  });
});
