/**
 * A console client over fastify `inject`: keeps cookies like a browser, reads the CSRF token
 * from the page's forms, signs in with an API token.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/http/app.js';
import { deploymentConfig, type DeploymentConfig } from '../../src/config/deployment-config.js';
import type { Clock } from '../../src/orchestrator/clock.js';
import { hashApiToken, type ApiToken } from '../../src/config/tokens.js';
import type { Role } from '../../src/lifecycle/vocabulary.js';
import type { IntakeRunbooks } from '../../src/orchestrator/intake.js';
import type { Masker } from '../../src/secrets/mask.js';
import type { Db } from '../../src/store/db.js';

export const TOKENS: Record<'ana' | 'vic' | 'queue' | 'root', { token: string; role: Role }> = {
  ana: { token: 'tok-operator-7d1c2f9a8b', role: 'operator' },
  vic: { token: 'tok-viewer-4e5a6b7c8d', role: 'viewer' },
  queue: { token: 'tok-intake-1a2b3c4d5e', role: 'intake' },
  root: { token: 'tok-admin-9f8e7d6c5b', role: 'admin' },
};

/** A token store the test can change (revoke) while the app runs. */
export function mutableTokens(): { match(t: string): ApiToken | undefined; revoke(name: string): void } {
  let list: ApiToken[] = Object.entries(TOKENS).map(([name, t]) => ({ name, role: t.role, sha256: hashApiToken(t.token) }));
  return {
    match: (t) => list.find((e) => e.sha256 === hashApiToken(t)),
    revoke: (name) => {
      list = list.filter((e) => e.name !== name);
    },
  };
}

/** The API with its console; `config` defaults to an empty deployment config, `clock` to the system's. */
export function consoleApp(o: { db: Db; runbooks: IntakeRunbooks; masker: Masker; tokens?: ReturnType<typeof mutableTokens>; config?: DeploymentConfig; clock?: Clock }): FastifyInstance {
  return buildApp({ db: o.db, config: o.config ?? deploymentConfig(), runbooks: o.runbooks, masker: o.masker, tokens: o.tokens ?? mutableTokens(), ...(o.clock ? { clock: o.clock } : {}) });
}

/** The value of the first hidden `_csrf` field on a page. */
export function csrfOf(body: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(body);
  if (!m) throw new Error('no CSRF token on the page');
  return m[1]!;
}

export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly app: FastifyInstance) {}

  private keep(res: LightMyRequestResponse): void {
    for (const c of res.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      if (c.value === '' || c.maxAge === 0 || (c.expires && c.expires.getTime() < Date.now())) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
  }

  async get(url: string): Promise<LightMyRequestResponse> {
    const res = await this.app.inject({ method: 'GET', url, cookies: Object.fromEntries(this.cookies) });
    this.keep(res);
    return res;
  }

  async post(url: string, form: Record<string, string>): Promise<LightMyRequestResponse> {
    const res = await this.app.inject({
      method: 'POST',
      url,
      cookies: Object.fromEntries(this.cookies),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(form).toString(),
    });
    this.keep(res);
    return res;
  }

  /** Signs in through the form; returns the response of the sign-in POST. */
  async signIn(token: string): Promise<LightMyRequestResponse> {
    const login = await this.get('/login');
    return this.post('/login', { _csrf: csrfOf(login.body), token, next: '/' });
  }

  /** Posts a page's form with the page's own CSRF token. */
  async submit(pageUrl: string, action: string, form: Record<string, string>): Promise<LightMyRequestResponse> {
    const page = await this.get(pageUrl);
    return this.post(action, { _csrf: csrfOf(page.body), ...form });
  }
}
