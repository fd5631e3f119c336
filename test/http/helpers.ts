/** An API over a test database: the fixture runbooks, one token per role, the service beside it. */
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { deploymentConfig, hashApiToken, type DeploymentConfig } from '../../src/config/index.js';
import { fixedTokenStore } from '../../src/config/tokens.js';
import { ROLES, type Role } from '../../src/lifecycle/vocabulary.js';
import { silentLogger } from '../../src/log.js';
import { ApiMetrics } from '../../src/metrics/api-metrics.js';
import { createMasker } from '../../src/secrets/mask.js';
import { createService, type Service } from '../../src/service.js';
import type { Db } from '../../src/store/db.js';
import { fixtureRunbooks, OPS_TOKEN } from '../helpers/harness.js';

/** The bearer token of each role's test holder (`<role>-bot`). */
export const TOKEN: Record<Role, string> = Object.fromEntries(ROLES.map((r) => [r, `rwt_test_${r}_7f3a9c`])) as Record<Role, string>;
export const PUBLIC_URL = 'https://runwarden.example.com';

export const auth = (role: Role) => ({ authorization: `Bearer ${TOKEN[role]}` });

export interface TestApi {
  app: FastifyInstance;
  config: DeploymentConfig;
  metrics: ApiMetrics;
  /** A worker with the escalation hooks and the metrics, as `serve` builds it. */
  service(): Service;
}

export async function testApi(db: Db, simUrl: string, o: { intakeLimit?: number } = {}): Promise<TestApi> {
  const runbooks = await fixtureRunbooks();
  const config = deploymentConfig({
    env: { OPS_API_URL: simUrl },
    secrets: { OPS_API_TOKEN: OPS_TOKEN },
    tokens: ROLES.map((r) => ({ name: `${r}-bot`, role: r, sha256: hashApiToken(TOKEN[r]) })),
    publicUrl: PUBLIC_URL,
    ...(o.intakeLimit ? { intake: { maxRequestBytes: o.intakeLimit } } : {}),
  });
  const masker = createMasker(config.secretValues());
  const metrics = new ApiMetrics({ gaugeCacheMs: 0 });
  const rt = { db, config, runbooks, masker, logger: silentLogger };
  const app = buildApp({ ...rt, tokens: fixedTokenStore(config.tokens), metrics });
  await app.ready();
  return {
    app,
    config,
    metrics,
    service: () => createService(rt, { observer: metrics.observer(), onDelivered: (s) => metrics.delivered(s), pollMs: 50, leaseMs: 5000, scheduler: false }),
  };
}

/** The samples of a Prometheus text exposition: `name{labels}` -> value. */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** A sample's key, labels in the order prom-client writes them (the order given). */
export function key(name: string, labels: Record<string, string> = {}): string {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  return l ? `${name}{${l}}` : name;
}
