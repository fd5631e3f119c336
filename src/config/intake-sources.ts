/**
 * Intake sources (`intake.sources` in runwarden.yaml): each is a type (which system posts to
 * `POST /v1/intake/<name>` and how its requests are signed), a credential, and a mapping of CEL
 * expressions over the payload that says which events become tasks and what those tasks are. The
 * expressions are parsed and type-checked at load with the runbook expressions' checker, so a
 * typo is a config problem with its line and column, never a 500 at the first alert.
 */
import { z } from 'zod';
import type { Problem } from '../errors.js';
import { compileIntakeExpr, type IntakeExpr } from '../runbook/cel.js';
import type { YamlSource } from './problems.js';
import { mayStayUnresolved, resolveValue, type ResolveContext } from './resolve.js';
import { StringOrRef } from './schema-parts.js';

export const INTAKE_SOURCE_TYPES = ['alertmanager', 'pagerduty', 'jira', 'github', 'webhook'] as const;
export type IntakeSourceType = (typeof INTAKE_SOURCE_TYPES)[number];

export const ON_RESOLVED = ['cancel', 'ignore'] as const;
export type OnResolved = (typeof ON_RESOLVED)[number];

/** The mapping fields, each a CEL expression. */
export const MAPPING_FIELDS = ['when', 'resolved', 'taskClass', 'externalRef', 'input', 'requestedBy', 'priority'] as const;
export type MappingField = (typeof MAPPING_FIELDS)[number];

const Cel = z.string().min(1);

export const IntakeMapping = z
  .strictObject({
    when: Cel.optional().describe('bool: which events make tasks; default per type (alertmanager: firing alerts, pagerduty: incident.triggered, jira: jira:issue_created, github: issues opened, webhook: true)'),
    resolved: Cel.optional().describe('bool: the event says the problem is over (alertmanager: resolved alert, pagerduty: incident.resolved, github: issue closed; default false for jira and webhook)'),
    taskClass: Cel.describe('string: the task class'),
    externalRef: Cel.optional().describe('string: the task reference, deduplicating redeliveries; default per type (alertmanager: fingerprint@startsAt)'),
    input: Cel.optional().describe("map: the task's input; default {}"),
    requestedBy: Cel.optional().describe("string: who asked; default '<type>:<source name>'"),
    priority: Cel.optional().describe('int: -1000..1000; default 0'),
  })
  .describe('CEL over `payload`, `event`, `headers` and `env`');

export const WriteBack = z
  .strictObject({
    url: StringOrRef.optional().describe('jira: the site (https://your-domain.atlassian.net); webhook: where to POST the outcome; github: API base, default https://api.github.com; pagerduty: API base, default https://api.pagerduty.com'),
    token: StringOrRef.optional().describe('jira: API token; github: a token that may comment on issues; pagerduty: REST API key'),
    user: StringOrRef.optional().describe('jira: the account email the API token belongs to'),
    from: z.string().min(3).optional().describe('pagerduty: email of a PagerDuty user (the From header notes are written as)'),
    secret: StringOrRef.optional().describe('webhook: Standard Webhooks secret (whsec_...) the outcome is signed with'),
    transition: z.string().min(1).optional().describe('jira: id of the transition applied when the task completes'),
    resolve: z.boolean().optional().describe('pagerduty: resolve the incident when the task completes; default false'),
  })
  .describe('how the outcome goes back to the system the task came from');

export const IntakeSource = z
  .strictObject({
    type: z.enum(INTAKE_SOURCE_TYPES).describe(`what posts: ${INTAKE_SOURCE_TYPES.join(', ')}`),
    secret: StringOrRef.optional().describe('signature secret (pagerduty, jira, github; webhook: whsec_...); without it, a bearer token with the intake role is required'),
    mapping: IntakeMapping,
    onResolved: z.enum(ON_RESOLVED).default('ignore').describe('what a resolved event does to its task that has not started: cancel or ignore; default ignore'),
    writeBack: WriteBack.optional().describe('tell the origin how the task went (escalated, and every end); default none'),
  })
  .describe('an intake source: POST /v1/intake/<name>');
