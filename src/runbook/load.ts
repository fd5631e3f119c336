/**
 * Loading runbooks: YAML text -> schema -> checks -> compiled plan, every problem located at its
 * `file:line:col`, all of them reported rather than the first. A runbook with any problem is left
 * out of the set, and only it: the others keep working, and the task classes the broken file
 * names are listed as unavailable with its problems, so intake can say why instead of "unknown
 * class". A set-level problem (two runbooks claiming one task class) is reported on the later file.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Problem } from '../errors.js';
import type { PluginRegistry } from './action-schema.js';
import { envReferences, unlistedEnvFinding } from './env-refs.js';
import { secretRoleFindings, type SecretGrants } from './secret-refs.js';
import { checkRunbook } from './checks.js';
import { compileRunbook } from './compile.js';
import type { CompiledRunbook, RunbookSet } from './plan.js';
import { RunbookSchema } from './schema.js';
import { readYaml, type Finding, type YamlSource } from './yaml-source.js';
import { describeValue, zodFindings } from './zod-findings.js';

export interface LoadOptions {
  /** Plugin actions of the deployment: their `with` is validated and their `changes` used. */
  plugins?: PluginRegistry;
  /**
   * The deployment config's `env:` names and its file: a runbook that reads an `env.NAME` not
   * listed there gets a problem (it could never see the variable). Default: not checked (no
   * config to check against).
   */
  env?: { listed: readonly string[]; configFile: string };
  /**
   * The deployment config's grants of secrets to roles (`secrets.NAME.roles`) and its file: an
   * expression that reads a secret its role is not granted is a problem. Default: not checked.
   */
  secrets?: { grants: SecretGrants; configFile: string };
}

/** A runbook file that did not load: which task classes it names and why it is out. */
export interface UnavailableRunbook {
  file: string;
  /** Its `runbook:` id, when the file says one. */
  id?: string;
  problems: Problem[];
}

export interface LoadResult {
  set: RunbookSet;
  problems: Problem[];
  /** Task class -> the broken runbook that names it (only classes no loaded runbook serves). */
  unavailable: Map<string, UnavailableRunbook>;
}

/**
 * Files a runbooks folder may hold that are not runbooks: the deployment config beside them is a
 * common layout, and parsing it as a runbook buried the real problems under its own.
 */
export const NOT_RUNBOOKS: readonly string[] = ['runwarden.yaml', 'runwarden.yml'];

interface FileResult {
  runbook?: CompiledRunbook;
  problems: Problem[];
  source?: YamlSource;
}

/** Compiles one runbook's text. Pure: no file access. Never throws. */
export function compileRunbookText(text: string, file: string, opts: LoadOptions = {}): { runbook?: CompiledRunbook; problems: Problem[] } {
  const { runbook, problems } = compileFile(text, file, opts);
  return runbook ? { runbook, problems } : { problems };
}

