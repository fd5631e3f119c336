/**
 * Strings with `${...}` CEL interpolation (runbook-format.md, "Expressions"): split into text and
 * expressions, each expression compiled and type-checked like any other (cel.ts), every error
 * returned with its offset in the template.
 */
import { compileExpr, type CelError, type CelRef, type CelScope } from './cel.js';
import type { Expr, Template } from './plan.js';

/** One piece of a template: literal text, or an expression with its offset in the template. */
export type TemplatePart = { text: string } | { expr: string; offset: number };

/**
 * Splits `a ${expr} b` into parts. The closing brace is found by counting nesting and skipping
 * quoted strings, so `${ {'k': '}'}['k'] }` is one expression. `$${` is a literal `${`.
 */
export function splitTemplate(source: string): { parts: TemplatePart[] } | { error: CelError } {
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    if (source.startsWith('$${', i)) {
      text += '${';
      i += 3;
      continue;
    }
    if (!source.startsWith('${', i)) {
      text += source[i];
      i += 1;
      continue;
    }
    const start = i + 2;
    const end = closingBrace(source, start);
    if (end === undefined) return { error: { message: 'unclosed `${`: expected a matching `}`', offset: i } };
    const expr = source.slice(start, end);
    if (expr.trim() === '') return { error: { message: 'empty `${}`: expected a CEL expression inside', offset: i } };
    if (text) parts.push({ text });
    text = '';
    parts.push({ expr, offset: start });
    i = end + 1;
  }
  if (text || parts.length === 0) parts.push({ text });
  return { parts };
}

function closingBrace(source: string, from: number): number | undefined {
  let depth = 0;
  for (let i = from; i < source.length; i++) {
    const c = source[i];
    if (c === '"' || c === "'") {
      // Skip the string literal, honouring backslash escapes.
      let j = i + 1;
      while (j < source.length && source[j] !== c) j += source[j] === '\\' ? 2 : 1;
      if (j >= source.length) return undefined;
      i = j;
    } else if (c === '{') depth += 1;
    else if (c === '}') {
      if (depth === 0) return i;
      depth -= 1;
    }
  }
  return undefined;
}

/** True when the string interpolates at least one `${...}`. */
export function hasInterpolation(source: string): boolean {
  const split = splitTemplate(source);
  return 'error' in split || split.parts.some((p) => 'expr' in p);
}

/**
 * Compiles a string with `${...}` interpolation. Every expression is parsed and type-checked;
 * all errors are returned (offsets in the template), not only the first.
 */
export function compileTemplate(source: string, scope: CelScope = 'task'): { template: Template; refs: CelRef[] } | { errors: CelError[] } {
  const split = splitTemplate(source);
  if ('error' in split) return { errors: [split.error] };
  const errors: CelError[] = [];
  const refs: CelRef[] = [];
  const pieces: Array<string | Expr> = [];
  for (const part of split.parts) {
    if ('text' in part) {
      pieces.push(part.text);
      continue;
    }
    const compiled = compileExpr(part.expr, scope);
    if ('error' in compiled) {
      errors.push({ message: compiled.error.message, offset: part.offset + compiled.error.offset });
      continue;
    }
    pieces.push(compiled.expr);
    for (const r of compiled.refs) refs.push({ ...r, offset: part.offset + r.offset });
  }
  if (errors.length) return { errors };
  const usesSecrets = refs.some((r) => r.root === 'secrets');
  const only = pieces.length === 1 && typeof pieces[0] !== 'string' ? pieces[0] : undefined;
  const template: Template = {
    source,
    usesSecrets,
    // Exactly one `${expr}` keeps its type: `${input.count}` renders a number, not "3".
    render: only
      ? (ctx) => only.evaluate(ctx)
      : (ctx) => pieces.map((p) => (typeof p === 'string' ? p : stringify(p.evaluate(ctx)))).join(''),
  };
  return { template, refs };
}

/** Inside a longer string: null is empty, objects and lists are JSON. */
function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return JSON.stringify(value) ?? '';
}