export type IntakeSourceFile = z.infer<typeof IntakeSource>;

/** Default mapping expressions by type (see IntakeMapping's descriptions). */
export const MAPPING_DEFAULTS: Record<IntakeSourceType, Partial<Record<MappingField, string>>> = {
  alertmanager: {
    when: "event.status == 'firing'",
    resolved: "event.status == 'resolved'",
    // The fingerprint names the label set; with startsAt, a redelivery is the same task and the
    // same alert firing again next week is a new one.
    externalRef: "event.fingerprint + '@' + event.startsAt",
  },
  pagerduty: {
    when: "payload.event.event_type == 'incident.triggered'",
    resolved: "payload.event.event_type == 'incident.resolved'",
    externalRef: "'pagerduty:' + payload.event.data.id",
  },
  jira: {
    when: "payload.webhookEvent == 'jira:issue_created'",
    resolved: 'false',
    externalRef: "'jira:' + payload.issue.key",
  },
  github: {
    when: "headers['x-github-event'] == 'issues' && payload.action == 'opened'",
    resolved: "headers['x-github-event'] == 'issues' && payload.action == 'closed'",
    externalRef: "'github:' + payload.repository.full_name + '#' + string(payload.issue.number)",
  },
  webhook: { when: 'true', resolved: 'false' },
};

/** The result types a field's expression may have (`dyn` is checked when evaluated). */
const FIELD_TYPES: Record<MappingField, string[]> = {
  when: ['bool', 'dyn'],
  resolved: ['bool', 'dyn'],
  taskClass: ['string', 'dyn'],
  externalRef: ['string', 'dyn'],
  input: ['map', 'dyn'],
  requestedBy: ['string', 'dyn'],
  priority: ['int', 'dyn'],
};

/** A resolved write-back target: credentials read, defaults applied. */
export interface ResolvedWriteBack {
  url?: string;
  token?: string;
  user?: string;
  from?: string;
  secret?: string;
  transition?: string;
  resolve: boolean;
}

/** An intake source ready to take requests: secrets read, every expression compiled. */
export interface ResolvedIntakeSource {
  name: string;
  type: IntakeSourceType;
  /** The signature secret; undefined: a bearer token with the intake role is the credential. */
  secret?: string;
  onResolved: OnResolved;
  mapping: Partial<Record<MappingField, IntakeExpr>>;
  writeBack?: ResolvedWriteBack;
}

export interface ResolvedIntakeSources {
  sources: Record<string, ResolvedIntakeSource>;
  /** Values read through `{ env }` / `{ file }` and credentials: masked like secrets. */
  secretValues: string[];
  unresolved: string[];
}

const SOURCE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * Resolves and checks every source under `raw` (the `intake.sources` value as parsed from YAML):
 * names fit for a URL, credentials read, each mapping expression compiled and of the right type.
 * Problems are appended with their YAML location; sources that fail the schema were reported by
 * it and are skipped here.
 */
