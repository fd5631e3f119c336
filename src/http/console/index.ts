/**
 * The operator console at `/`: server-rendered HTML that works without JavaScript, mounted by
 * `buildApp` in its own encapsulated scope (its cookies, form parsing, CSRF checks and security
 * headers apply to its routes only, not to the JSON API).
 *
 * Sign-in exchanges an API token for a session cookie (httpOnly, SameSite=Strict, Secure over
 * HTTPS, see sessions.ts: kept in memory, so a restart signs everyone out). Every form carries a
 * CSRF token bound to the session (@fastify/csrf-protection). The operator recorded for an
 * action is the signed-in token's name. A viewer is shown no action forms and is refused (403)
 * if it posts one anyway.
 */
import { randomBytes } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isRunwardenError, RunwardenError } from '../../errors.js';
import { isOneOf, OPERATOR_ACTIONS, TASK_STATES, type OperatorAction } from '../../lifecycle/vocabulary.js';
import { systemClock } from '../../orchestrator/clock.js';
import { OPERATOR_ACTION_FUNCTIONS, type ActionContext, type ActionResult } from '../../orchestrator/operator.js';
import type { AppDeps } from '../deps.js';
import { renderConfirmation } from './action-forms.js';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.js';
import { readInbox, readIntakeLog, readRunbooks, readTaskList, readTaskPage, waitingCount, type ReadContext } from './data.js';
import { html, type SafeHtml } from './html.js';
import { renderInbox } from './inbox-page.js';
import { renderIntake } from './intake-page.js';
import { page, type PageOptions } from './layout.js';
import { renderLogin } from './login-page.js';
import { canAct, type IntakeFilters, type TaskFilters, type Viewer } from './model.js';
import { readReportFigures } from './report-figures.js';
import { renderReport } from './report-page.js';
import { renderRunbooks } from './runbooks-page.js';
import { memorySessionStore, SESSION_COOKIE, SESSION_MAX_MS, type Session, type SessionStore } from './sessions.js';
import { renderTaskPage } from './task-page.js';
import { renderTasks } from './tasks-page.js';

/** What the console is built from: the API's dependencies (buildApp fills in the defaults). */
export type ConsoleDeps = AppDeps & { sessions?: SessionStore };

declare module 'fastify' {
  interface FastifyRequest {
    /** The console session of the request, when it has a live one. */
    consoleSession: Session | undefined;
  }
}

const CSRF_COOKIE = 'rw_csrf';
const SIGNED_OUT = 'signed-out';

/** Where a signed-in person goes after sign-in: a console path only, never another site. */
export function safeNext(next: unknown): string {
  const s = typeof next === 'string' ? next : '';
  return /^\/(?![/\\])[^\s]*$/.test(s) && !s.startsWith('/login') ? s : '/';
}

type Body = Record<string, string | string[] | undefined>;
const field = (b: Body | undefined, k: string): string => {
  const v = b?.[k];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
};

/** `name=value` lines of the skip form's captures; values that parse as JSON are taken as JSON. */
export function parseCaptureLines(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new RunwardenError('REQUEST_INVALID', `captures take one name=value a line; got ${line.trim()}`);
    const raw = line.slice(eq + 1).trim();
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    out[line.slice(0, eq).trim()] = value;
  }
  return out;
}

/** The operator function's input from an action form. */
export function actionInput(action: OperatorAction, operator: string, b: Body | undefined): Record<string, unknown> {
  const on = (k: string) => field(b, k) === '1' || field(b, k) === 'on';
  const from = field(b, 'from').trim();
  const capture = field(b, 'capture');
  return {
    operator,
    reason: field(b, 'reason').trim(),
    ...(action === 'resume' && from ? { from } : {}),
    ...(action === 'resume' && on('resetBudget') ? { resetBudget: true } : {}),
    ...(action === 'resume' && on('force') ? { force: true } : {}),
    ...((action === 'resume' || action === 'retry') && on('yes') ? { yes: true } : {}),
    ...(action === 'complete' && on('partial') ? { partial: true } : {}),
    ...(action === 'skip' && capture.trim() ? { capture: parseCaptureLines(capture) } : {}),
  };
}

