/**
 * Reads the values a config refers to (`{ env: VAR }`, `{ file: path }`) at start, so a missing
 * secret stops the program before it takes work, not halfway through a task at 3am.
 */
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import type { StringOrRef } from './schema-parts.js';

export interface ResolveContext {
  env: NodeJS.ProcessEnv;
  /** Directory relative `file` references are resolved against (the config file's). */
  baseDir: string;
  /**
   * `require` (default): a reference that cannot be read is a problem. `if-set`: it is left
   * unresolved and not a problem: commands that only read tasks (show, packet, tasks, operator
   * actions) need no worker credentials, yet mask what is set.
   */
  secrets?: 'require' | 'if-set';
}

export type Resolution =
  | { ok: true; value: string; /** True when it came from the environment or a file. */ fromRef: boolean }
  | {
      ok: false;
      /** Which key of the reference is wrong. */ at: 'env' | 'file';
      message: string;
      /** True when the value is merely absent (unset, empty, no such file), not unreadable or wrong. */
      missing: boolean;
    };

/** True when a failed resolution may be left unresolved in `ctx`'s mode. */
export function mayStayUnresolved(r: Resolution, ctx: ResolveContext): boolean {
  return !r.ok && r.missing && ctx.secrets === 'if-set';
}

/** Resolves one string-or-reference. Never throws; a failure says what was missing. */
export async function resolveValue(v: StringOrRef, ctx: ResolveContext): Promise<Resolution> {
  if (typeof v === 'string') return { ok: true, value: v, fromRef: false };
  if (v.env !== undefined) {
    const value = ctx.env[v.env];
    if (value === undefined) return { ok: false, at: 'env', message: `environment variable ${v.env} is not set`, missing: true };
    if (value === '') return { ok: false, at: 'env', message: `environment variable ${v.env} is empty`, missing: true };
    return { ok: true, value, fromRef: true };
  }
  const path = resolvePath(ctx.baseDir, v.file!);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : `cannot be read (${code ?? 'error'})`;
    return { ok: false, at: 'file', message: `file ${path} ${why}`, missing: code === 'ENOENT' };
  }
  // Secret files are usually written by `echo` or an orchestrator and end with one newline.
  const value = text.replace(/\r?\n$/, '');
  if (value === '') return { ok: false, at: 'file', message: `file ${path} is empty`, missing: true };
  return { ok: true, value, fromRef: true };
}