export async function resolveIntakeSources(src: YamlSource, raw: unknown, ctx: ResolveContext, problems: Problem[]): Promise<ResolvedIntakeSources> {
  const out: ResolvedIntakeSources = { sources: {}, secretValues: [], unresolved: [] };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return out;
  for (const [name, rawSource] of Object.entries(raw)) {
    const base = ['intake', 'sources', name];
    if (!SOURCE_NAME.test(name)) {
      problems.push(src.problem(base, `source name "${name}" must be lower-case letters, digits, - and _ (it is the URL path /v1/intake/<name>)`, 'key'));
    }
    const parsed = IntakeSource.safeParse(rawSource);
    if (!parsed.success) continue;
    const s = parsed.data;
    let ok = true;
    const read = async (path: (string | number)[], v: StringOrRef | undefined, check?: (s: string) => string | undefined): Promise<string | undefined> => {
      if (v === undefined) return undefined;
      const r = await resolveValue(v, ctx);
      if (mayStayUnresolved(r, ctx)) {
        out.unresolved.push([...base, ...path].join('.'));
        return '';
      }
      if (!r.ok) {
        problems.push(src.problem([...base, ...path, r.at], r.message));
        ok = false;
        return undefined;
      }
      // Credentials are secret however they were written.
      out.secretValues.push(r.value);
      const wrong = check?.(r.value);
      if (wrong) {
        problems.push(src.problem([...base, ...path], typeof v === 'string' ? wrong : `the value it refers to ${wrong}`));
        ok = false;
      }
      return r.value;
    };
    const whsec = (v: string) => (/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(v) ? undefined : 'must be a Standard Webhooks secret: whsec_ followed by base64');
    const secret = await read(['secret'], s.secret, s.type === 'webhook' ? whsec : undefined);
    if (s.type === 'alertmanager' && s.secret !== undefined) {
      problems.push(src.problem([...base, 'secret'], 'Alertmanager does not sign its webhooks: give it a bearer token with the intake role (http_config.authorization) and drop secret'));
      ok = false;
    }

    const mapping: ResolvedIntakeSource['mapping'] = {};
    for (const field of MAPPING_FIELDS) {
      const given = s.mapping[field];
      const text = given ?? MAPPING_DEFAULTS[s.type][field];
      if (text === undefined) continue;
      const compiled = compileIntakeExpr(text);
      if ('error' in compiled) {
        const where = given === undefined ? `the default ${field} of ${s.type} sources (${text})` : field;
        problems.push(src.problem([...base, 'mapping', given === undefined ? 'taskClass' : field], `${where}: ${compiled.error.message}`));
        ok = false;
        continue;
      }
      const type = compiled.expr.type.replace(/<.*$/, '');
      if (!FIELD_TYPES[field].includes(type)) {
        problems.push(src.problem([...base, 'mapping', field], `${field} must give ${FIELD_TYPES[field][0]}, this expression gives ${compiled.expr.type}`));
        ok = false;
        continue;
      }
      mapping[field] = compiled.expr;
    }

    let writeBack: ResolvedWriteBack | undefined;
    if (s.writeBack) {
      const w = s.writeBack;
      const url = (v: string) => (/^https?:\/\//.test(v) ? undefined : 'must be an http(s) URL');
      writeBack = {
        resolve: w.resolve ?? false,
        ...(w.transition ? { transition: w.transition } : {}),
        ...(w.from ? { from: w.from } : {}),
      };
      const wUrl = await read(['writeBack', 'url'], w.url, url);
      const wToken = await read(['writeBack', 'token'], w.token);
      const wUser = await read(['writeBack', 'user'], w.user);
      const wSecret = await read(['writeBack', 'secret'], w.secret, whsec);
      if (wUrl !== undefined) writeBack.url = wUrl;
      if (wToken !== undefined) writeBack.token = wToken;
      if (wUser !== undefined) writeBack.user = wUser;
      if (wSecret !== undefined) writeBack.secret = wSecret;
      const need = (field: keyof typeof w, why: string) => {
        if (w[field] === undefined) {
          problems.push(src.problem([...base, 'writeBack'], `writeBack of a ${s.type} source needs ${field}: ${why}`));
          ok = false;
        }
      };
      switch (s.type) {
        case 'alertmanager':
          problems.push(src.problem([...base, 'writeBack'], 'Alertmanager has no API to write an outcome to; drop writeBack (route packets to a sink instead)'));
          ok = false;
          break;
        case 'jira':
          need('url', 'the Jira site, https://your-domain.atlassian.net');
          need('user', 'the account email of the API token');
          need('token', 'an API token');
          break;
        case 'pagerduty':
          need('token', 'a REST API key');
          need('from', 'the email of a PagerDuty user');
          break;
        case 'github':
          need('token', 'a token that may comment on issues');
          break;
        case 'webhook':
          need('url', 'where to POST the outcome');
          need('secret', 'a whsec_ secret to sign it with');
          break;
      }
    }
    if (ok) {
      out.sources[name] = {
        name,
        type: s.type,
        ...(secret ? { secret } : {}),
        onResolved: s.onResolved,
        mapping,
        ...(writeBack ? { writeBack } : {}),
      };
    }
  }
  return out;
}
