/**
 * Compiles a validated runbook document into the immutable plan the orchestrator executes
 * (plan.ts): durations in milliseconds, CEL compiled, defaults filled, retry policies merged.
 * It runs only on documents that passed the schema and every check, so a failure here is a bug.
 */
import { createHash } from 'node:crypto';
import { RunwardenError } from '../errors.js';
import type { RepeatMode } from '../lifecycle/vocabulary.js';
import {
  actionChanges,
  ApproveWith,
  DecideWith,
  ExecWith,
  HttpWith,
  SetWith,
  WaitWith,
  type PluginRegistry,
} from './action-schema.js';
import { compileExpr, type CelScope } from './cel.js';
import { compileTemplate } from './template.js';
import { parseDuration } from './duration.js';
import { compileInputSchema, sensitiveInputPaths } from './input-schema.js';
import type {
  ActionSpec,
  CompiledRunbook,
  CompiledStep,
  Expr,
  OnFailure,
  SystemDef,
  Template,
  TemplateTree,
} from './plan.js';
import { mergeRetry } from './retry-defaults.js';
import type { ActionCallDoc, InputSchemaNode, RunbookDoc, StepDoc } from './schema.js';

/** Defaults, stated once (and in the schema's descriptions). */
export const DEFAULTS = {
  deadlineMs: 3_600_000,
  retryBudget: 10,
  severity: 'high',
  systemTimeoutMs: 10_000,
  minConfidence: 0.7,
  timezone: 'UTC',
  missed: 'skip',
  overlap: 'skip',
} as const;

function bug(what: string): never {
  throw new RunwardenError('INTERNAL', `runbook compiler: ${what} (the checks should have refused this)`);
}

function expr(source: string, scope: CelScope = 'task'): Expr {
  const c = compileExpr(source, scope);
  return 'error' in c ? bug(`CEL \`${source}\`: ${c.error.message}`) : c.expr;
}

function template(source: string): Template {
  const c = compileTemplate(source);
  return 'errors' in c ? bug(`template \`${source}\``) : c.template;
}

function templateRecord(rec: Record<string, string> | undefined): Record<string, Template> {
  return Object.fromEntries(Object.entries(rec ?? {}).map(([k, v]) => [k, template(v)]));
}

function templateTree(value: unknown): TemplateTree {
  if (typeof value === 'string') return template(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
  if (Array.isArray(value)) return value.map(templateTree);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, templateTree(v)]));
  return null;
}

function exprRecord(rec: Record<string, string> | undefined, scope: CelScope): Record<string, Expr> {
  return Object.fromEntries(Object.entries(rec ?? {}).map(([k, v]) => [k, expr(v, scope)]));
}

function ms(duration: string | undefined): number | undefined {
  return duration === undefined ? undefined : parseDuration(duration);
}

