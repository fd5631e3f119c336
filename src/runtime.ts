/**
 * What a running runwarden needs, opened in one place for every command: the deployment config
 * (validated at start, every problem listed), the runbooks (every problem listed; a broken file
 * leaves only itself out), the database (migrated), the secret masker and the logger.
 *
 * Two purposes. `run` (work, demo, serve: they run steps and deliver packets) resolves every
 * secret and sink credential and refuses to start without them. `read` (show, packet, tasks,
 * submit, operator actions) resolves what is set, so masking still works, and needs none of the
 * worker's credentials: a responder reads a packet without the ops token.
 *
 * Everything heavy is imported when it is opened, not when this module is: a command that needs
 * no database loads no database driver.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { DeploymentConfig } from './config/index.js';
import { formatProblem, RunwardenError, type Problem } from './errors.js';
import type { Logger } from './log.js';
import type { LoadResult, UnavailableRunbook } from './runbook/load.js';
import type { RunbookSet } from './runbook/plan.js';
import type { Masker } from './secrets/mask.js';
import type { Db } from './store/db.js';
import type { WorkRole } from './lifecycle/vocabulary.js';

/** `run`: resolve every secret (steps run here). `read`: only what is set (nothing runs here). */
export type RuntimePurpose = 'run' | 'read';

export interface RuntimeOptions {
  db: string;
  runbooks: string;
  config?: string;
  logger?: Logger;
  /** Open the database too (default true). Without it, `db` throws on use. */
  withDb?: boolean;
  /** Load the runbooks too (default true). Without them, the set is empty. */
  withRunbooks?: boolean;
  /**
   * Check each runbook's `env.NAME` reads against the names runwarden.yaml lists (when there is a
   * runwarden.yaml): a runbook that reads an unlisted one could never see it, so it is reported
   * and left out like any broken runbook. Default: for `run` (a worker would only fail it later).
   */
  checkEnv?: boolean;
  /** Default `run`. */
  purpose?: RuntimePurpose;
  /** The roles this process serves (`work --roles`): only their secrets are read. Default: every role. */
  roles?: readonly WorkRole[];
  /** PostgreSQL down at start: wait for it until `signal` aborts, instead of failing (long-lived processes). */
  waitForDatabase?: { signal?: AbortSignal };
  /**
   * Told, once per phase, when a phase of opening takes more than a second (creating the
   * embedded database takes several): the CLI says so on a terminal. Default: nothing.
   */
  onSlow?: (what: string) => void;
}

/** The runbooks as loaded: the set that works, and what is wrong with the rest. */
export interface LoadedRunbooks extends RunbookSet {
  /** Every problem of every file (empty when all loaded). */
  readonly problems: readonly Problem[];
  /** Task class -> the broken runbook that names it: intake refuses these with its problems. */
  readonly unavailable: ReadonlyMap<string, UnavailableRunbook>;
}

export interface Runtime {
  config: DeploymentConfig;
  /** The runbooks that loaded. */
  runbooks: RunbookSet;
  /** What is wrong with the rest: every problem, and the task classes they leave unserved. */
  runbookProblems: LoadedRunbooks['problems'];
  unavailable: LoadedRunbooks['unavailable'];
  masker: Masker;
  logger: Logger;
  db: Db;
  close(): Promise<void>;
}

/**
 * Says once, at the start of a long-lived process (`work`, `serve`), which runbooks under `dir`
 * have problems and which task classes they leave unserved: a warning in the log and the
 * problems on `out`. A broken runbook leaves only itself out, so without this a person starting
 * the process would learn of it only from the rejections.
 */
export function warnRunbookProblems(rt: Pick<Runtime, 'runbookProblems' | 'unavailable' | 'logger'>, dir: string, out: Pick<NodeJS.WriteStream, 'write'> = process.stderr): void {
  if (!rt.runbookProblems.length) return;
  const classes = [...rt.unavailable.keys()];
  rt.logger.warn({ problems: rt.runbookProblems.length, unavailable: classes }, 'runbooks with problems are not served');
  out.write(
    `runwarden: ${rt.runbookProblems.length} problem(s) in the runbooks under ${dir}; ` +
      `${classes.length ? `task classes ${classes.join(', ')} are not served` : 'the files with problems are not served'} until they are fixed (runwarden validate):\n` +
      rt.runbookProblems.map((p) => `  ${formatProblem(p)}\n`).join(''),
  );
}

/** How long a phase may take before `onSlow` hears of it. */
export const SLOW_MS = 1000;

/** Resolves as `work` does; calls `onSlow` once if it is still pending after `ms`. */
export async function whenSlow<T>(work: Promise<T>, onSlow: (() => void) | undefined, ms = SLOW_MS): Promise<T> {
  if (!onSlow) return work;
  const timer = setTimeout(onSlow, ms);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
  }
}

function loaded(r: LoadResult): LoadedRunbooks {
  return { ...r.set, problems: r.problems, unavailable: r.unavailable };
}

/**
 * Loads a runbooks folder; a broken file leaves only itself out (see LoadedRunbooks). With
 * `config`, an `env.NAME` it does not list is a problem of the runbook that reads it.
 */
