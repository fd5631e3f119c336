/**
 * Inputs a runbook marks `sensitive: true` (an email, an account number): the task keeps them,
 * because its steps need them, and everything that shows or records the task masks them: at
 * their own path, and by value wherever else they turn up (an API that echoes the request puts
 * them in its answer, an error may quote them).
 */
import { createMasker, MASK, type Masker } from './mask.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The value at a dotted path (`customer.email`), or undefined. */
function at(input: Obj, path: string): unknown {
  let node: unknown = input;
  for (const k of path.split('.')) node = isObj(node) ? node[k] : undefined;
  return node;
}

/** A copy of `input` with the value at each dotted path replaced by the mask. */
export function maskPaths(input: Obj, paths: readonly string[]): Obj {
  if (!paths.length) return input;
  const out = structuredClone(input);
  for (const path of paths) {
    const keys = path.split('.');
    let node: unknown = out;
    for (const k of keys.slice(0, -1)) node = isObj(node) ? node[k] : undefined;
    const last = keys[keys.length - 1]!;
    if (isObj(node) && last in node) node[last] = MASK;
  }
  return out;
}

/** Every string and number held at the sensitive paths (a list or an object counts whole). */
export function sensitiveValues(input: Obj, paths: readonly string[]): string[] {
  const out: string[] = [];
  const collect = (v: unknown, depth: number): void => {
    if (typeof v === 'string' || typeof v === 'number') out.push(String(v));
    else if (depth < 32 && Array.isArray(v)) v.forEach((x) => collect(x, depth + 1));
    else if (depth < 32 && isObj(v)) Object.values(v).forEach((x) => collect(x, depth + 1));
  };
  for (const p of paths) collect(at(input, p), 0);
  return out;
}

/**
 * A masker for everything recorded or shown about one task: the deployment's secrets (`base`)
 * and the task's sensitive input values. Values shorter than MIN_SECRET_LENGTH are masked at
 * their path only (masking `42` in every text would garble it).
 */
export function taskMasker(base: Masker | undefined, input: Obj, paths: readonly string[]): Masker {
  const values = sensitiveValues(input, paths);
  if (!values.length) return base ?? createMasker([]);
  const own = createMasker(values);
  return base
    ? { maskString: (s) => base.maskString(own.maskString(s)), maskValue: (v) => base.maskValue(own.maskValue(v)) }
    : own;
}

/**
 * The mask function a driver applies to what it records for a task: `base` (the deployment's
 * secrets) and the task's sensitive inputs. Identity when there is neither.
 */
export function recordMask(
  base: (<T>(value: T) => T) | undefined,
  input: Obj,
  paths: readonly string[] | undefined,
): <T>(value: T) => T {
  const values = sensitiveValues(input, paths ?? []);
  const identity = <T,>(v: T): T => v;
  if (!values.length) return base ?? identity;
  const own = createMasker(values);
  const first = base ?? identity;
  return <T,>(v: T): T => first(own.maskValue(v));
}
