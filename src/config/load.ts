/**
 * Loads `runwarden.yaml` (interfaces.md, "Deployment config"): validate, resolve every secret and
 * the tokens file, and either return the config or refuse with every problem at once, each as
 * file:line:col. Well-formed parts are still resolved when other parts are not, so one run shows
 * the typo and the missing variable together instead of one per restart.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { RunwardenError, type Problem } from '../errors.js';
import { deploymentConfig, type DeploymentConfig } from './deployment-config.js';
import { didYouMean, valueAt, YamlSource, zodIssueProblems } from './problems.js';
import { mayStayUnresolved, resolveValue, type ResolveContext } from './resolve.js';
import type { WorkRole } from '../lifecycle/vocabulary.js';
import { ConfigFile, IntakeLimits, SINK_SCHEMAS, SecretEntry, SecretRef, TokenEntry, TokensFile, type SinkType } from './schema.js';
import { resolveSinks } from './sinks.js';
import type { ApiToken } from './tokens.js';

/** The file looked for in the working directory when no path is given. */
export const DEFAULT_CONFIG_FILE = 'runwarden.yaml';

export interface LoadConfigOptions {
  /** Config file. Default: `runwarden.yaml` in `cwd` if it exists, else an empty config. */
  path?: string;
  /** Directory a relative `path` and the default file are resolved against; default `process.cwd()`. */
  cwd?: string;
  /** Environment for `env` and `{ env: VAR }`; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /**
   * `require` (default): every secret and sink credential must resolve, for the commands that run
   * steps or deliver packets. `if-set`: references to unset variables or missing files are left
   * unresolved (see DeploymentConfig.unresolved), for commands that only read and record.
   */
  secrets?: 'require' | 'if-set';
  /**
   * The roles the process serves (`work --roles`): only the secrets granted to one of them (or to
   * every role) are read; the others are neither required nor held. Default: every role.
   */
  roles?: readonly WorkRole[];
}

type Path = ReadonlyArray<PropertyKey>;
const REF_KEYS = Object.keys(SecretRef.shape);
const SECRET_KEYS = Object.keys(SecretEntry.shape);

function entries(v: unknown): Array<[string, unknown]> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v) : [];
}

/** The keys allowed at a path of the config file, for "did you mean". */
function configKeys(path: Path, data: unknown): readonly string[] {
  const [section, name, field] = path;
  if (path.length === 0) return Object.keys(ConfigFile.shape);
  if (section === 'tokens' && path.length === 1) return ['file'];
  if (section === 'intake' && path.length === 1) return Object.keys(IntakeLimits.shape);
  if (section === 'secrets' && path.length === 2) return SECRET_KEYS;
  if (section === 'sinks' && path.length === 2) {
    const type = valueAt(data, ['sinks', name!, 'type']);
    const schema = SINK_SCHEMAS[type as SinkType] as (typeof SINK_SCHEMAS)[SinkType] | undefined;
    const all = schema ? [schema] : Object.values(SINK_SCHEMAS);
    return [...new Set(all.flatMap((s) => Object.keys(s.shape)))];
  }
  if (section === 'sinks' && field !== undefined && path.length === 3) return REF_KEYS;
  return [];
}

function tokenKeys(path: Path): readonly string[] {
  if (path.length === 0) return Object.keys(TokensFile.shape);
  if (path.length === 2) return Object.keys(TokenEntry.shape);
  return [];
}

function invalid(file: string, problems: Problem[]): RunwardenError {
  const sorted = [...problems].sort(
    (a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0),
  );
  const n = sorted.length;
  return new RunwardenError('CONFIG_INVALID', `deployment config ${file} is invalid: ${n} problem${n === 1 ? '' : 's'}`, {
    problems: sorted,
  });
}

