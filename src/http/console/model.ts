/**
 * What the console pages show, as plain data: read from the store by data.ts, rendered by the
 * page modules as pure functions (so the pages are tested without a database or a server).
 */
import type { PacketNow } from '../../escalation/packet-now.js';
import type { Packet } from '../../escalation/packet-schema.js';
import type { OperatorAction, RepeatMode, Role, TaskState } from '../../lifecycle/vocabulary.js';
import type { Problem } from '../../errors.js';
import type { IntakeUnitResult } from '../../store/intake-log.js';
import type { TaskSummary, TaskView } from '../../store/task-view.js';

/** Who is signed in, and the form token their forms carry. */
export interface Viewer {
  name: string;
  role: Role;
  /** The CSRF token for this page's forms. */
  csrf: string;
}

/** True for roles that may act on tasks (an `admin` may do what an `operator` may). */
export function canAct(role: Role): boolean {
  return role === 'operator' || role === 'admin';
}

/** One task waiting for a person, as the inbox lists it. */
export interface InboxItem {
  task: TaskSummary;
  /** When it started waiting (the packet's time, else the escalation's, else the last update). */
  since: string;
  reason: { kind: string; failureClass: string | null; step: string | null; message: string } | null;
  summary: string | null;
  severity: string | null;
  route: string | null;
  recommended: { action: OperatorAction | null; why: string } | null;
  /** For a task taken over: who took it. */
  takenOverBy: string | null;
}

export interface Inbox {
  /** Escalated tasks, newest first. */
  escalated: InboxItem[];
  /** Tasks a person has taken over and not yet handed back, newest first. */
  inHand: InboxItem[];
  /** Tasks waiting at an approval gate, newest first. */
  approvals: InboxItem[];
}

/** The task list's filters, as the query string carries them. */
export interface TaskFilters {
  state?: TaskState;
  runbook?: string;
  taskClass?: string;
  limit: number;
  /** The page after the one whose cursor this is (task-page.ts). */
  cursor?: string;
}

/** What a task waits for, as the task page and the task list say it (the fields `show` reads). */
export type WaitFacts = Pick<TaskView, 'state' | 'leaseOwner' | 'awaitingRole' | 'waitingFor'>;

/** One row of the task list: the summary, and what the task waits for. */
export type TaskListRow = TaskSummary & WaitFacts;

/** The intake log's filters, as the query string carries them. */
export interface IntakeFilters {
  source?: string;
  limit: number;
  /** The page after the one whose cursor this is (intake-log.ts). */
  cursor?: string;
}

/** One request an intake source received, as the intake page shows it (masked). */
export interface IntakeEventLine {
  id: string;
  source: string;
  sourceType: string;
  receivedAt: string;
  deliveryId: string | null;
  outcome: 'processed' | 'unauthorized' | 'invalid';
  summary: Record<string, number>;
  /** What each unit of the request became. */
  results: IntakeUnitResult[];
  /** Why the request was refused (unauthorized, invalid). */
  error: string | null;
}

/** The intake page: a page of the log, the configured sources, the cursor of the next page. */
export interface IntakeLog {
  events: IntakeEventLine[];
  /** The sources of the deployment config, by name, with their type. */
  sources: { name: string; type: string }[];
  nextCursor: string | null;
}

/** One attempt as the task page shows it (masked). */
export interface AttemptLine {
  step: string;
  kind: string;
  attempt: number;
  startedAt: string;
  durationMs: number | null;
  outcome: string | null;
  failureClass: string | null;
  error: string | null;
}

/** What the page knows of a step from the task's runbook version. */
export interface StepInfo {
  id: string;
  title: string | null;
  action: string;
  changes: boolean;
  repeat: RepeatMode;
  hasProbe: boolean;
}

/** Everything the task page shows. */
export interface TaskPage {
  view: TaskView;
  packet: Packet | null;
  /** What became of the task since the packet (undefined: the packet is current). */
  packetNow: PacketNow | undefined;
  attempts: AttemptLine[];
  /** The steps of the runbook version the task runs on, in order (empty when it is not loaded). */
  plan: StepInfo[];
  /** Operator actions the task's state allows (ACTION_FROM). */
  allowed: OperatorAction[];
}

/** One runbook as the runbooks page shows it. */
export interface RunbookLine {
  id: string;
  version: number;
  title: string;
  owner: string;
  file: string;
  hash: string;
  taskClasses: string[];
  route: string;
  steps: StepInfo[];
}

/** A runbook file that does not load, with its problems. */
export interface BrokenRunbook {
  file: string;
  id: string | null;
  taskClasses: string[];
  problems: Problem[];
}

/** Confirmation an action asks for before it repeats an effect (CONFIRMATION_REQUIRED). */
export interface Confirmation {
  action: OperatorAction;
  message: string;
  /** The form's fields, sent again with `yes`. */
  fields: Record<string, string>;
  plan?: { from: string; rerun: string[]; changed: string[] };
}
