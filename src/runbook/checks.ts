/**
 * The checks the schema cannot express: references between fields (goto targets, systems,
 * refresh lists, step ids in CEL), repeat safety, CEL parse and type errors, the exec allow list,
 * cron and time zones, the input schema itself.
 *
 * They run on the raw YAML value even when the schema found problems, so one `validate` run
 * reports every problem, and so each check reads defensively: it looks only at fields whose
 * shape is right, and leaves wrong shapes to the schema's findings.
 */
import { ESCALATION_REASONS, FAILURE_CLASSES } from '../lifecycle/vocabulary.js';
import { CheckContext, isObj, list, str, type CheckOptions, type Obj } from './check-context.js';
import { cronTimer } from './cron.js';
import { compileInputSchema, KNOWN_FORMATS } from './input-schema.js';
import { InputSchema, type InputSchemaNode } from './schema.js';
import { checkStep } from './step-checks.js';
import { didYouMean } from './suggest.js';
import type { Finding, PathSegment } from './yaml-source.js';

export type { CheckOptions } from './check-context.js';

/** Runs every cross-field check on a parsed runbook document. */
export function checkRunbook(raw: unknown, opts: CheckOptions = {}): Finding[] {
  if (!isObj(raw)) return [];
  const c = new CheckContext(raw, opts);
  checkInputSchema(c);
  checkSystems(c);
  checkPolicy(c);
  if (isObj(raw.retry)) c.checkRetry(raw.retry, ['retry'], undefined);
  checkEscalation(c);
  checkSchedule(c);
  c.steps.forEach((s, i) => {
    if (isObj(s)) checkStep(c, s, i);
  });
  return c.findings;
}

function checkInputSchema(c: CheckContext): void {
  const input = c.doc.input;
  if (!isObj(input)) return;
  if (input.type !== undefined && input.type !== 'object') c.add(['input', 'type'], "the input schema must be `type: object`: a task's input is a mapping of named parameters");
  walkInputSchema(c, input, ['input']);
  // ajv only sees schemas the subset accepts; the schema's findings cover the rest.
  if (!InputSchema.safeParse(input).success) return;
  const compiled = compileInputSchema(input as InputSchemaNode);
  if ('error' in compiled && !c.findings.some((f) => f.path[0] === 'input')) {
    // ajv names the schema location as `at path "#/properties/email"`: point there when it does.
    const at = /at path "#\/?([^"]*)"/.exec(compiled.error)?.[1];
    const segments = at ? at.split('/').filter(Boolean).map((s) => decodeURIComponent(s.replace(/~1/g, '/').replace(/~0/g, '~'))) : [];
    const format = /unknown format "([^"]*)"/.exec(compiled.error)?.[1];
    if (format !== undefined) {
      c.add(['input', ...segments, 'format'], `unknown format \`${format}\`${didYouMean(format, KNOWN_FORMATS)}; known: ${KNOWN_FORMATS.join(', ')}`);
    } else c.add(['input', ...segments], `invalid input schema: ${compiled.error}`);
  }
}

/** Regular expressions that do not compile, and `required` names no property declares. */
function walkInputSchema(c: CheckContext, schema: Obj, path: PathSegment[]): void {
  if (typeof schema.pattern === 'string') {
    try {
      new RegExp(schema.pattern, 'u');
    } catch (err) {
      c.add([...path, 'pattern'], `invalid regular expression: ${(err as Error).message}`);
    }
  }
  const props = isObj(schema.properties) ? schema.properties : undefined;
  const names = Object.keys(props ?? {});
  list(schema.required).forEach((name, i) => {
    if (props && typeof name === 'string' && !names.includes(name)) c.add([...path, 'required', i], `required property \`${name}\` is not under \`properties\`${didYouMean(name, names)}`);
  });
  for (const [name, sub] of Object.entries(props ?? {})) if (isObj(sub)) walkInputSchema(c, sub, [...path, 'properties', name]);
  if (isObj(schema.items)) walkInputSchema(c, schema.items, [...path, 'items']);
  if (isObj(schema.additionalProperties)) walkInputSchema(c, schema.additionalProperties, [...path, 'additionalProperties']);
}