function compileFile(text: string, file: string, opts: LoadOptions): FileResult {
  const source = readYaml(text, file);
  if (source.syntaxProblems.length) return { problems: sortProblems(source.syntaxProblems), source };
  const value = source.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problems: [{ file, line: 1, col: 1, path: '', message: `a runbook is a YAML mapping (runbook:, version:, steps:, ...); got ${describeValue(value)}` }], source };
  }
  let findings: Finding[];
  try {
    findings = [...zodFindings(RunbookSchema, value), ...checkRunbook(value, opts)];
  } catch (err) {
    // A loader bug must not hide the file's other problems, nor crash `validate`.
    return { problems: [{ file, line: 1, col: 1, path: '', message: `internal error while checking: ${(err as Error).message}` }], source };
  }
  if (opts.env) {
    const listed = opts.env.listed;
    // One problem per variable and field: `has(env.X) && env.X == ...` is one mistake, not two.
    const seen = new Set<string>();
    for (const ref of envReferences(value)) {
      const key = `${ref.path.join('.')}\u0000${ref.name}`;
      if (listed.includes(ref.name) || seen.has(key)) continue;
      seen.add(key);
      findings.push(unlistedEnvFinding(ref, listed, opts.env.configFile));
    }
  }
  if (opts.secrets) findings.push(...secretRoleFindings(value, opts.secrets.grants, opts.secrets.configFile));
  const problems = sortProblems(dedupe(findings.map((f) => source.locate(f))));
  if (problems.length) return { problems, source };
  try {
    return { runbook: compileRunbook(RunbookSchema.parse(value), file, opts, text), problems: [], source };
  } catch (err) {
    return { problems: [{ file, line: 1, col: 1, path: '', message: `internal error while compiling: ${(err as Error).message}` }], source };
  }
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}:${p.col}:${p.path}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sortProblems(problems: Problem[]): Problem[] {
  return [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
}

/** Indexes runbooks by id and task class (first wins; `loadRunbook*` report the clashes). */
export function buildRunbookSet(runbooks: CompiledRunbook[]): RunbookSet {
  const byId = new Map<string, CompiledRunbook>();
  const byTaskClass = new Map<string, CompiledRunbook>();
  for (const r of runbooks) {
    if (!byId.has(r.id)) byId.set(r.id, r);
    for (const c of r.taskClasses) if (!byTaskClass.has(c)) byTaskClass.set(c, r);
  }
  return { runbooks: [...byId.values()], byId, byTaskClass };
}

/**
 * Loads the given runbook files and folders (a folder's `*.yaml` and `*.yml`, not recursive,
 * in name order) as one set, checking that runbook ids and task classes are unique across it.
 */
export async function loadRunbookFiles(paths: string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const problems: Problem[] = [];
  const files: string[] = [];
  for (const p of paths) {
    try {
      if ((await stat(p)).isDirectory()) {
        const names = (await readdir(p)).filter((n) => ['.yaml', '.yml'].includes(extname(n)) && !NOT_RUNBOOKS.includes(n)).sort();
        files.push(...names.map((n) => join(p, n)));
      } else files.push(p);
    } catch (err) {
      problems.push({ file: p, path: '', message: cannotRead(err) });
    }
  }
  const results: FileResult[] = [];
  for (const file of [...new Set(files)]) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      problems.push({ file, path: '', message: cannotRead(err) });
      continue;
    }
    const r = compileFile(text, file, opts);
    problems.push(...r.problems);
    results.push(r);
  }
  problems.push(...setProblems(results));
  const set = buildRunbookSet(results.flatMap((r) => (r.runbook ? [r.runbook] : [])));
  const full = opts.plugins ? { ...set, plugins: opts.plugins } : set;
  return { set: full, problems, unavailable: unavailableClasses(results, full) };
}

/** The task classes named by files that did not load, when no loaded runbook serves them. */
function unavailableClasses(results: FileResult[], set: RunbookSet): Map<string, UnavailableRunbook> {
  const out = new Map<string, UnavailableRunbook>();
  for (const r of results) {
    if (r.runbook || !r.source) continue;
    const value = r.source.value as { runbook?: unknown; taskClasses?: unknown } | null;
    if (!value || typeof value !== 'object' || !Array.isArray(value.taskClasses)) continue;
    const entry: UnavailableRunbook = { file: r.source.file, ...(typeof value.runbook === 'string' ? { id: value.runbook } : {}), problems: r.problems };
    for (const c of value.taskClasses) if (typeof c === 'string' && !set.byTaskClass.has(c) && !out.has(c)) out.set(c, entry);
  }
  return out;
}

function cannotRead(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file or folder' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
  return `cannot read: ${why}${code && !why.includes(code) ? ` (${code})` : ''}`;
}

/** Loads every runbook in a folder (`*.yaml`, `*.yml`). */
export function loadRunbookSet(dir: string, opts: LoadOptions = {}): Promise<LoadResult> {
  return loadRunbookFiles([dir], opts);
}

/** Runbook ids and task classes must be unique across the set; read from the raw value so broken files count too. */
function setProblems(results: FileResult[]): Problem[] {
  const problems: Problem[] = [];
  const ids = new Map<string, string>();
  const classes = new Map<string, { id: string; file: string }>();
  for (const r of results) {
    const src = r.source;
    const value = src?.value as { runbook?: unknown; taskClasses?: unknown } | undefined;
    if (!src || !value || typeof value !== 'object') continue;
    const id = typeof value.runbook === 'string' ? value.runbook : undefined;
    if (id !== undefined) {
      const other = ids.get(id);
      if (other !== undefined) problems.push(src.locate({ path: ['runbook'], message: `runbook id \`${id}\` is also used by ${other}; ids must be unique across the runbooks folder` }));
      else ids.set(id, src.file);
    }
    if (!Array.isArray(value.taskClasses)) continue;
    value.taskClasses.forEach((c, k) => {
      if (typeof c !== 'string') return;
      const other = classes.get(c);
      if (other && other.file !== src.file) {
        problems.push(src.locate({ path: ['taskClasses', k], message: `task class \`${c}\` is already handled by runbook \`${other.id}\` (${other.file}); each task class maps to one runbook` }));
      } else if (!other) classes.set(c, { id: id ?? '?', file: src.file });
    });
  }
  return problems;
}
