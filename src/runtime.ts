/**
 * What a running runwarden needs, opened in one place for every command: the deployment config
 * (validated at start, every problem listed), the runbooks (every problem listed), the database
 * (migrated), the secret masker and the logger.
 */
import { loadConfig, type DeploymentConfig } from './config/index.js';
import { RunwardenError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { loadRunbookSet } from './runbook/load.js';
import type { RunbookSet } from './runbook/plan.js';
import { createMasker, type Masker } from './secrets/mask.js';
import { openDb, type Db } from './store/db.js';

export interface RuntimeOptions {
  db: string;
  runbooks: string;
  config?: string;
  logger?: Logger;
  /** Open the database too (default true). */
  withDb?: boolean;
  /** PostgreSQL down at start: wait for it until `signal` aborts, instead of failing (long-lived processes). */
  waitForDatabase?: { signal?: AbortSignal };
}

export interface Runtime {
  config: DeploymentConfig;
  runbooks: RunbookSet;
  masker: Masker;
  logger: Logger;
  db: Db;
  close(): Promise<void>;
}

export async function loadRunbooksOrThrow(dir: string): Promise<RunbookSet> {
  const { set, problems } = await loadRunbookSet(dir);
  if (problems.length) {
    throw new RunwardenError('RUNBOOK_INVALID', `${problems.length} problem(s) in the runbooks under ${dir}; run \`runwarden validate\``, { problems });
  }
  return set;
}

export async function openRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const config = await loadConfig(opts.config ? { path: opts.config } : {});
  const masker = createMasker(config.secretValues());
  const logger = opts.logger ?? createLogger();
  const runbooks = await loadRunbooksOrThrow(opts.runbooks);
  const db = await openDb(opts.db, { logger, ...(opts.waitForDatabase ? { waitForDatabase: opts.waitForDatabase } : {}) });
  return {
    config,
    runbooks,
    masker,
    logger,
    db,
    close: () => db.close(),
  };
}