function compileSpec(call: ActionCallDoc, deadlineMs: number): ActionSpec {
  const raw = call.with ?? {};
  switch (call.action) {
    case 'http': {
      const w = HttpWith.parse(raw);
      return {
        action: 'http',
        with: {
          ...(w.system !== undefined ? { system: w.system } : {}),
          ...(w.url !== undefined ? { url: template(w.url) } : {}),
          ...(w.path !== undefined ? { path: template(w.path) } : {}),
          method: w.method ?? 'GET',
          headers: templateRecord(w.headers),
          query: templateRecord(w.query),
          ...(w.body !== undefined ? { body: templateTree(w.body) } : {}),
          ...(w.idempotencyKey !== undefined ? { idempotencyKey: template(w.idempotencyKey) } : {}),
        },
      };
    }
    case 'exec': {
      const w = ExecWith.parse(raw);
      return {
        action: 'exec',
        with: { program: w.program, args: (w.args ?? []).map(template), env: templateRecord(w.env), ...(w.cwd !== undefined ? { cwd: template(w.cwd) } : {}) },
      };
    }
    case 'wait': {
      const w = WaitWith.parse(raw);
      return { action: 'wait', with: { withinMs: ms(w.within) ?? deadlineMs } };
    }
    case 'approve': {
      const w = ApproveWith.parse(raw);
      return { action: 'approve', with: { ...(w.route !== undefined ? { route: w.route } : {}), ...(w.prompt !== undefined ? { prompt: template(w.prompt) } : {}) } };
    }
    case 'decide': {
      const w = DecideWith.parse(raw);
      return {
        action: 'decide',
        with: {
          question: w.question,
          show: (w.show ?? []).map((s) => expr(s)),
          options: w.options.map((o) => ({
            id: o.id,
            ...(o.goto !== undefined ? { goto: o.goto } : {}),
            escalate: o.escalate ?? false,
            ...(o.when !== undefined ? { when: expr(o.when) } : {}),
          })),
          minConfidence: w.minConfidence ?? DEFAULTS.minConfidence,
        },
      };
    }
    case 'set':
      return { action: 'set', with: { values: exprRecord(SetWith.parse(raw) as Record<string, string>, 'task') } };
    default:
      return { action: 'plugin', plugin: call.action, with: { tree: templateTree(raw) } };
  }
}

function onFailure(text: string | undefined): OnFailure {
  if (text === undefined || text === 'escalate') return { mode: 'escalate' };
  if (text === 'rollback' || text === 'continue') return { mode: text };
  return { mode: 'goto', target: text.slice('goto:'.length) };
}

function repeatOf(declared: RepeatMode | undefined, changes: boolean): RepeatMode {
  return declared ?? (changes ? bug('a step that changes state has no repeat') : 'safe');
}

function compileStep(doc: RunbookDoc, s: StepDoc, index: number, deadlineMs: number, plugins?: PluginRegistry): CompiledStep {
  const changes = actionChanges(s.action, s.with, plugins);
  const step: CompiledStep = {
    id: s.id,
    index,
    ...(s.title !== undefined ? { title: s.title } : {}),
    spec: compileSpec(s, deadlineMs),
    changes,
    repeat: repeatOf(s.repeat, changes),
    ...(s.timeout !== undefined ? { timeoutMs: parseDuration(s.timeout) } : {}),
    ...(s.when !== undefined ? { when: expr(s.when) } : {}),
    retry: mergeRetry(doc.retry, s.retry),
    classify: (s.classify ?? []).map((c) => ({ when: expr(c.when, 'result'), as: c.as })),
    capture: exprRecord(s.capture, 'result'),
    ids: [...(s.ids ?? [])],
    verify: (s.verify ?? []).map((v) => ({
      id: v.id,
      spec: compileSpec(v, deadlineMs),
      expect: expr(v.expect, 'result'),
      ...(v.poll ? { poll: { everyMs: parseDuration(v.poll.every), withinMs: parseDuration(v.poll.within) } } : {}),
      ...(v.timeout !== undefined ? { timeoutMs: parseDuration(v.timeout) } : {}),
    })),
    onFailure: onFailure(s.onFailure),
    critical: s.critical ?? true,
    next: (s.next ?? []).map((n) => ({ goto: n.goto, ...(n.when !== undefined ? { when: expr(n.when) } : {}) })),
    ...(s.route !== undefined ? { route: s.route } : {}),
  };
  if (s.probe) {
    const p = s.probe;
    step.probe = {
      spec: compileSpec(p, deadlineMs),
      present: expr(p.present ?? bug('probe without present'), 'result'),
      absent: expr(p.absent ?? bug('probe without absent'), 'result'),
      capture: exprRecord(p.capture, 'result'),
      ...(p.timeout !== undefined ? { timeoutMs: parseDuration(p.timeout) } : {}),
    };
  }
  if (s.compensate) {
    const c = s.compensate;
    step.compensate = {
      spec: compileSpec(c, deadlineMs),
      repeat: repeatOf(c.repeat, actionChanges(c.action, c.with, plugins)),
      ...(c.timeout !== undefined ? { timeoutMs: parseDuration(c.timeout) } : {}),
    };
  }
  if (s.approval) {
    const a = s.approval;
    step.approval = {
      ...(a.route !== undefined ? { route: a.route } : {}),
      ...(a.when !== undefined ? { when: expr(a.when) } : {}),
      ...(a.prompt !== undefined ? { prompt: a.prompt } : {}),
    };
  }
  if (s.action === 'decide') step.fallback = s.fallback ?? 'escalate';
  return step;
}

