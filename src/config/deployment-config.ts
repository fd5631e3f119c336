/**
 * The deployment config once loaded: plain values with every secret resolved, and the two
 * questions the rest of runwarden asks of it (which sinks a route delivers to, which values
 * must never be shown).
 */
import type { ApiToken } from './tokens.js';

/** A sink with its secrets resolved. `name` is its key under `sinks`. */
export type ResolvedSink =
  | { name: string; type: 'webhook'; url: string; /** `whsec_...` */ secret: string }
  | { name: string; type: 'pagerduty'; routingKey: string; /** Events API v2 endpoint. */ url: string }
  | { name: string; type: 'slack'; url: string }
  | { name: string; type: 'file'; /** Absolute. */ path: string };

export interface DeploymentConfig {
  /** Absolute path of the file it was read from; undefined when there was none. */
  readonly source: string | undefined;
  /** The allow-listed environment variables that are set: runbooks read them as `env.NAME`. */
  readonly env: Readonly<Record<string, string>>;
  /** Resolved secrets: runbooks use them as `secrets.NAME`. */
  readonly secrets: Readonly<Record<string, string>>;
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
  secrets?: Record<string, string>;
  sinks?: Record<string, ResolvedSink>;
  routes?: Record<string, string[]>;
  tokens?: ApiToken[];
  /** Further values to treat as secret (sink fields that were read from references). */
  secretValues?: string[];
}

const MASK = '***';

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
  const env = Object.freeze({ ...parts.env });
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
    secrets,
    sinks,
    routes,
    tokens,
    sinksForRoute: (route) => [...(routes[route] ?? routes.default ?? [])],
    secretValues: () => [...secretSet],
    toJSON: () => ({
      source: parts.source ?? null,
      env,
      secrets: Object.fromEntries(Object.keys(secrets).map((k) => [k, MASK])),
      sinks: Object.fromEntries(
        Object.entries(sinks).map(([k, s]) => [k, Object.fromEntries(Object.entries(s).map(([f, v]) => [f, f === 'type' || f === 'name' ? v : hide(v)]))]),
      ),
      routes,
      tokens: tokens.map((t) => ({ name: t.name, role: t.role })),
    }),
  };
}
