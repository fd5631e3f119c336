/**
 * Which `env.NAME` a runbook reads, and where: so a runbook that reads a variable the deployment
 * config does not list is reported by `validate` and at `work` start, at its file:line:col,
 * rather than found by the first task that reaches the expression.
 *
 * Read from the raw YAML value: every string that holds a `${...}` template, or that compiles as
 * a CEL expression (conditions, captures), is compiled and its references collected. Prose (a
 * title, a message) does not compile as CEL, so it contributes nothing.
 */
import { compileExpr, type CelRef } from './cel.js';
import { compileTemplate } from './template.js';
import type { Finding, PathSegment } from './yaml-source.js';

/** One `env.NAME` read, before it is located. */
export interface EnvRefFinding {
  name: string;
  path: PathSegment[];
  offset: number;
}

function refsOf(s: string): CelRef[] {
  if (s.includes('${')) {
    const t = compileTemplate(s, 'result');
    return 'errors' in t ? [] : t.refs;
  }
  const e = compileExpr(s, 'result');
  return 'error' in e ? [] : e.refs;
}

/** Every `env.NAME` / `env['NAME']` in the runbook's strings, with where it is. */
export function envReferences(value: unknown): EnvRefFinding[] {
  const out: EnvRefFinding[] = [];
  const walk = (v: unknown, path: PathSegment[], depth: number): void => {
    if (depth > 64) return;
    if (typeof v === 'string') {
      if (!/\benv\b/.test(v)) return;
      for (const r of refsOf(v)) if (r.root === 'env' && r.member !== undefined) out.push({ name: r.member, path, offset: r.offset });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i], depth + 1));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k], depth + 1);
  };
  walk(value, [], 0);
  return out;
}

/** The finding for a read of a variable the config does not list. */
export function unlistedEnvFinding(ref: EnvRefFinding, listed: readonly string[], configFile: string): Finding {
  const list = [...listed, ref.name].join(', ');
  return {
    path: ref.path,
    offset: ref.offset,
    message: `env.${ref.name}: ${ref.name} is not listed under \`env:\` in ${configFile}, and runbooks see only the variables listed there; add it (env: [${list}])`,
  };
}
