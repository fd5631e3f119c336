/**
 * CEL for runbooks: conditions (`when`, `deny`, `expect`, ...) and `${...}` interpolation in
 * strings, parsed and type-checked at load so a bad expression is a validation problem with its
 * location, never a run-time surprise (runbook-format.md, "Expressions").
 *
 * Why @marcbachmann/cel-js and not @bufbuild/cel: bufbuild's package evaluates but has no type
 * checker, and checking at load is the whole point. cel-js also passes most of the CEL conformance
 * suite (macros, optional chaining, the standard functions Kubernetes users know), has no
 * dependencies, and parses and evaluates an order of magnitude faster than the other JavaScript
 * implementations, which matters because every guard runs before every step.
 */
import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import { RunwardenError } from '../errors.js';
import { compileHint, evalHint } from './cel-hints.js';
import type { ExprContext, Expr } from './plan.js';

/**
 * Which names an expression sees. `task`: `input`, `task`, `steps`, `env`, `secrets`. `result`:
 * those and `result` (in `classify`, `capture`, verify `expect`, probe `present`/`absent`/`capture`).
 */
export type CelScope = 'task' | 'result';

/** A parse or type error, with its offset in the source string (a template's, for templates). */
export interface CelError {
  message: string;
  offset: number;
}

/** A variable a compiled expression reads: `steps.restart` is `{ root: 'steps', member: 'restart' }`. */
export interface CelRef {
  root: string;
  member?: string;
  /** Offset in the source string (of the template, for templates). */
  offset: number;
}

function baseEnvironment(): Environment {
  return (
    // Mixed literals (`{'id': 1, 'name': 'x'}`) are ordinary in request bodies and `show` lists.
    new Environment({ homogeneousAggregateLiterals: false })
      // `input` stays a plain map: typing it from the input schema would make optional fields
      // that are absent at run time fail in ways the type checker promised they would not.
      .registerVariable('input', 'map', { description: "The task's validated input parameters." })
      .registerVariable({
        name: 'task',
        description: 'The task: id, externalRef, taskClass, attempt (1-based), requestedBy, and callbackToken in runbooks with a wait step.',
        schema: { id: 'string', externalRef: 'dyn', taskClass: 'string', attempt: 'int', requestedBy: 'dyn', callbackToken: 'dyn' },
      })
      .registerVariable('steps', 'map<string, map<string, dyn>>', { description: 'What earlier steps captured, plus `status`.' })
      .registerVariable('env', 'map<string, string>', { description: 'Environment variables the deployment config lists.' })
      .registerVariable('secrets', 'map<string, string>', { description: 'Secrets the deployment config names.' })
  );
}

// Environments are expensive to build and immutable once used: one per scope, for the process.
const taskEnvironment = baseEnvironment();
const resultEnvironment = baseEnvironment().registerVariable('result', 'dyn', { description: "The action's result." });
const ENVIRONMENTS: Record<CelScope, Environment> = { task: taskEnvironment, result: resultEnvironment };

const RESULT_HINT =
  '`result` is only visible in classify, capture, verify `expect` and probe `present`/`absent`/`capture`';

type Parsed = ReturnType<Environment['parse']>;

/** Parses and type-checks one expression. */
function checkSource(source: string, scope: CelScope | Environment): { parsed: Parsed; refs: CelRef[]; type?: string } | { error: CelError } {
  const env = typeof scope === 'string' ? ENVIRONMENTS[scope] : scope;
  let parsed: Parsed;
  try {
    parsed = env.parse(source);
  } catch (err) {
    return { error: toCelError(err, source) };
  }
  const checked = env.check(source);
  if (!checked.valid) return { error: toCelError(checked.error, source) };
  return { parsed, refs: collectRefs(parsed.ast), ...(checked.type ? { type: String(checked.type) } : {}) };
}

function toCelError(err: unknown, source: string): CelError {
  const e = err as { summary?: string; message?: string; code?: string; range?: { start: number } } | undefined;
  const summary = e?.summary ?? e?.message?.split('\n')[0] ?? String(err);
  const offset = Math.min(Math.max(0, e?.range?.start ?? 0), source.length);
  if (e?.code === 'unknown_variable' && /\bresult\b/.test(summary)) return { message: `${summary}: ${RESULT_HINT}`, offset };
  const hint = compileHint(summary, source);
  return { message: hint ? `${summary}: ${hint}` : summary, offset };
}

/** Every `name`, `name.member` and `name['member']` the expression reads. */
function collectRefs(root: ASTNode): CelRef[] {
  const refs: CelRef[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n);
      return;
    }
    if (!node || typeof node !== 'object' || !('op' in node)) return;
    const n = node as ASTNode;
    if (n.op === 'id') {
      refs.push({ root: n.args, offset: n.range.start });
      return;
    }
    if ((n.op === '.' || n.op === '.?') && n.args[0].op === 'id') {
      refs.push({ root: n.args[0].args, member: n.args[1], offset: n.range.start });
      return;
    }
    if ((n.op === '[]' || n.op === '[?]') && n.args[0].op === 'id' && n.args[1].op === 'value' && typeof n.args[1].args === 'string') {
      refs.push({ root: n.args[0].args, member: n.args[1].args, offset: n.range.start });
      return;
    }
    visit(n.args);
  };
  visit(root);
  return refs;
}