/** Reads a file, or says why not in words fit for a problem. */
async function read(path: string): Promise<{ text: string } | { why: string }> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { why: code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? String(err)})` };
  }
}

async function resolveSecrets(
  src: YamlSource,
  raw: unknown,
  ctx: ResolveContext,
  problems: Problem[],
  unresolved: string[],
  roles: readonly WorkRole[] | undefined,
): Promise<{ values: Record<string, string>; grants: Record<string, WorkRole[]> }> {
  const out: Record<string, string> = {};
  const grants: Record<string, WorkRole[]> = {};
  for (const [name, rawRef] of entries(raw)) {
    const ref = SecretEntry.safeParse(rawRef);
    if (!ref.success) continue;
    if (ref.data.roles) grants[name] = [...ref.data.roles];
    // Not this process's to hold: a worker of other roles never reads it, so a missing one is fine.
    if (roles && ref.data.roles && !ref.data.roles.some((r) => roles.includes(r))) continue;
    const r = await resolveValue(ref.data.env !== undefined ? { env: ref.data.env } : { file: ref.data.file! }, ctx);
    if (r.ok) out[name] = r.value;
    else if (mayStayUnresolved(r, ctx)) unresolved.push(`secrets.${name}`);
    else problems.push(src.problem(['secrets', name, r.at], r.message));
  }
  return { values: out, grants };
}

function checkRoutes(src: YamlSource, data: unknown, problems: Problem[]): void {
  const defined = entries(valueAt(data, ['sinks'])).map(([name]) => name);
  for (const [route, sinks] of entries(valueAt(data, ['routes']))) {
    if (!Array.isArray(sinks)) continue;
    sinks.forEach((sink: unknown, i) => {
      if (typeof sink !== 'string' || defined.includes(sink)) return;
      const hint = didYouMean(sink, defined);
      problems.push(
        src.problem(['routes', route, i], `sink "${sink}" is not defined under sinks${hint ? ` (did you mean "${hint}"?)` : ''}`),
      );
    });
  }
}

async function loadTokens(src: YamlSource, data: unknown, ctx: ResolveContext, cwd: string, problems: Problem[]): Promise<ApiToken[]> {
  const ref = z.strictObject({ file: z.string().min(1) }).safeParse(valueAt(data, ['tokens']));
  if (!ref.success) return [];
  const path = resolvePath(ctx.baseDir, ref.data.file);
  const got = await read(path);
  if ('why' in got) {
    problems.push(src.problem(['tokens', 'file'], `tokens file ${path} ${got.why}`));
    return [];
  }
  const tokensSrc = new YamlSource(display(path, cwd), got.text);
  const syntax = tokensSrc.syntaxProblems();
  if (syntax.length) {
    problems.push(...syntax);
    return [];
  }
  const parsed = TokensFile.safeParse(tokensSrc.data());
  if (!parsed.success) {
    problems.push(...zodIssueProblems(tokensSrc, parsed.error.issues, { knownKeys: tokenKeys }));
    return [];
  }
  const tokens = parsed.data.tokens.map((t) => ({ ...t, sha256: t.sha256.toLowerCase() }));
  tokens.forEach((t, i) => {
    // A shared hash would make two holders indistinguishable in the ledger.
    if (tokens.findIndex((u) => u.sha256 === t.sha256) < i) problems.push(tokensSrc.problem(['tokens', i, 'sha256'], 'the same token is listed twice'));
    if (tokens.findIndex((u) => u.name === t.name) < i) problems.push(tokensSrc.problem(['tokens', i, 'name'], `name "${t.name}" is listed twice`));
  });
  return tokens;
}

function display(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/**
 * Loads and resolves the deployment config. A missing default file gives an empty config (no env,
 * no secrets, no sinks); a missing explicit file, or one that does not validate, throws
 * RunwardenError `CONFIG_INVALID` with every problem as file:line:col.
 */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<DeploymentConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const abs = resolvePath(cwd, opts.path ?? DEFAULT_CONFIG_FILE);
  const file = display(abs, cwd);
  const got = await read(abs);
  if ('why' in got) {
    if (opts.path === undefined && got.why === 'does not exist') return deploymentConfig();
    throw invalid(file, [{ path: '', message: `config file ${abs} ${got.why}`, file }]);
  }

  const src = new YamlSource(file, got.text);
  const syntax = src.syntaxProblems();
  if (syntax.length) throw invalid(file, syntax);
  const data = src.data();
  const problems: Problem[] = [];
  const parsed = ConfigFile.safeParse(data);
  if (!parsed.success) problems.push(...zodIssueProblems(src, parsed.error.issues, { knownKeys: (p) => configKeys(p, data) }));

  const ctx: ResolveContext = { env, baseDir: dirname(abs), secrets: opts.secrets ?? 'require' };
  const unresolved: string[] = [];
  const secrets = await resolveSecrets(src, valueAt(data, ['secrets']), ctx, problems, unresolved, opts.roles);
  const sinks = await resolveSinks(src, valueAt(data, ['sinks']), ctx, problems);
  checkRoutes(src, data, problems);
  const tokens = await loadTokens(src, data, ctx, cwd, problems);
  if (problems.length || !parsed.success) throw invalid(file, problems);

  const allowed = parsed.data.env.filter((name) => env[name] !== undefined);
  return deploymentConfig({
    source: abs,
    env: Object.fromEntries(allowed.map((name) => [name, env[name]!])),
    envNames: parsed.data.env,
    intake: { maxRequestBytes: parsed.data.intake.maxRequestSize, maxDepth: parsed.data.intake.maxDepth },
    unresolved: [...unresolved, ...sinks.unresolved],
    secrets: secrets.values,
    secretGrants: secrets.grants,
    sinks: sinks.sinks,
    routes: parsed.data.routes,
    tokens,
    secretValues: sinks.fromRefs,
  });
}
