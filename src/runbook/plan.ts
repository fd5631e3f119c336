/**
 * The compiled, immutable plan of a runbook: what the orchestrator executes. The loader
 * (`load.ts`) validates YAML against the zod schema (`schema.ts`) and compiles it into these
 * types: durations in milliseconds, CEL parsed and type-checked, defaults filled, `goto` targets
 * resolved, and retry policies merged per failure class (step override > runbook > built-in).
 */
import type { FailureClass, RepeatMode, StepStatus } from '../lifecycle/vocabulary.js';
import type { Problem } from '../errors.js';
import type { PluginRegistry } from './action-schema.js';

/** What CEL expressions see (runbook-format.md, "Names visible to expressions"). */
export interface ExprContext {
  input: Record<string, unknown>;
  task: { id: string; externalRef: string | null; taskClass: string; attempt: number; requestedBy: string | null };
  /** `steps.<id>`: what the step captured, plus `status`. */
  steps: Record<string, Record<string, unknown> & { status: StepStatus }>;
  env: Record<string, string>;
  secrets: Record<string, string>;
  /** Only inside `classify`, `capture`, `expect`, probe `present`/`absent`/`capture`. */
  result?: unknown;
}

/** A parsed, type-checked CEL expression. */
export interface Expr {
  readonly source: string;
  /** Evaluates to a plain JS value (CEL ints come back as numbers when safe). Throws on error. */
  evaluate(ctx: ExprContext): unknown;
  /** Evaluates and requires a bool. Throws when the result is not a bool. */
  test(ctx: ExprContext): boolean;
}

/**
 * A string with `${...}` CEL interpolation. A string that is exactly one `${expr}` renders to the
 * expression's value with its type kept (a number stays a number); otherwise to a string.
 */
export interface Template {
  readonly source: string;
  render(ctx: ExprContext): unknown;
  /** True when rendering reads `secrets` (its output must be masked before it is recorded). */
  readonly usesSecrets: boolean;
}

/** A JSON-like value whose strings are templates (an http body, plugin `with`, exec env). */
export type TemplateTree =
  | Template
  | number
  | boolean
  | null
  | TemplateTree[]
  | { [key: string]: TemplateTree };

export interface RetryPolicy {
  /** Tries in all, including the first. 1 means no retry. */
  attempts: number;
  backoff: 'fixed' | 'exponential';
  delayMs: number;
  maxDelayMs: number;
  jitter: boolean;
  /** Re-run earlier `safe` steps before retrying: all of them (`true`) or those named. */
  refresh: boolean | string[];
  /** A success after a retry of this class waits for a person (`confirm_after_retry`). */
  confirm: boolean;
}

export type RetryPolicies = Partial<Record<FailureClass, RetryPolicy>>;

export interface SystemDef {
  name: string;
  baseUrl: Template;
  headers: Record<string, Template>;
  timeoutMs: number;
}

export interface HttpWith {
  system?: string;
  url?: Template;
  path?: Template;
  method: string;
  headers: Record<string, Template>;
  query: Record<string, Template>;
  body?: TemplateTree;
  /** Sent as the `Idempotency-Key` header. */
  idempotencyKey?: Template;
}

export interface ExecWith {
  program: string;
  args: Template[];
  env: Record<string, Template>;
  cwd?: Template;
}

export interface WaitWith {
  withinMs: number;
}

export interface ApproveWith {
  route?: string;
  prompt?: Template;
}

export interface DecideOption {
  id: string;
  /** Step id (resolved, later than the decide step) or `end`. */
  goto?: string;
  escalate: boolean;
  when?: Expr;
}

export interface DecideWith {
  question: string;
  /** What the agent may see: each entry a CEL expression evaluated over the task context. */
  show: Expr[];
  options: DecideOption[];
  minConfidence: number;
}

export interface SetWith {
  values: Record<string, Expr>;
}

export interface PluginWith {
  tree: TemplateTree;
}

export type ActionSpec =
  | { action: 'http'; with: HttpWith }
  | { action: 'exec'; with: ExecWith }
  | { action: 'wait'; with: WaitWith }
  | { action: 'approve'; with: ApproveWith }
  | { action: 'decide'; with: DecideWith }
  | { action: 'set'; with: SetWith }
  | { action: 'plugin'; plugin: string; with: PluginWith };