/** Converts a JS value for CEL: integers become BigInt (CEL `int`), other numbers stay doubles. */
export function toCel(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCel);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toCel(v);
    return out;
  }
  return value;
}

/**
 * Converts a CEL value back to plain JS: ints to numbers when safe; beyond 2^53 to decimal
 * strings, so the value survives JSON in the ledger instead of breaking `JSON.stringify`.
 */
export function fromCel(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Array.isArray(value)) return value.map(fromCel);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), fromCel(v)]));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromCel(v);
    return out;
  }
  // cel-js's uint (`1u`) is an object holding a bigint.
  if (value && typeof value === 'object' && value.constructor?.name === 'UnsignedInteger') return fromCel((value as { value: bigint }).value);
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function celContext(ctx: ExprContext, scope: CelScope): Record<string, unknown> {
  const t = ctx.task;
  const out: Record<string, unknown> = {
    input: toCel(ctx.input ?? {}),
    task: {
      id: t.id,
      externalRef: t.externalRef ?? null,
      taskClass: t.taskClass,
      attempt: BigInt(t.attempt),
      requestedBy: t.requestedBy ?? null,
    },
    steps: toCel(ctx.steps ?? {}),
    env: ctx.env ?? {},
    secrets: ctx.secrets ?? {},
  };
  if (scope === 'result') out.result = toCel(ctx.result ?? null);
  return out;
}

function evaluateParsed(parsed: Parsed, source: string, ctx: ExprContext, scope: CelScope): unknown {
  try {
    return fromCel(parsed(celContext(ctx, scope)));
  } catch (err) {
    const e = err as { summary?: string; message?: string; code?: string };
    const why = evalHint(e, source, ctx.env) ?? e.summary ?? e.message?.split('\n')[0] ?? String(err);
    throw new RunwardenError('EXPRESSION_FAILED', `expression \`${source}\` failed: ${why}`, {
      details: { expression: source, ...(e.code ? { celCode: e.code } : {}) },
      cause: err,
    });
  }
}

/** Parses and type-checks a CEL expression for the given scope. */
export function compileExpr(source: string, scope: CelScope): { expr: Expr; refs: CelRef[] } | { error: CelError } {
  const checked = checkSource(source, scope);
  if ('error' in checked) return checked;
  const { parsed } = checked;
  const expr: Expr = {
    source,
    evaluate: (ctx) => evaluateParsed(parsed, source, ctx, scope),
    test(ctx) {
      const value = evaluateParsed(parsed, source, ctx, scope);
      if (typeof value !== 'boolean') {
        throw new RunwardenError('EXPRESSION_FAILED', `expression \`${source}\` must give a bool, gave ${describeValue(value)}`, {
          details: { expression: source },
        });
      }
      return value;
    },
  };
  return { expr, refs: checked.refs };
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a map' : `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * The names an intake mapping sees (deployment config `intake.sources.NAME.mapping`): `payload`
 * (the request body as JSON), `event` (the unit being mapped: one alert of an Alertmanager group,
 * else the payload itself), `headers` (lower-case names) and `env` (the listed variables).
 */
const intakeEnvironment = new Environment({ homogeneousAggregateLiterals: false })
  .registerVariable('payload', 'dyn', { description: 'The request body, parsed as JSON.' })
  .registerVariable('event', 'dyn', { description: 'The unit mapped: one alert of an Alertmanager group, else the payload.' })
  .registerVariable('headers', 'map<string, string>', { description: 'The request headers, names in lower case.' })
  .registerVariable('env', 'map<string, string>', { description: 'Environment variables the deployment config lists.' });

/** What an intake mapping expression is evaluated over. */
export interface IntakeVars {
  payload: unknown;
  event: unknown;
  headers: Record<string, string>;
  env: Record<string, string>;
}

/** A compiled intake mapping expression. `type` is the checker's result type (`string`, `dyn`, ...). */
export interface IntakeExpr {
  source: string;
  type: string;
  evaluate(vars: IntakeVars): unknown;
}

/** Parses and type-checks an intake mapping expression (the same checker as runbook expressions). */
export function compileIntakeExpr(source: string): { expr: IntakeExpr } | { error: CelError } {
  const checked = checkSource(source, intakeEnvironment);
  if ('error' in checked) return checked;
  const { parsed } = checked;
  return {
    expr: {
      source,
      type: checked.type ?? 'dyn',
      evaluate(vars) {
        try {
          return fromCel(parsed({ payload: toCel(vars.payload ?? null), event: toCel(vars.event ?? null), headers: vars.headers, env: vars.env }));
        } catch (err) {
          const e = err as { summary?: string; message?: string; code?: string };
          const why = e.summary ?? e.message?.split('\n')[0] ?? String(err);
          throw new RunwardenError('EXPRESSION_FAILED', `expression \`${source}\` failed: ${why}`, { details: { expression: source }, cause: err });
        }
      },
    },
  };
}