/** Compiles a document that passed the schema and the checks. The result is deep-frozen. */
/**
 * Compiles a validated runbook document. `source` is the text it was parsed from: its SHA-256 is
 * the version's identity (`hash`), the key a task is pinned to.
 */
export function compileRunbook(doc: RunbookDoc, file: string, opts: { plugins?: PluginRegistry } = {}, source = ''): CompiledRunbook {
  const deadlineMs = ms(doc.policy?.deadline) ?? DEFAULTS.deadlineMs;
  const inputSchema: InputSchemaNode = doc.input ?? { type: 'object' };
  const input = compileInputSchema(inputSchema);
  if ('error' in input) bug(`input schema: ${input.error}`);
  const systems: Record<string, SystemDef> = {};
  for (const [name, sys] of Object.entries(doc.systems ?? {})) {
    systems[name] = { name, baseUrl: template(sys.baseUrl), headers: templateRecord(sys.headers), timeoutMs: ms(sys.timeout) ?? DEFAULTS.systemTimeoutMs };
  }
  const steps = doc.steps.map((s, i) => compileStep(doc, s, i, deadlineMs, opts.plugins));
  const sched = doc.schedule;
  const runbook: CompiledRunbook = {
    id: doc.runbook,
    version: doc.version,
    title: doc.title,
    owner: doc.owner,
    taskClasses: [...doc.taskClasses],
    file,
    hash: createHash('sha256').update(source).digest('hex'),
    source,
    inputSchema: inputSchema as Record<string, unknown>,
    validateInput: input.validate,
    sensitiveInputs: sensitiveInputPaths(inputSchema),
    systems,
    policy: {
      deadlineMs,
      retryBudget: doc.policy?.retryBudget ?? DEFAULTS.retryBudget,
      guards: (doc.policy?.guards ?? []).map((g) => ({ name: g.name, deny: expr(g.deny), message: g.message ?? `guard ${g.name} denied the task` })),
      allowExec: [...(doc.policy?.allowExec ?? [])],
      ...(doc.policy?.concurrency ? { concurrency: { key: expr(doc.policy.concurrency.key), limit: doc.policy.concurrency.limit } } : {}),
    },
    escalation: {
      route: doc.escalation?.route ?? doc.owner,
      routes: { ...(doc.escalation?.routes ?? {}) },
      severity: doc.escalation?.severity ?? DEFAULTS.severity,
      recommend: { ...(doc.escalation?.recommend ?? {}) },
      ...(doc.escalation?.ackWithin !== undefined ? { ackWithinMs: parseDuration(doc.escalation.ackWithin) } : {}),
      then: [...(doc.escalation?.then ?? [])],
    },
    ...(sched
      ? {
          schedule: {
            cron: sched.cron,
            timezone: sched.timezone ?? DEFAULTS.timezone,
            input: { ...(sched.input ?? {}) },
            missed: sched.missed ?? DEFAULTS.missed,
            overlap: sched.overlap ?? DEFAULTS.overlap,
            ...(sched.expectSuccessWithin !== undefined ? { expectSuccessWithinMs: parseDuration(sched.expectSuccessWithin) } : {}),
          },
        }
      : {}),
    steps,
    stepIndex: Object.fromEntries(steps.map((s) => [s.id, s.index])),
  };
  return deepFreeze(runbook);
}

/** Freezes plain objects and arrays all the way down; functions are left alone. */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value as object)) deepFreeze(v);
  return value;
}
