/**
 * Turns zod issues into findings a workflow owner can act on: unknown keys named one by one at
 * their own line with the closest known key, missing fields by name, enum values listed, and
 * what was received. zod's own messages are written for programmers, not for runbook authors.
 */
import type { z } from 'zod';
import { didYouMean } from './suggest.js';
import type { Finding, PathSegment } from './yaml-source.js';

type Issue = z.core.$ZodIssue;
type AnySchema = z.core.$ZodType;

/** Validates `value` and returns its findings, paths prefixed with `prefix`. */
export function zodFindings(schema: AnySchema, value: unknown, prefix: PathSegment[] = []): Finding[] {
  const result = (schema as z.ZodType).safeParse(value);
  if (result.success) return [];
  return result.error.issues.flatMap((issue) => issueFindings(issue, schema, value, prefix, []));
}

function issueFindings(issue: Issue, root: AnySchema, rootValue: unknown, prefix: PathSegment[], base: PathSegment[]): Finding[] {
  const rel = [...base, ...(issue.path as PathSegment[])];
  const path = [...prefix, ...rel];
  const actual = valueAt(rootValue, rel);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(schemaAt(root, rootValue, rel));
      return issue.keys.map((key) => ({
        path: [...path, key],
        at: 'key' as const,
        message: `unknown key \`${key}\`${didYouMean(key, known) || allowedList(known)}`,
      }));
    }
    case 'invalid_type': {
      const field = rel[rel.length - 1];
      if (actual === undefined && typeof field === 'string') return [{ path, message: `missing required field \`${field}\`` }];
      // A schema's own message (a duration says which unit is missing) beats the generic one.
      const own = issue.message && !/^Invalid input/.test(issue.message) ? issue.message : `expected ${article(issue.expected)}`;
      return [{ path, message: `${own}; got ${describeValue(actual)}` }];
    }
    case 'invalid_value': {
      const allowed = issue.values.map((v) => String(v));
      const hint = typeof actual === 'string' ? didYouMean(actual, allowed) : '';
      return [{ path, message: `expected one of ${allowed.join(', ')}; got ${describeValue(actual)}${hint}` }];
    }
    case 'invalid_format':
      return [{ path, message: `${issue.message}; got ${describeValue(actual)}` }];
    case 'invalid_key': {
      const inner = issue.issues[0]?.message ?? 'invalid key';
      return [{ path, at: 'key', message: `\`${String(rel[rel.length - 1])}\`: ${inner}` }];
    }
    case 'invalid_union': {
      // A branch whose errors are all deeper than the union itself is the one the author meant
      // (a list of step ids with one bad id): report its errors, not "invalid input".
      const deep = issue.errors.find((errs) => errs.length > 0 && errs.every((e) => e.path.length > 0));
      if (deep) return deep.flatMap((e) => issueFindings(e, root, rootValue, prefix, rel));
      const shallow = issue.errors.flat().filter((e) => e.path.length === 0);
      const expected = shallow.flatMap((e) => {
        if (e.code === 'invalid_type') return [article(e.expected)];
        if (e.code === 'invalid_value') return [`one of ${e.values.map(String).join(', ')}`];
        return [];
      });
      const values = shallow.flatMap((e) => (e.code === 'invalid_value' ? e.values.map(String) : []));
      const hint = typeof actual === 'string' ? didYouMean(actual, values) : '';
      return [{ path, message: expected.length ? `expected ${[...new Set(expected)].join(' or ')}; got ${describeValue(actual)}${hint}` : issue.message }];
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const limit = Number(small ? issue.minimum : issue.maximum);
      if (small && limit === 1 && (issue.origin === 'array' || issue.origin === 'string')) return [{ path, message: 'must not be empty' }];
      const bound = small ? (issue.inclusive === false ? 'more than' : 'at least') : issue.inclusive === false ? 'less than' : 'at most';
      const unit = issue.origin === 'array' ? ' items' : issue.origin === 'string' ? ' characters' : '';
      return [{ path, message: `must be ${bound} ${limit}${unit}; got ${describeValue(actual)}` }];
    }
    default:
      return [{ path, message: issue.message }];
  }
}

function allowedList(keys: string[]): string {
  return keys.length > 0 && keys.length <= 8 ? `; allowed here: ${keys.join(', ')}` : '';
}

function article(type: string): string {
  if (type === 'array') return 'a list';
  if (type === 'object' || type === 'record' || type === 'map') return 'a mapping';
  if (type === 'int') return 'a whole number';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** How a received value reads in a message: `"prod"`, `3`, `a list`, `a mapping`, `nothing`. */
export function describeValue(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const s = JSON.stringify(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The value at a path inside `value`, or `undefined`. */
export function valueAt(value: unknown, path: readonly PathSegment[]): unknown {
  let cur = value;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

interface Def {
  type: string;
  shape?: Record<string, AnySchema>;
  element?: AnySchema;
  innerType?: AnySchema;
  valueType?: AnySchema;
  options?: AnySchema[];
  getter?: () => AnySchema;
  in?: AnySchema;
}

function def(s: AnySchema): Def {
  return s._zod.def as unknown as Def;
}

/** Strips wrappers (optional, lazy, pipe, ...) down to the schema that decides the shape. */
function unwrap(s: AnySchema): AnySchema {
  for (let i = 0; i < 20; i++) {
    const d = def(s);
    if ((d.type === 'optional' || d.type === 'nullable' || d.type === 'default' || d.type === 'readonly') && d.innerType) s = d.innerType;
    else if (d.type === 'lazy' && d.getter) s = d.getter();
    else if (d.type === 'pipe' && d.in) s = d.in;
    else break;
  }
  return s;
}

/** The schema that validates the value at `path` (following the value through unions). */
function schemaAt(root: AnySchema, rootValue: unknown, path: readonly PathSegment[]): AnySchema | undefined {
  let s: AnySchema | undefined = root;
  for (let i = 0; i <= path.length && s; i++) {
    s = pickBranch(unwrap(s), valueAt(rootValue, path.slice(0, i)));
    if (i === path.length) break;
    const seg = path[i]!;
    const d = def(s);
    if (d.type === 'object') s = (s as unknown as { shape: Record<string, AnySchema> }).shape[String(seg)];
    else if (d.type === 'array') s = d.element;
    else if (d.type === 'record') s = d.valueType;
    else s = undefined;
  }
  return s;
}

/** For a union, the branch that matches the value's kind (a mapping picks the object branch). */
function pickBranch(s: AnySchema, value: unknown): AnySchema {
  const d = def(s);
  if (d.type !== 'union' || !d.options) return s;
  const wanted = Array.isArray(value) ? 'array' : value !== null && typeof value === 'object' ? 'object' : undefined;
  const match = d.options.map(unwrap).find((o) => def(o).type === wanted || (wanted === 'object' && def(o).type === 'record'));
  return match ?? s;
}

function knownKeys(s: AnySchema | undefined): string[] {
  if (!s) return [];
  const u = unwrap(s);
  return def(u).type === 'object' ? Object.keys((u as unknown as { shape: Record<string, AnySchema> }).shape) : [];
}
