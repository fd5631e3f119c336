/**
 * What the HTTP app is built from, apart from the app itself so the routes, the console and the
 * intake sources can name it without importing the module that mounts them.
 */
import type { DeploymentConfig } from '../config/index.js';
import type { TokenStore } from '../config/tokens.js';
import type { Logger } from '../log.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import type { Clock } from '../orchestrator/clock.js';
import type { IntakeRunbooks } from '../orchestrator/intake.js';
import type { ActionContext } from '../orchestrator/operator.js';
import type { Masker } from '../secrets/mask.js';
import type { Db } from '../store/db.js';

/** What the API is built from: an open runtime's pieces, and the optional parts `serve` adds. */
export interface AppDeps {
  db: Db;
  config: DeploymentConfig;
  /** The runbooks that loaded, and the task classes a broken runbook leaves unserved. */
  runbooks: IntakeRunbooks;
  masker: Masker;
  /** Default: no request logging. */
  logger?: Logger;
  /** Packets on operator actions. Default: the escalation hooks over `config`. */
  onAction?: ActionContext['onAction'];
  /** Default: the tokens file of `config` (rereads on change), else `config.tokens`. */
  tokens?: TokenStore;
  /** Default: the system clock. */
  clock?: Clock;
  /** The metrics `/metrics` serves; `serve` shares them with its worker. Default: a fresh set. */
  metrics?: ApiMetrics;
}

