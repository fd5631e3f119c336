/**
 * Resolves the `sinks` section: reads each sink's referenced values, checks what only makes sense
 * once resolved (URLs, the Standard Webhooks secret format), and reports problems at the line of
 * the value or of the reference that supplied it. Problem messages never quote a value: it may
 * be a credential.
 */
import { resolve as resolvePath } from 'node:path';
import type { Problem } from '../errors.js';
import type { ResolvedSink } from './deployment-config.js';
import type { YamlSource } from './problems.js';
import { mayStayUnresolved, resolveValue, type ResolveContext } from './resolve.js';
import { PAGERDUTY_EVENTS_URL, Sink, type StringOrRef } from './schema.js';

export interface ResolvedSinks {
  sinks: Record<string, ResolvedSink>;
  /** Values read through `{ env }` / `{ file }`, to be masked like secrets. */
  fromRefs: string[];
  /** `sinks.NAME.field` of each value left unresolved (`secrets: 'if-set'`); such a field is ''. */
  unresolved: string[];
}

/** Standard Webhooks signing secrets: `whsec_` and the base64 of the key. */
const WEBHOOK_SECRET = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * Resolves every well-formed sink in `raw` (the `sinks` value as parsed from YAML); sinks that
 * fail the schema were reported by it and are skipped. Problems are appended to `problems`.
 */
export async function resolveSinks(src: YamlSource, raw: unknown, ctx: ResolveContext, problems: Problem[]): Promise<ResolvedSinks> {
  const out: ResolvedSinks = { sinks: {}, fromRefs: [], unresolved: [] };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return out;

  for (const [name, rawSink] of Object.entries(raw)) {
    const parsed = Sink.safeParse(rawSink);
    if (!parsed.success) continue;
    const sink = parsed.data;
    let ok = true;

    /** Resolves one field; checks it with `check` (a message when wrong). */
    const field = async (key: string, v: StringOrRef, check?: (s: string) => string | undefined): Promise<string> => {
      const path = ['sinks', name, key];
      const r = await resolveValue(v, ctx);
      if (mayStayUnresolved(r, ctx)) {
        // Kept by name, so outbox rows can still be queued for it; nothing here sends.
        out.unresolved.push(path.join('.'));
        return '';
      }
      if (!r.ok) {
        problems.push(src.problem([...path, r.at], r.message));
        ok = false;
        return '';
      }
      if (r.fromRef) out.fromRefs.push(r.value);
      const wrong = check?.(r.value);
      if (wrong) {
        const where = typeof v === 'string' ? path : [...path, v.env !== undefined ? 'env' : 'file'];
        problems.push(src.problem(where, typeof v === 'string' ? wrong : `the value it refers to ${wrong}`));
        ok = false;
      }
      return r.value;
    };
    const url = (s: string): string | undefined => (isHttpUrl(s) ? undefined : 'must be an http(s) URL');

    let resolved: ResolvedSink;
    switch (sink.type) {
      case 'webhook':
        resolved = {
          name,
          type: 'webhook',
          url: await field('url', sink.url, url),
          secret: await field('secret', sink.secret, (s) =>
            WEBHOOK_SECRET.test(s) ? undefined : 'must be a Standard Webhooks secret: whsec_ followed by base64',
          ),
        };
        break;
      case 'pagerduty':
        resolved = {
          name,
          type: 'pagerduty',
          routingKey: await field('routingKey', sink.routingKey),
          url: sink.url === undefined ? PAGERDUTY_EVENTS_URL : await field('url', sink.url, url),
        };
        break;
      case 'slack':
        resolved = { name, type: 'slack', url: await field('url', sink.url, url) };
        break;
      case 'file':
        resolved = { name, type: 'file', path: resolvePath(ctx.baseDir, await field('path', sink.path)) };
        break;
    }
    if (ok) out.sinks[name] = resolved;
  }
  return out;
}