export interface VerifyCheck {
  id: string;
  spec: ActionSpec;
  expect: Expr;
  /** Without `poll` the check runs once. */
  poll?: { everyMs: number; withinMs: number };
  timeoutMs?: number;
}

export interface Probe {
  spec: ActionSpec;
  present: Expr;
  absent: Expr;
  capture: Record<string, Expr>;
  timeoutMs?: number;
}

export interface Compensation {
  spec: ActionSpec;
  repeat: RepeatMode;
  timeoutMs?: number;
}

export type OnFailure =
  | { mode: 'escalate' }
  | { mode: 'rollback' }
  | { mode: 'continue' }
  | { mode: 'goto'; target: string };

export interface NextRule {
  when?: Expr;
  /** A later step id, or `end`. */
  goto: string;
}

export interface CompiledStep {
  id: string;
  index: number;
  title?: string;
  spec: ActionSpec;
  /** Whether the action changes something outside (http other than GET/HEAD/OPTIONS, exec, plugins that say so). */
  changes: boolean;
  /** `safe` for steps that change nothing and say nothing. */
  repeat: RepeatMode;
  timeoutMs?: number;
  when?: Expr;
  /** Merged: step override > runbook `retry` > built-in defaults. A class absent here is not retried. */
  retry: RetryPolicies;
  classify: { when: Expr; as: FailureClass }[];
  capture: Record<string, Expr>;
  /** Captured names that are external system ids (shown as side effects in packets). */
  ids: string[];
  verify: VerifyCheck[];
  probe?: Probe;
  compensate?: Compensation;
  approval?: { route?: string; when?: Expr; prompt?: string };
  onFailure: OnFailure;
  critical: boolean;
  next: NextRule[];
  route?: string;
  /** `decide` only: what to do without a model: `escalate` or an option id. */
  fallback?: string;
}

export interface Guard {
  name: string;
  deny: Expr;
  message: string;
}

export interface Schedule {
  cron: string;
  timezone: string;
  input: Record<string, unknown>;
  missed: 'skip' | 'run-once';
  overlap: 'skip' | 'allow' | 'queue';
  /** No completed run this long after a fire: a silent-failure packet. Absent: not watched. */
  expectSuccessWithinMs?: number;
}

export interface CompiledRunbook {
  id: string;
  version: number;
  title: string;
  owner: string;
  taskClasses: string[];
  /** Path of the YAML file it came from. */
  file: string;
  /** SHA-256 (hex) of the source text: the identity of this version, which tasks are pinned to. */
  hash: string;
  /** The YAML text it was compiled from (stored with the tasks that start on it). */
  source: string;
  /** The input JSON Schema (subset) as written. */
  inputSchema: Record<string, unknown>;
  /** Checks a task's input; every problem with its JSON path (`input.environment`). */
  validateInput(input: unknown): Problem[];
  /** Dotted input paths marked `sensitive: true` in the input schema; masked in packets. */
  sensitiveInputs: string[];
  systems: Record<string, SystemDef>;
  policy: {
    deadlineMs: number;
    retryBudget: number;
    guards: Guard[];
    allowExec: string[];
    /** `policy.concurrency`: the key (CEL over input and task) and how many may run at once. */
    concurrency?: { key: Expr; limit: number };
  };
  escalation: {
    route: string;
    routes: Record<string, string>;
    severity: 'critical' | 'high' | 'medium' | 'low' | 'info';
    /** Owner-written next-action text by reason kind, failure class or step id. */
    recommend: Record<string, string>;
    /** `ackWithin`: re-escalate an unacknowledged task after this long, to the next of `then`. */
    ackWithinMs?: number;
    /** The routes tried next, in order, one per window. */
    then: string[];
  };
  schedule?: Schedule;
  steps: CompiledStep[];
  /** Step id -> index in `steps`. */
  stepIndex: Record<string, number>;
}

/** All runbooks of a folder, indexed. */
export interface RunbookSet {
  runbooks: CompiledRunbook[];
  byId: Map<string, CompiledRunbook>;
  byTaskClass: Map<string, CompiledRunbook>;
  /** The plugin actions they were compiled with, to compile a task's pinned version alike. */
  plugins?: PluginRegistry;
}
