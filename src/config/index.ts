/** The deployment config (`runwarden.yaml`): schema, loading, resolved form, API tokens. */
export { loadConfig, DEFAULT_CONFIG_FILE, type LoadConfigOptions } from './load.js';
export {
  deploymentConfig,
  type DeploymentConfig,
  type DeploymentConfigParts,
  type ResolvedSink,
  type IntakeLimits,
  DEFAULT_INTAKE_LIMITS,
} from './deployment-config.js';
export { hashApiToken, matchApiToken, type ApiToken } from './tokens.js';
export {
  ConfigFile,
  Sink,
  SecretRef,
  StringOrRef,
  TokenEntry,
  TokensFile,
  SINK_TYPES,
  PAGERDUTY_EVENTS_URL,
  type SinkType,
} from './schema.js';
