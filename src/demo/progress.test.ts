import { describe, expect, it } from 'vitest';
import type { EventRow, TaskRow } from '../store/tasks.js';
import { progressView } from './progress.js';
import { DEMO_SCENARIOS } from './scenarios.js';

const scenario = DEMO_SCENARIOS[0]!;
const at = new Date('2025-01-01T00:00:01Z');

function task(state: TaskRow['state'], extra: Partial<TaskRow> = {}): TaskRow {
  return { id: 'tsk_1', state, currentStep: 'restart', steps: {}, retryUsed: 0, rejection: null, escalation: null, createdAt: at, ...extra } as TaskRow;
}

function move(seq: number, from: string, to: string, more: EventRow[] = []): EventRow[] {
  return [{ seq, at, type: 'state.changed', step: 'restart', actor: 'worker', data: { from, to } }, ...more];
}

describe('progressView', () => {
  it('prints one plain line per state change, with the reason written alongside it', () => {
    const out: string[] = [];
    const view = progressView({ write: (t) => out.push(t), tty: false, color: false }, DEMO_SCENARIOS, at.getTime() - 500);
    const retry: EventRow = { seq: 3, at, type: 'retry.scheduled', step: 'restart', actor: 'worker', data: { failureClass: 'transient', delayMs: 1200 } };
    view.update([{ scenario, task: task('retry_scheduled'), fresh: [...move(2, 'queued', 'running'), ...move(3, 'running', 'retry_scheduled', [retry])] }]);
    view.update([{ scenario, task: task('retry_scheduled'), fresh: [] }]);
    expect(out.join('')).toBe(
      '  + 0.5s  restart    tsk_1  queued -> running  (at restart)\n' +
        '  + 0.5s  restart    tsk_1  running -> retry_scheduled  (restart failed (transient), retry in 1.2s)\n',
    );
  });

  it('redraws its lines in place on a terminal, only when they change, coloured unless told not to', () => {
    const out: string[] = [];
    const view = progressView({ write: (t) => out.push(t), tty: true, color: true, columns: 200 }, DEMO_SCENARIOS);
    view.update([{ scenario, task: task('queued'), fresh: [] }]);
    view.update([{ scenario, task: task('queued'), fresh: [] }]);
    view.update([{ scenario, task: task('completed', { retryUsed: 2 }), fresh: move(9, 'running', 'completed') }]);
    expect(out).toHaveLength(2);
    expect(out[0]).not.toContain('\x1b[1A');
    expect(out[1]).toMatch(/^\x1b\[1A\r\x1b\[2K\x1b\[32m {2}✔ .*completed +end state verified, after 2 retries\x1b\[0m\n$/);
  });

  it('cuts terminal lines to the width so a wrapped line cannot break the redraw', () => {
    const out: string[] = [];
    const view = progressView({ write: (t) => out.push(t), tty: true, color: false, columns: 40 }, DEMO_SCENARIOS);
    view.update([{ scenario, task: task('queued'), fresh: [] }]);
    const line = out[0]!.replace('\r\x1b[2K', '').replace('\n', '');
    expect(line.length).toBeLessThanOrEqual(39);
  });

  it('prints the lines of one reading in time order across tasks, each task in its ledger order', () => {
    const out: string[] = [];
    const view = progressView({ write: (t) => out.push(t), tty: false, color: false }, DEMO_SCENARIOS, at.getTime());
    const later = (ms: number) => new Date(at.getTime() + ms);
    const moveAt = (seq: number, ms: number, from: string, to: string): EventRow => ({ seq, at: later(ms), type: 'state.changed', step: null, actor: 'worker', data: { from, to } });
    view.update([
      { scenario: DEMO_SCENARIOS[0]!, task: task('completed', { id: 'tsk_a' }), fresh: [moveAt(2, 100, 'queued', 'running'), moveAt(5, 3000, 'running', 'completed')] },
      { scenario: DEMO_SCENARIOS[2]!, task: task('running', { id: 'tsk_b' }), fresh: [moveAt(2, 100, 'queued', 'running'), moveAt(3, 900, 'running', 'retry_scheduled'), moveAt(4, 1500, 'retry_scheduled', 'running')] },
    ]);
    const lines = out.join('').trimEnd().split('\n');
    expect(lines.map((l) => /\+ *([\d.]+)s/.exec(l)![1])).toEqual(['0.1', '0.1', '0.9', '1.5', '3.0']);
    expect(lines.map((l) => /tsk_\w/.exec(l)![0])).toEqual(['tsk_a', 'tsk_b', 'tsk_b', 'tsk_b', 'tsk_a']);
  });
});