function filtersOf(q: Record<string, string | undefined>): TaskFilters {
  const limit = Number(q.limit ?? 50);
  return {
    ...(q.state && isOneOf(TASK_STATES, q.state) ? { state: q.state } : {}),
    ...(q.runbook ? { runbook: q.runbook } : {}),
    ...(q.class ? { taskClass: q.class } : {}),
    limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, 500) : 50,
    ...(q.after ? { cursor: q.after } : {}),
  };
}

function intakeFiltersOf(q: Record<string, string | undefined>): IntakeFilters {
  const limit = Number(q.limit ?? 50);
  return {
    ...(q.source ? { source: q.source } : {}),
    limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, 500) : 50,
    ...(q.after ? { cursor: q.after } : {}),
  };
}

export async function registerConsole(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const sessions = deps.sessions ?? memorySessionStore();
  const clock = deps.clock ?? systemClock;
  const read: ReadContext = { db: deps.db, runbooks: deps.runbooks, masker: deps.masker };
  const cookieOpts = { path: '/', httpOnly: true, sameSite: 'strict' as const, secure: 'auto' as const };

  await app.register(fastifyCookie);
  await app.register(fastifyFormbody);
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
    },
    // The console is same-origin only; nothing of it is meant to be embedded or fetched cross-site.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'same-origin' },
  });
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: CSRF_COOKIE,
    cookieOpts,
    // Bound to the session, so a token from another session (or from before sign-in) is refused.
    getUserInfo: (req: FastifyRequest) => req.consoleSession?.id ?? SIGNED_OUT,
    csrfOpts: { hmacKey: randomBytes(32) },
  });

  app.decorateRequest('consoleSession', undefined);
  app.addHook('onRequest', async (request) => {
    // Console pages act for the session only: a bearer token is for the JSON API.
    request.principal = undefined;
    const s = sessions.get(request.cookies[SESSION_COOKIE], clock.now().getTime());
    // A revoked (or re-roled) token ends its sessions at once.
    const entry = s ? app.runwardenTokens.match(s.token) : undefined;
    if (s && (!entry || entry.name !== s.name || entry.role !== s.role)) sessions.delete(s.id);
    else if (s) {
      request.consoleSession = s;
      request.principal = { name: s.name, role: s.role };
    }
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    // Pages show task data: not to be kept by a shared cache or the browser's history cache.
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    return payload;
  });

  const csrfOf = (reply: FastifyReply, request: FastifyRequest) => reply.generateCsrf({ userInfo: request.consoleSession?.id ?? SIGNED_OUT });
  const viewerOf = (request: FastifyRequest, reply: FastifyReply): Viewer => ({ name: request.consoleSession!.name, role: request.consoleSession!.role, csrf: csrfOf(reply, request) });
  const send = (reply: FastifyReply, status: number, text: string) => reply.code(status).type('text/html; charset=utf-8').send(text);
  const render = async (request: FastifyRequest, reply: FastifyReply, o: Omit<PageOptions, 'viewer' | 'waiting'>, body: SafeHtml, status = 200) =>
    send(reply, status, page({ ...o, viewer: viewerOf(request, reply), waiting: await waitingCount(read) }, body));

  /** Signed-in pages: without a session, a GET goes to sign-in; anything else is a 401. */
  const signedIn = async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.consoleSession) return;
    if (request.method === 'GET') return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
    return send(reply, 401, page({ title: 'Signed out', section: 'none' }, html`<h1>You are signed out</h1><p><a href="/login">Sign in</a> again, then repeat what you did.</p>`));
  };

  app.setErrorHandler(async (err, request, reply) => {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('FST_CSRF')) {
      return send(reply, 403, page({ title: 'Form refused', section: 'none' }, html`<h1>This form was refused</h1><p>It did not come from this console session (or the session changed since the page was loaded). Nothing was done. <a href="${request.url.split('/actions/')[0] ?? '/'}">Reload the page</a> and try again.</p>`));
    }
    if (isRunwardenError(err) && err.httpStatus < 500) {
      return send(reply, err.httpStatus, page({ title: 'Not understood', section: 'none' }, html`<h1>That request was not understood</h1><p>${err.message}</p><p><a href="/">Back to the inbox</a></p>`));
    }
    request.log.error({ err }, 'console request failed');
    return send(reply, 500, page({ title: 'Error', section: 'none' }, html`<h1>Something went wrong inside runwarden</h1><p>Nothing more is known here; the server log has the details.</p>`));
  });

  app.get('/console/console.css', async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=300').send(CONSOLE_CSS));
  app.get('/console/console.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=300').send(CONSOLE_JS));

  // Browsers ask for it on every page; an empty answer keeps 404s out of their consoles and the logs.
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).header('cache-control', 'public, max-age=86400').send());

  app.get<{ Querystring: { next?: string } }>('/login', async (request, reply) => {
    if (request.consoleSession) return reply.redirect(safeNext(request.query.next), 303);
    return send(reply, 200, page({ title: 'Sign in', section: 'none' }, renderLogin({ csrf: csrfOf(reply, request), next: safeNext(request.query.next) })));
  });

  app.post<{ Body: Body }>('/login', { preHandler: app.csrfProtection }, async (request, reply) => {
    const token = field(request.body, 'token').trim();
    const entry = token ? app.runwardenTokens.match(token) : undefined;
    const next = safeNext(field(request.body, 'next'));
    if (!entry || entry.role === 'intake') {
      const error = !entry ? 'That token is not valid (or was revoked).' : 'An intake token can only submit tasks; sign in with a viewer, operator or admin token.';
      return send(reply, 401, page({ title: 'Sign in', section: 'none' }, renderLogin({ csrf: csrfOf(reply, request), next, error })));
    }
    sessions.delete(request.consoleSession?.id);
    const s = sessions.create({ name: entry.name, role: entry.role, token }, clock.now().getTime());
    void reply.setCookie(SESSION_COOKIE, s.id, { ...cookieOpts, maxAge: Math.floor(SESSION_MAX_MS / 1000) });
    return reply.redirect(next, 303);
  });

  app.post('/logout', { preHandler: app.csrfProtection }, async (request, reply) => {
    sessions.delete(request.consoleSession?.id);
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });

  app.get('/', { preHandler: signedIn }, async (request, reply) => {
    const inbox = await readInbox(read);
    return render(request, reply, { title: 'Inbox', section: 'inbox', live: true }, renderInbox(inbox, clock.now()));
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/tasks', { preHandler: signedIn }, async (request, reply) => {
    const f = filtersOf(request.query);
    const { tasks, counts, nextCursor } = await readTaskList(read, f);
    const ids = deps.runbooks.runbooks.map((r) => r.id).sort();
    return render(request, reply, { title: 'Tasks', section: 'tasks', live: true }, renderTasks(tasks, f, counts, ids, clock.now(), nextCursor));
  });

  const taskPage = async (request: FastifyRequest, reply: FastifyReply, ref: string, flash?: PageOptions['flash'], status = 200) => {
    const p = await readTaskPage(read, ref);
    if (!p) return render(request, reply, { title: 'No such task', section: 'tasks' }, html`<h1>No task ${ref}</h1><p>No task has that id or externalRef. <a href="/tasks">All tasks</a></p>`, 404);
    const viewer = viewerOf(request, reply);
    return send(reply, status, page({ title: p.view.externalRef ?? p.view.id, section: 'tasks', viewer, waiting: await waitingCount(read), live: !flash || flash.tone === 'ok', ...(flash ? { flash } : {}) }, renderTaskPage(p, viewer, clock.now())));
  };

  app.get<{ Params: { id: string }; Querystring: { done?: string } }>('/tasks/:id', { preHandler: signedIn }, async (request, reply) => {
    const done = request.query.done;
    // Only the action's name comes from the URL; the state is the page's own header, read now.
    const flash: PageOptions['flash'] | undefined = done && isOneOf(OPERATOR_ACTIONS, done) ? { tone: 'ok', text: `Done: ${done}, recorded in the ledger under your name. Where the task stands now is below.` } : undefined;
    return taskPage(request, reply, request.params.id, flash);
  });

  app.post<{ Params: { id: string; action: string }; Body: Body }>('/tasks/:id/actions/:action', { preHandler: [signedIn, app.csrfProtection] }, async (request, reply) => {
    const s = request.consoleSession!;
    const { id, action } = request.params;
    if (!canAct(s.role)) {
      return render(request, reply, { title: 'Not allowed', section: 'tasks' }, html`<h1>Viewers cannot act on tasks</h1><p>You are signed in as ${s.name} with the role ${s.role}. Operator actions need an operator or admin token. Nothing was done.</p>`, 403);
    }
    if (!isOneOf(OPERATOR_ACTIONS, action)) return render(request, reply, { title: 'No such action', section: 'tasks' }, html`<h1>There is no action ${action}</h1>`, 404);
    const ctx: ActionContext = { db: deps.db, runbooks: deps.runbooks, now: clock.now(), ...(deps.onAction ? { onAction: deps.onAction } : {}) };
    try {
      const input = actionInput(action, s.name, request.body);
      const fn = OPERATOR_ACTION_FUNCTIONS[action] as unknown as (c: ActionContext, r: string, i: Record<string, unknown>) => Promise<ActionResult>;
      const result = await fn(ctx, id, input);
      return reply.redirect(`/tasks/${encodeURIComponent(result.task.id)}?done=${action}`, 303);
    } catch (err) {
      if (!isRunwardenError(err)) throw err;
      if (err.code === 'CONFIRMATION_REQUIRED') {
        const p = await readTaskPage(read, id);
        const fields = Object.fromEntries(Object.entries(request.body ?? {}).map(([k, v]) => [k, Array.isArray(v) ? (v[0] ?? '') : (v ?? '')]));
        const plan = err.details as { from?: string; rerun?: string[]; changed?: string[] };
        const confirmation = { action, message: err.message, fields, ...(Array.isArray(plan.rerun) ? { plan: { from: plan.from ?? '', rerun: plan.rerun, changed: plan.changed ?? [] } } : {}) };
        return render(request, reply, { title: `Confirm ${action}`, section: 'tasks' }, renderConfirmation(p?.view.id ?? id, confirmation, viewerOf(request, reply).csrf, p?.plan ?? []), 409);
      }
      if (err.code === 'TASK_NOT_FOUND') return render(request, reply, { title: 'No such task', section: 'tasks' }, html`<h1>No task ${id}</h1>`, 404);
      const problems = err.problems?.length ? ` (${err.problems.map((p) => `${p.path}: ${p.message}`).join('; ')})` : '';
      return taskPage(request, reply, id, { tone: 'alert', text: `${action} was not done: ${err.message}${problems}` }, err.httpStatus);
    }
  });

  // Every signed-in role reads the intake log: it is what `runwarden intake log` shows.
  app.get<{ Querystring: Record<string, string | undefined> }>('/intake', { preHandler: signedIn }, async (request, reply) => {
    const f = intakeFiltersOf(request.query);
    const log = await readIntakeLog(read, deps.config.intakeSources, f);
    return render(request, reply, { title: 'Intake', section: 'intake', live: true }, renderIntake(log, f, clock.now()));
  });

  app.get('/runbooks', { preHandler: signedIn }, async (request, reply) => {
    const { lines, broken } = readRunbooks(deps.runbooks);
    return render(request, reply, { title: 'Runbooks', section: 'runbooks' }, renderRunbooks(lines, broken));
  });

  app.get<{ Querystring: { since?: string; runbook?: string } }>('/report', { preHandler: signedIn }, async (request, reply) => {
    const since = request.query.since ?? '7d';
    const runbook = request.query.runbook ?? '';
    const figures = await readReportFigures(deps.db, { since, runbook, now: clock.now(), masker: deps.masker });
    const ids = deps.runbooks.runbooks.map((r) => r.id).sort();
    return render(request, reply, { title: 'Report', section: 'report' }, renderReport(figures, { since, runbook }, ids));
  });
}
