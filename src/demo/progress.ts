/**
 * The demo's progress view. On a terminal: one line per task, redrawn in place as its state
 * changes. Anywhere else (a pipe, a CI log): one plain line per state change, so nothing is
 * lost to cursor movement. Colour only on a terminal and never with NO_COLOR.
 *
 * Everything shown is read back from the ledger (`state.changed` and the events written with
 * it), not from the worker's memory: the view shows what a later `runwarden show` will show.
 */
import type { TaskState } from '../lifecycle/vocabulary.js';
import type { EventRow, TaskRow } from '../store/tasks.js';
import type { DemoScenario } from './scenarios.js';

/** What a line is labelled with: a demo scenario, or a task submitted while the demo runs. */
export type ProgressSubject = Pick<DemoScenario, 'key' | 'title'>;

/** One tracked task as the view sees it. */
export interface TaskProgress {
  scenario: ProgressSubject;
  task: TaskRow;
  /** Ledger events not shown yet, in order. */
  fresh: EventRow[];
}

/** Where the view writes, and how. */
export interface ProgressOutput {
  write(text: string): void;
  /** Redraw lines in place (a terminal). */
  tty: boolean;
  color: boolean;
  /** Terminal width; lines are cut to it so a wrapped line never breaks the redraw. */
  columns?: number;
}

export interface ProgressView {
  /** Shows the latest reading of every task. */
  update(tasks: readonly TaskProgress[]): void;
}

const COLORS: Partial<Record<TaskState, number>> = {
  completed: 32,
  rolled_back: 36,
  escalated: 31,
  rejected: 31,
  awaiting_approval: 33,
  retry_scheduled: 33,
  compensating: 33,
};

const MARKS: Partial<Record<TaskState, string>> = {
  completed: '✔',
  rolled_back: '↺',
  escalated: '✖',
  rejected: '✖',
  awaiting_approval: '…',
};

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** Why the task moved to `to`, from the events written with the move. */
function reasonFor(to: TaskState, step: string | null, task: TaskRow, withMove: readonly EventRow[]): string {
  const of = (type: EventRow['type']) => withMove.find((e) => e.type === type);
  switch (to) {
    case 'running':
      return step ? `at ${step}` : '';
    case 'retry_scheduled': {
      const r = of('retry.scheduled');
      if (!r) return '';
      return `${r.step ?? step ?? 'step'} failed (${String(r.data.failureClass)}), retry in ${seconds(Number(r.data.delayMs ?? 0))}`;
    }
    case 'escalated':
      return task.escalation ? `${task.escalation.kind} at ${task.escalation.step ?? '-'}: packet written` : 'packet written';
    case 'compensating':
      return `${step ?? 'a step'} failed: undoing what was done`;
    case 'rolled_back': {
      // Newest first, the order the compensations ran in.
      const undone = Object.entries(task.steps).filter(([, s]) => s.status === 'compensated').map(([id]) => id).reverse();
      return undone.length ? `undone: ${undone.join(', ')}` : 'nothing needed undoing';
    }
    case 'awaiting_approval':
      return `approval needed before ${step ?? 'the next step'}`;
    case 'completed':
      return task.retryUsed ? `end state verified, after ${task.retryUsed} retries` : 'end state verified';
    case 'rejected': {
      const problems = (task.rejection as { problems?: Array<{ message: string }> } | null)?.problems ?? [];
      return problems[0]?.message ?? 'refused at intake';
    }
    default:
      return '';
  }
}

/** Each `state.changed` among `events` with the events written in the same change. */
function moves(events: readonly EventRow[]): Array<{ move: EventRow; withMove: EventRow[] }> {
  const out: Array<{ move: EventRow; withMove: EventRow[] }> = [];
  for (const e of events) {
    if (e.type === 'state.changed') out.push({ move: e, withMove: [] });
    else out.at(-1)?.withMove.push(e);
  }
  return out;
}

