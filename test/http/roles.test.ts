/**
 * Every role against every route, as one table: anonymous and each role, 401 without a valid
 * token, 403 for a role that does not grant the route, through for one that does.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { grants } from '../../src/http/auth.js';
import { ROUTES } from '../../src/http/routes.js';
import { ROLES, type Role } from '../../src/lifecycle/vocabulary.js';
import { describeBackends } from '../helpers/backends.js';
import { useSim } from '../helpers/sim.js';
import { auth, testApi, type TestApi } from './helpers.js';

const sim = useSim();

/** What each route is sent: a body that passes validation where one is needed, ids that do not exist. */
function request(url: string): { url: string; payload?: object } {
  const path = url.replace(':id', 'tsk_missing').replace(':token', 'cb_missing');
  if (url === '/v1/tasks') return { url: path, payload: { taskClass: 't.wait', input: {} } };
  if (url.includes('/actions/')) return { url: path, payload: { reason: 'matrix' } };
  if (url.startsWith('/v1/callbacks/')) return { url: path, payload: {} };
  return { url: path };
}

const who: Array<Role | 'anonymous' | 'bad-token'> = ['anonymous', 'bad-token', ...ROLES];

/** The expected refusal, or undefined when the request must get through authorization. */
function expected(routeRole: Role | null, caller: (typeof who)[number]): 401 | 403 | undefined {
  if (routeRole === null) return undefined;
  if (caller === 'anonymous' || caller === 'bad-token') return 401;
  return grants(caller, routeRole) ? undefined : 403;
}

describeBackends('role x route matrix', ({ db }) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await testApi(db(), sim().url);
  });
  afterAll(async () => {
    await api?.app.close();
  });

  it('refuses or lets through every caller on every route as the roles say', async () => {
    const rows: string[] = [];
    const wrong: string[] = [];
    for (const route of ROUTES) {
      for (const caller of who) {
        const headers = caller === 'anonymous' ? {} : caller === 'bad-token' ? { authorization: 'Bearer rwt_not_a_token' } : auth(caller);
        const r = await api.app.inject({ method: route.method, ...request(route.url), headers });
        const want = expected(route.role, caller);
        const ok = want ? r.statusCode === want : r.statusCode !== 401 && r.statusCode !== 403;
        rows.push(`${route.method} ${route.url} ${caller}: ${r.statusCode}`);
        if (!ok) wrong.push(`${route.method} ${route.url} as ${caller}: got ${r.statusCode}, want ${want ?? 'neither 401 nor 403'}`);
        if (want === 401) expect(r.headers['www-authenticate']).toBe('Bearer realm="runwarden"');
        if (want) expect(r.json().error.code).toBe(want === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN');
      }
    }
    expect(wrong).toEqual([]);
    // The matrix covered every route with every caller.
    expect(rows).toHaveLength(ROUTES.length * who.length);
  });

  it('gives each role exactly the routes the spec names for it', () => {
    const table = Object.fromEntries(ROLES.map((r) => [r, ROUTES.filter((x) => x.role && grants(r, x.role)).map((x) => `${x.method} ${x.url}`).length]));
    const actions = ROUTES.filter((x) => x.role === 'operator').length;
    const reads = ROUTES.filter((x) => x.role === 'viewer').length;
    expect(table).toEqual({ intake: 1, viewer: reads, operator: reads + actions, admin: 1 + reads + actions });
  });
});