function checkSystems(c: CheckContext): void {
  if (!isObj(c.doc.systems)) return;
  for (const [name, sys] of Object.entries(c.doc.systems)) {
    if (!isObj(sys)) continue;
    c.template(sys.baseUrl, ['systems', name, 'baseUrl'], {});
    c.templateTree(sys.headers, ['systems', name, 'headers'], {});
  }
}

function checkPolicy(c: CheckContext): void {
  const policy = c.doc.policy;
  if (!isObj(policy)) return;
  const names = new Set<string>();
  list(policy.guards).forEach((g, i) => {
    if (!isObj(g)) return;
    const name = str(g.name);
    if (name !== undefined) {
      if (names.has(name)) c.add(['policy', 'guards', i, 'name'], `duplicate guard name \`${name}\``);
      names.add(name);
    }
    c.cel(g.deny, ['policy', 'guards', i, 'deny'], 'task', {});
  });
  if (isObj(policy.concurrency)) {
    // Evaluated at intake, before any step ran: only `input` and `task` mean something there.
    const key = policy.concurrency.key;
    c.cel(key, ['policy', 'concurrency', 'key'], 'task', {});
    if (typeof key === 'string' && /\b(steps|secrets)\b/.test(key)) {
      c.add(['policy', 'concurrency', 'key'], 'the concurrency key is evaluated at intake, before any step ran and without secrets: use `input` and `task` only');
    }
  }
}

function checkEscalation(c: CheckContext): void {
  const esc = c.doc.escalation;
  if (!isObj(esc)) return;
  const kinds = [...ESCALATION_REASONS, ...FAILURE_CLASSES];
  if (isObj(esc.routes)) {
    for (const key of Object.keys(esc.routes)) {
      if (!kinds.includes(key as never)) c.add(['escalation', 'routes', key], `\`${key}\` is neither an escalation reason nor a failure class${didYouMean(key, kinds)}`, { at: 'key' });
    }
  }
  if (esc.ackWithin !== undefined && list(esc.then).length === 0) {
    c.add(['escalation', 'ackWithin'], '`ackWithin` needs `then`: the routes to escalate to, in order, when nobody acts on the task in time');
  }
  if (esc.then !== undefined && esc.ackWithin === undefined) {
    c.add(['escalation', 'then'], '`then` needs `ackWithin`: how long an escalation may go unacknowledged before the next route is tried');
  }
  if (isObj(esc.recommend)) {
    const known = [...kinds, ...c.stepIndex.keys()];
    for (const key of Object.keys(esc.recommend)) {
      if (!known.includes(key)) c.add(['escalation', 'recommend', key], `\`${key}\` is not an escalation reason, a failure class or a step id${didYouMean(key, known)}`, { at: 'key' });
    }
  }
}

function checkSchedule(c: CheckContext): void {
  const sched = c.doc.schedule;
  if (!isObj(sched)) return;
  const tz = str(sched.timezone) ?? 'UTC';
  let tzOk = true;
  if (typeof sched.timezone === 'string') {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
    } catch {
      tzOk = false;
      c.add(['schedule', 'timezone'], `unknown time zone ${JSON.stringify(tz)}: expected an IANA name such as UTC or Europe/Berlin`);
    }
  }
  const cron = str(sched.cron);
  if (cron !== undefined) {
    try {
      // A cron that parses may still name no time that exists (February 30th): it would never fire.
      if (cronTimer(cron, tzOk ? tz : 'UTC').next(new Date()) === null) c.add(['schedule', 'cron'], `the cron expression ${JSON.stringify(cron)} never fires`);
    } catch (err) {
      c.add(['schedule', 'cron'], `invalid cron expression: ${(err as Error).message.replace(/^CronPattern: /, '')}`);
    }
  }
  if (isObj(sched.input) && c.doc.input !== undefined && InputSchema.safeParse(c.doc.input).success) {
    const compiled = compileInputSchema(c.doc.input as InputSchemaNode);
    if ('validate' in compiled) {
      for (const p of compiled.validate(sched.input)) {
        const segs = p.path.replace(/^input\.?/, '');
        c.add(['schedule', 'input', ...(segs ? segs.split('.') : [])], `scheduled input ${p.path} ${p.message}`);
      }
    }
  }
}