function paint(out: ProgressOutput, state: TaskState, text: string): string {
  const code = COLORS[state];
  return out.color && code ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/** A view that redraws one line per task in place. */
function ttyView(out: ProgressOutput, scenarios: readonly ProgressSubject[]): ProgressView {
  const titleWidth = Math.max(...scenarios.map((s) => s.title.length));
  const detail = new Map<string, string>();
  const since = new Map<string, number>();
  let drawn: string[] = [];
  const cut = (s: string) => {
    const max = Math.max(20, (out.columns ?? 100) - 1);
    return s.length > max ? `${s.slice(0, max - 1)}…` : s;
  };
  return {
    update(tasks) {
      const lines = tasks.map(({ scenario, task, fresh }) => {
        const last = moves(fresh).at(-1);
        if (last) {
          detail.set(task.id, reasonFor(String(last.move.data.to) as TaskState, last.move.step, task, last.withMove));
          since.set(task.id, last.move.at.getTime());
        }
        // Intake writes no state.changed for a rejection: its reason comes from the row.
        if (task.state === 'rejected' && !detail.has(task.id)) detail.set(task.id, reasonFor('rejected', null, task, []));
        let note = detail.get(task.id) ?? '';
        // A running task shows its step and how long it has been at it, so a long check looks alive.
        if (task.state === 'running' && task.currentStep) {
          note = `at ${task.currentStep}, ${Math.floor((Date.now() - (since.get(task.id) ?? Date.now())) / 1000)}s`;
        }
        const mark = MARKS[task.state] ?? '·';
        const text = cut(`  ${mark} ${scenario.title.padEnd(titleWidth)}  ${task.state.padEnd(17)} ${note}`.trimEnd());
        // Colour is added after cutting so escape codes never count against the width.
        return paint(out, task.state, text);
      });
      if (lines.length === drawn.length && lines.every((l, i) => l === drawn[i])) return;
      // Up to the first line drawn, then each line cleared and written again.
      const up = drawn.length ? `\x1b[${drawn.length}A` : '';
      out.write(`${up}${lines.map((l) => `\r\x1b[2K${l}\n`).join('')}`);
      drawn = lines;
    },
  };
}

/**
 * A view that prints one line per state change (for pipes and logs). The lines of one reading
 * are printed in time order across tasks, not task by task: a log reads as a timeline.
 */
function plainView(out: ProgressOutput, scenarios: readonly ProgressSubject[], startedAt: number): ProgressView {
  const keyWidth = Math.max(...scenarios.map((s) => s.key.length));
  const rejectedShown = new Set<string>();
  const line = (at: number, scenario: ProgressSubject, task: TaskRow, text: string) =>
    `  +${seconds(Math.max(0, at - startedAt)).padStart(5)}  ${scenario.key.padEnd(keyWidth)}  ${task.id}  ${text}\n`;
  return {
    update(tasks) {
      const lines: Array<{ at: number; seq: number; order: number; text: string }> = [];
      tasks.forEach(({ scenario, task, fresh }, order) => {
        if (task.state === 'rejected' && !rejectedShown.has(task.id)) {
          rejectedShown.add(task.id);
          lines.push({ at: task.createdAt.getTime(), seq: 0, order, text: line(task.createdAt.getTime(), scenario, task, `rejected: ${reasonFor('rejected', null, task, [])}`) });
        }
        for (const { move, withMove } of moves(fresh)) {
          const to = String(move.data.to) as TaskState;
          const why = reasonFor(to, move.step, task, withMove);
          lines.push({ at: move.at.getTime(), seq: move.seq, order, text: line(move.at.getTime(), scenario, task, `${String(move.data.from)} -> ${paint(out, to, to)}${why ? `  (${why})` : ''}`) });
        }
      });
      // Stable on ties: one task's moves keep their ledger order, tasks their listed order.
      lines.sort((a, b) => a.at - b.at || a.order - b.order || a.seq - b.seq);
      if (lines.length) out.write(lines.map((l) => l.text).join(''));
    },
  };
}

/** The view for `out`: in place on a terminal, line by line elsewhere. */
export function progressView(out: ProgressOutput, scenarios: readonly ProgressSubject[], startedAt = Date.now()): ProgressView {
  return out.tty ? ttyView(out, scenarios) : plainView(out, scenarios, startedAt);
}
