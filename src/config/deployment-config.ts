/**
 * The deployment config once loaded: plain values with every secret resolved, and the two
 * questions the rest of runwarden asks of it (which sinks a route delivers to, which values
 * must never be shown).
 */
import { LISTED_ENV } from '../runbook/cel-hints.js';
import { DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_REQUEST_DEPTH } from './schema.js';
import type { WorkRole } from '../lifecycle/vocabulary.js';
import type { ApiToken } from './tokens.js';

/** A sink with its secrets resolved. `name` is its key under `sinks`. */
export type ResolvedSink =
  | { name: string; type: 'webhook'; url: string; /** `whsec_...` */ secret: string }
  | { name: string; type: 'pagerduty'; routingKey: string; /** Events API v2 endpoint. */ url: string }
  | { name: string; type: 'slack'; url: string }
  | { name: string; type: 'file'; /** Absolute. */ path: string };

/** Intake limits, resolved (`intake:` in runwarden.yaml). */
export interface IntakeLimits {
  /** Largest task request accepted, in bytes of JSON. Default 256 KiB. */
  maxRequestBytes: number;
  /** Deepest nesting accepted; the request object is level 1. Default 32. */
  maxDepth: number;
}

export interface DeploymentConfig {
  /** Absolute path of the file it was read from; undefined when there was none. */
  readonly source: string | undefined;
  /**
   * The allow-listed environment variables that are set: runbooks read them as `env.NAME`. It
   * also carries the listed names under a hidden symbol (LISTED_ENV; pass this object itself,
   * a `{ ...env }` copy drops it), so an expression that reads a missing variable can say
   * whether it is unlisted or unset.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Every name listed under `env:`, set or not (what a runbook's `env.NAME` is checked against). */
  readonly envNames: readonly string[];
  readonly intake: Readonly<IntakeLimits>;
  /**
   * Secret and sink fields left unresolved because the config was loaded with `secrets: 'if-set'`
   * (`secrets.NAME`, `sinks.NAME.field`): such a config serves reading, never sending.
   */
  readonly unresolved: readonly string[];
  /** Resolved secrets: runbooks use them as `secrets.NAME` (only those of the roles loaded for). */
  readonly secrets: Readonly<Record<string, string>>;
  /** Secret name -> the roles granted it (`secrets.NAME.roles`); a secret not here is every role's. */
  readonly secretGrants: Readonly<Record<string, readonly WorkRole[]>>;
  readonly sinks: Readonly<Record<string, ResolvedSink>>;
  /** Escalation route -> sink names, as written. */
  readonly routes: Readonly<Record<string, readonly string[]>>;
  /** API tokens (hashes) with roles; empty when no tokens file is configured. */
  readonly tokens: readonly ApiToken[];
  /** The sinks a route delivers to: its own, else those of `default`, else none. */
  sinksForRoute(route: string): string[];
  /**
   * Every value that must be masked wherever it could show: secrets, sink credentials (webhook
   * secrets, routing keys, Slack URLs) and anything read through `{ env }` or `{ file }`.
   */
  secretValues(): string[];
  /** A view safe to print or log: secret values replaced by `***`. */
  toJSON(): Record<string, unknown>;
}

export interface DeploymentConfigParts {
  source?: string;
  env?: Record<string, string>;
  /** Default: the keys of `env`. */
  envNames?: string[];
  intake?: Partial<IntakeLimits>;
  unresolved?: string[];
  secrets?: Record<string, string>;
  secretGrants?: Record<string, WorkRole[]>;
  sinks?: Record<string, ResolvedSink>;
  routes?: Record<string, string[]>;
  tokens?: ApiToken[];
  /** Further values to treat as secret (sink fields that were read from references). */
  secretValues?: string[];
}

const MASK = '***';

/** The intake limits when runwarden.yaml sets none. */
export const DEFAULT_INTAKE_LIMITS: Readonly<IntakeLimits> = Object.freeze({ maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES, maxDepth: DEFAULT_MAX_REQUEST_DEPTH });

/** The credential fields of a sink: always secret, however they were written. */
function sinkCredentials(s: ResolvedSink): string[] {
  switch (s.type) {
    case 'webhook':
      return [s.secret];
    case 'pagerduty':
      return [s.routingKey];
    case 'slack':
      // An incoming-webhook URL is itself the credential.
      return [s.url];
    case 'file':
      return [];
  }
}

/** Builds a config from parts (what `loadConfig` returns; also for tests). Defaults: all empty. */
export function deploymentConfig(parts: DeploymentConfigParts = {}): DeploymentConfig {
  const envNames = Object.freeze([...(parts.envNames ?? Object.keys(parts.env ?? {}))]);
  // Not enumerable: it is no variable, and equality checks and copies of the values ignore it.
  const env = Object.freeze(Object.defineProperty({ ...parts.env }, LISTED_ENV, { value: envNames, enumerable: false }));
  const secrets = Object.freeze({ ...parts.secrets });
  const sinks = Object.freeze({ ...parts.sinks });
  const routes = Object.freeze(Object.fromEntries(Object.entries(parts.routes ?? {}).map(([k, v]) => [k, Object.freeze([...v])])));
  const tokens = Object.freeze([...(parts.tokens ?? [])]);
  const secretSet = new Set<string>([
    ...Object.values(secrets),
    ...Object.values(sinks).flatMap(sinkCredentials),
    ...(parts.secretValues ?? []),
  ]);
  secretSet.delete('');
  const hide = (v: string): string => (secretSet.has(v) ? MASK : v);
  return {
    source: parts.source,
    env,
    envNames,
    intake: Object.freeze({ ...DEFAULT_INTAKE_LIMITS, ...parts.intake }),
    unresolved: Object.freeze([...(parts.unresolved ?? [])]),
    secrets,
    secretGrants: Object.freeze(Object.fromEntries(Object.entries(parts.secretGrants ?? {}).map(([k, v]) => [k, Object.freeze([...v])]))),
    sinks,
    routes,
    tokens,
    sinksForRoute: (route) => [...(routes[route] ?? routes.default ?? [])],
    secretValues: () => [...secretSet],
    toJSON: () => ({
      source: parts.source ?? null,
      env,
      intake: { ...DEFAULT_INTAKE_LIMITS, ...parts.intake },
      secrets: Object.fromEntries(Object.keys(secrets).map((k) => [k, MASK])),
      sinks: Object.fromEntries(
        Object.entries(sinks).map(([k, s]) => [k, Object.fromEntries(Object.entries(s).map(([f, v]) => [f, f === 'type' || f === 'name' ? v : hide(v)]))]),
      ),
      routes,
      tokens: tokens.map((t) => ({ name: t.name, role: t.role })),
    }),
  };
}