export async function loadRunbooks(dir: string, config?: Pick<DeploymentConfig, 'source' | 'envNames'> & Partial<Pick<DeploymentConfig, 'secretGrants'>>): Promise<LoadedRunbooks> {
  const { loadRunbookSet } = await import('./runbook/load.js');
  const file = config?.source ? shownPath(config.source) : undefined;
  const env = file ? { env: { listed: config!.envNames, configFile: file } } : {};
  // Grants are checked whenever a config grants a secret to roles: a runbook a role could not run is broken.
  const secrets = file && config?.secretGrants && Object.keys(config.secretGrants).length ? { secrets: { grants: config.secretGrants, configFile: file } } : {};
  return loaded(await loadRunbookSet(dir, { ...env, ...secrets }));
}

/** A path relative to the working directory when it is below it, as a person would type it. */
function shownPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/** Loads a runbooks folder and refuses when any file has a problem (the demo ships its own). */
export async function loadRunbooksOrThrow(dir: string): Promise<LoadedRunbooks> {
  const set = await loadRunbooks(dir);
  if (set.problems.length) {
    throw new RunwardenError('RUNBOOK_INVALID', `${set.problems.length} problem(s) in the runbooks under ${dir}; run \`runwarden validate\``, {
      problems: [...set.problems],
    });
  }
  return set;
}

/** Loads runwarden.yaml for a purpose (see RuntimePurpose). */
export async function loadDeploymentConfig(path: string | undefined, purpose: RuntimePurpose = 'run', roles?: readonly WorkRole[]): Promise<DeploymentConfig> {
  const { loadConfig } = await import('./config/index.js');
  return loadConfig({ ...(path ? { path } : {}), secrets: purpose === 'run' ? 'require' : 'if-set', ...(roles ? { roles } : {}) });
}

/** True for targets that name the embedded database (not a PostgreSQL URL, not memory). */
function embeddedDir(target: string): string | undefined {
  if (/^postgres(ql)?:\/\//i.test(target) || target === 'memory://' || target === ':memory:') return undefined;
  return resolve(target.replace(/^file:\/\//, ''));
}

/**
 * Opens the database a command was pointed at, saying what is wrong with the target in words:
 * a file where a directory belongs, a directory that holds something else.
 */
export async function openDatabase(
  target: string,
  opts: { logger?: Logger; onSlow?: (what: string) => void; waitForDatabase?: { signal?: AbortSignal } } = {},
): Promise<Db> {
  const dir = embeddedDir(target);
  let slow = /^postgres(ql)?:\/\//i.test(target) ? 'connecting to PostgreSQL and checking its migrations' : 'creating an in-memory embedded database';
  if (dir) {
    if (existsSync(dir) && !statSync(dir).isDirectory()) {
      throw new RunwardenError('USAGE', `--db ${target} is a file; the embedded database is a directory (default ./.runwarden/db), or give a postgres:// URL`);
    }
    slow = existsSync(join(dir, 'PG_VERSION'))
      ? `opening the embedded database in ${target}`
      : `creating the embedded database in ${target} (the first time takes a few seconds)`;
  }
  const { openDb } = await import('./store/db.js');
  const open = openDb(target, { ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.waitForDatabase ? { waitForDatabase: opts.waitForDatabase } : {}) });
  return whenSlow(open, opts.onSlow && (() => opts.onSlow!(slow)));
}

/** A Db for a runtime opened without one: any use is a bug, said plainly. */
const NO_DB: Db = new Proxy({} as Db, {
  get(_t, key) {
    if (key === 'close') return async () => undefined;
    if (key === 'then') return undefined;
    throw new Error(`this runtime was opened without a database (withDb: false); it has no ${String(key)}`);
  },
});

const NO_RUNBOOKS: LoadedRunbooks = { runbooks: [], byId: new Map(), byTaskClass: new Map(), problems: [], unavailable: new Map() };

/**
 * Opens everything a command needs: the config, then the runbooks and the database side by side.
 * When one fails, what the other opened is closed again.
 */
export async function openRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const purpose = opts.purpose ?? 'run';
  const { createLogger } = await import('./log.js');
  const logger = opts.logger ?? createLogger();
  const onSlow = opts.onSlow;
  const checkEnv = opts.checkEnv ?? purpose === 'run';
  // The config first: one that does not validate stops the command at once, before a database
  // (whose opening cannot be cut short) is opened for nothing. The modules load meanwhile.
  const warm = Promise.all([import('./store/db.js'), import('./runbook/load.js')]).catch(() => undefined);
  const config = await loadDeploymentConfig(opts.config, purpose, opts.roles);
  await warm;
  const [runbooks, db] = await Promise.allSettled([
    opts.withRunbooks === false
      ? Promise.resolve(NO_RUNBOOKS)
      : whenSlow(loadRunbooks(opts.runbooks, checkEnv ? config : undefined), onSlow && (() => onSlow(`loading the runbooks in ${opts.runbooks}`))),
    opts.withDb === false ? Promise.resolve(NO_DB) : openDatabase(opts.db, { logger, ...(onSlow ? { onSlow } : {}), ...(opts.waitForDatabase ? { waitForDatabase: opts.waitForDatabase } : {}) }),
  ]);
  if (runbooks.status === 'rejected' || db.status === 'rejected') {
    if (db.status === 'fulfilled') await db.value.close().catch(() => undefined);
    throw [runbooks, db].find((r) => r.status === 'rejected')!.reason;
  }
  const { createMasker } = await import('./secrets/mask.js');
  return {
    config,
    runbooks: runbooks.value,
    runbookProblems: runbooks.value.problems,
    unavailable: runbooks.value.unavailable,
    masker: createMasker(config.secretValues()),
    logger,
    db: db.value,
    close: () => db.value.close(),
  };
}
