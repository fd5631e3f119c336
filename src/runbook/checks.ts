/**
 * The checks the schema cannot express: references between fields (goto targets, systems,
 * refresh lists, step ids in CEL), repeat safety, CEL parse and type errors, the exec allow list,
 * cron and time zones, the input schema itself.
 *
 * They run on the raw YAML value even when the schema found problems, so one `validate` run
 * reports every problem, and so each check reads defensively: it looks only at fields whose
 * shape is right, and leaves wrong shapes to the schema's findings.
 */
import { basename } from 'node:path';
import { Cron } from 'croner';
import { ESCALATION_REASONS, FAILURE_CLASSES } from '../lifecycle/vocabulary.js';
import {
  actionChanges,
  HTTP_METHODS,
  isBuiltinAction,
  lookupPlugin,
  pluginNames,
  UNATTENDED_ACTIONS,
  WITH_SCHEMAS,
  type PluginRegistry,
} from './action-schema.js';
import { BUILTIN_ACTIONS } from '../lifecycle/vocabulary.js';
import { compileExpr, compileTemplate, type CelRef, type CelScope } from './cel.js';
import { tryParseDuration } from './duration.js';
import { compileInputSchema, KNOWN_FORMATS } from './input-schema.js';
import { InputSchema, type InputSchemaNode } from './schema.js';
import { didYouMean } from './suggest.js';
import type { Finding, PathSegment } from './yaml-source.js';
import { zodFindings } from './zod-findings.js';

export interface CheckOptions {
  /** Plugin actions of the deployment; without it, `with` of plugin actions is not checked. */
  plugins?: PluginRegistry;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Where an expression sits: which step (for `steps.<id>` references) and whether it may read its own step. */
interface RefScope {
  step?: number;
  self?: boolean;
}

/** Runs every cross-field check on a parsed runbook document. */
export function checkRunbook(raw: unknown, opts: CheckOptions = {}): Finding[] {
  if (!isObj(raw)) return [];
  return new Checker(raw, opts).run();
}

class Checker {
  private readonly findings: Finding[] = [];
  private readonly steps: unknown[];
  private readonly stepIndex = new Map<string, number>();
  private readonly systems: string[];
  private readonly allowExec: string[];
  /** Input property names, when the schema names them and allows no others. */
  private readonly inputProps: string[] | undefined;

  constructor(
    private readonly doc: Obj,
    private readonly opts: CheckOptions,
  ) {
    this.steps = list(doc.steps);
    this.systems = isObj(doc.systems) ? Object.keys(doc.systems) : [];
    this.allowExec = list(isObj(doc.policy) ? doc.policy.allowExec : undefined).filter((p): p is string => typeof p === 'string');
    const input = doc.input;
    const open = isObj(input) && (input.additionalProperties === true || isObj(input.additionalProperties));
    this.inputProps = isObj(input) && isObj(input.properties) && !open ? Object.keys(input.properties) : undefined;
  }

  run(): Finding[] {
    this.indexSteps();
    this.checkInputSchema();
    this.checkSystems();
    this.checkPolicy();
    if (isObj(this.doc.retry)) this.checkRetry(this.doc.retry, ['retry'], undefined);
    this.checkEscalation();
    this.checkSchedule();
    this.steps.forEach((s, i) => {
      if (isObj(s)) this.checkStep(s, i);
    });
    return this.findings;
  }

  private add(path: PathSegment[], message: string, extra: Partial<Finding> = {}): void {
    this.findings.push({ path, message, ...extra });
  }

  private indexSteps(): void {
    this.steps.forEach((s, i) => {
      const id = isObj(s) ? str(s.id) : undefined;
      if (id === undefined) return;
      const first = this.stepIndex.get(id);
      if (first !== undefined) this.add(['steps', i, 'id'], `duplicate step id \`${id}\`: steps[${first}] has it already; step ids must be unique`);
      else this.stepIndex.set(id, i);
    });
  }

  private stepRepeat(i: number): string | undefined {
    const s = this.steps[i];
    if (!isObj(s)) return undefined;
    if (typeof s.repeat === 'string') return s.repeat;
    return typeof s.action === 'string' && !actionChanges(s.action, s.with, this.opts.plugins) ? 'safe' : undefined;
  }

  // ---- top level -------------------------------------------------------------------------

  private checkInputSchema(): void {
    const input = this.doc.input;
    if (!isObj(input)) return;
    if (input.type !== undefined && input.type !== 'object') this.add(['input', 'type'], "the input schema must be `type: object`: a task's input is a mapping of named parameters");
    this.walkInputSchema(input, ['input']);
    // ajv only sees schemas the subset accepts; the schema's findings cover the rest.
    if (!InputSchema.safeParse(input).success) return;
    const compiled = compileInputSchema(input as InputSchemaNode);
    if ('error' in compiled && !this.findings.some((f) => f.path[0] === 'input')) {
      // ajv names the schema location as `at path "#/properties/email"`: point there when it does.
      const at = /at path "#\/?([^"]*)"/.exec(compiled.error)?.[1];
      const segments = at ? at.split('/').filter(Boolean).map((s) => decodeURIComponent(s.replace(/~1/g, '/').replace(/~0/g, '~'))) : [];
      const format = /unknown format "([^"]*)"/.exec(compiled.error)?.[1];
      if (format !== undefined) {
        this.add(['input', ...segments, 'format'], `unknown format \`${format}\`${didYouMean(format, KNOWN_FORMATS)}; known: ${KNOWN_FORMATS.join(', ')}`);
      } else this.add(['input', ...segments], `invalid input schema: ${compiled.error}`);
    }
  }

  /** Regular expressions that do not compile, and `required` names no property declares. */
  private walkInputSchema(schema: Obj, path: PathSegment[]): void {
    if (typeof schema.pattern === 'string') {
      try {
        new RegExp(schema.pattern, 'u');
      } catch (err) {
        this.add([...path, 'pattern'], `invalid regular expression: ${(err as Error).message}`);
      }
    }
    const props = isObj(schema.properties) ? schema.properties : undefined;
    const names = Object.keys(props ?? {});
    list(schema.required).forEach((name, i) => {
      if (props && typeof name === 'string' && !names.includes(name)) this.add([...path, 'required', i], `required property \`${name}\` is not under \`properties\`${didYouMean(name, names)}`);
    });
    for (const [name, sub] of Object.entries(props ?? {})) if (isObj(sub)) this.walkInputSchema(sub, [...path, 'properties', name]);
    if (isObj(schema.items)) this.walkInputSchema(schema.items, [...path, 'items']);
    if (isObj(schema.additionalProperties)) this.walkInputSchema(schema.additionalProperties, [...path, 'additionalProperties']);
  }

  private checkSystems(): void {
    if (!isObj(this.doc.systems)) return;
    for (const [name, sys] of Object.entries(this.doc.systems)) {
      if (!isObj(sys)) continue;
      this.template(sys.baseUrl, ['systems', name, 'baseUrl'], {});
      this.templateTree(sys.headers, ['systems', name, 'headers'], {});
    }
  }

  private checkPolicy(): void {
    const policy = this.doc.policy;
    if (!isObj(policy)) return;
    const names = new Set<string>();
    list(policy.guards).forEach((g, i) => {
      if (!isObj(g)) return;
      const name = str(g.name);
      if (name !== undefined) {
        if (names.has(name)) this.add(['policy', 'guards', i, 'name'], `duplicate guard name \`${name}\``);
        names.add(name);
      }
      this.cel(g.deny, ['policy', 'guards', i, 'deny'], 'task', {});
    });
  }

  private checkEscalation(): void {
    const esc = this.doc.escalation;
    if (!isObj(esc)) return;
    const kinds = [...ESCALATION_REASONS, ...FAILURE_CLASSES];
    if (isObj(esc.routes)) {
      for (const key of Object.keys(esc.routes)) {
        if (!kinds.includes(key as never)) this.add(['escalation', 'routes', key], `\`${key}\` is neither an escalation reason nor a failure class${didYouMean(key, kinds)}`, { at: 'key' });
      }
    }
    if (isObj(esc.recommend)) {
      const known = [...kinds, ...this.stepIndex.keys()];
      for (const key of Object.keys(esc.recommend)) {
        if (!known.includes(key)) this.add(['escalation', 'recommend', key], `\`${key}\` is not an escalation reason, a failure class or a step id${didYouMean(key, known)}`, { at: 'key' });
      }
    }
  }

  private checkSchedule(): void {
    const sched = this.doc.schedule;
    if (!isObj(sched)) return;
    const tz = str(sched.timezone) ?? 'UTC';
    let tzOk = true;
    if (typeof sched.timezone === 'string') {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
      } catch {
        tzOk = false;
        this.add(['schedule', 'timezone'], `unknown time zone ${JSON.stringify(tz)}: expected an IANA name such as UTC or Europe/Berlin`);
      }
    }
    const cron = str(sched.cron);
    if (cron !== undefined) {
      try {
        new Cron(cron, { paused: true, ...(tzOk ? { timezone: tz } : {}) }).stop();
      } catch (err) {
        this.add(['schedule', 'cron'], `invalid cron expression: ${(err as Error).message.replace(/^CronPattern: /, '')}`);
      }
    }
    if (isObj(sched.input) && this.doc.input !== undefined && InputSchema.safeParse(this.doc.input).success) {
      const compiled = compileInputSchema(this.doc.input as InputSchemaNode);
      if ('validate' in compiled) {
        for (const p of compiled.validate(sched.input)) {
          const segs = p.path.replace(/^input\.?/, '');
          this.add(['schedule', 'input', ...(segs ? segs.split('.') : [])], `scheduled input ${p.path} ${p.message}`);
        }
      }
    }
  }

  // ---- steps -----------------------------------------------------------------------------

  private checkStep(step: Obj, i: number): void {
    const at = (...p: PathSegment[]): PathSegment[] => ['steps', i, ...p];
    const here: RefScope = { step: i, self: false };
    const after: RefScope = { step: i, self: true };
    const action = str(step.action);
    // An unknown http method is reported by the schema; guessing whether it changes state would only add noise.
    const method = isObj(step.with) ? step.with.method : undefined;
    const knownMethod = action !== 'http' || method === undefined || (HTTP_METHODS as readonly unknown[]).includes(method);
    const changes = action !== undefined && knownMethod && actionChanges(action, step.with, this.opts.plugins);

    this.checkCall(step, at(), here, 'step');
    if (changes && step.repeat === undefined) {
      this.add(at('repeat'), `step \`${String(step.id)}\` changes state (${this.changeWhat(action!, step.with)}) but has no \`repeat\`: say \`keyed\` (deduplicated by an idempotency key), \`once\` (cannot be deduplicated; give it a \`probe\`) or \`safe\` (naturally idempotent)`);
    }
    this.cel(step.when, at('when'), 'task', here);
    if (isObj(step.approval)) this.cel(step.approval.when, at('approval', 'when'), 'task', here);
    list(step.classify).forEach((c, k) => {
      if (isObj(c)) this.cel(c.when, at('classify', k, 'when'), 'result', here);
    });
    const captured = new Set<string>();
    this.captures(step.capture, at('capture'), here, captured);
    if (action === 'set' && isObj(step.with)) for (const k of Object.keys(step.with)) captured.add(k);

    const checkIds = new Set<string>();
    list(step.verify).forEach((v, k) => {
      if (!isObj(v)) return;
      const id = str(v.id);
      if (id !== undefined && checkIds.has(id)) this.add(at('verify', k, 'id'), `duplicate verify check id \`${id}\``);
      if (id !== undefined) checkIds.add(id);
      this.checkCall(v, at('verify', k), after, 'verify');
      this.cel(v.expect, at('verify', k, 'expect'), 'result', after);
      if (isObj(v.poll)) {
        const every = tryParseDuration(str(v.poll.every) ?? '');
        const within = tryParseDuration(str(v.poll.within) ?? '');
        if (every !== undefined && within !== undefined && every > within) this.add(at('verify', k, 'poll', 'every'), 'poll `every` is longer than `within`: the check would run only once');
      }
    });

    if (isObj(step.probe)) {
      const probe = step.probe;
      this.checkCall(probe, at('probe'), here, 'probe');
      const missing = ['present', 'absent'].filter((k) => probe[k] === undefined);
      if (missing.length) {
        this.add(at('probe'), `the probe needs ${missing.map((m) => `\`${m}\``).join(' and ')}: without both, a replay of this \`once\` step cannot be decided`);
      }
      this.cel(probe.present, at('probe', 'present'), 'result', here);
      this.cel(probe.absent, at('probe', 'absent'), 'result', here);
      this.captures(probe.capture, at('probe', 'capture'), here, captured);
    }

    if (isObj(step.compensate)) {
      const comp = step.compensate;
      this.checkCall(comp, at('compensate'), after, 'compensate');
      const compAction = str(comp.action);
      if (compAction !== undefined && comp.repeat === undefined && actionChanges(compAction, comp.with, this.opts.plugins)) {
        this.add(at('compensate', 'repeat'), `the compensation changes state (${this.changeWhat(compAction, comp.with)}) but has no \`repeat\`: say \`keyed\`, \`once\` or \`safe\``);
      }
    }

    list(step.ids).forEach((name, k) => {
      if (typeof name === 'string' && !captured.has(name)) this.add(at('ids', k), `\`${name}\` is not captured by this step${didYouMean(name, captured)}: \`ids\` lists captured names`);
    });

    if (isObj(step.retry)) this.checkRetry(step.retry, at('retry'), i);
    list(step.next).forEach((n, k) => {
      if (!isObj(n)) return;
      this.cel(n.when, at('next', k, 'when'), 'task', after);
      this.goto(n.goto, at('next', k, 'goto'), i);
    });
    const onFailure = str(step.onFailure);
    if (onFailure?.startsWith('goto:')) this.goto(onFailure.slice(5), at('onFailure'), i, 5);
    this.checkFallback(step, i);
  }

  private changeWhat(action: string, withValue: unknown): string {
    if (action === 'http') return `http ${String((withValue as Obj | undefined)?.method ?? 'GET')}`;
    if (action === 'exec') return 'exec';
    const hint = didYouMean(action, BUILTIN_ACTIONS);
    return lookupPlugin(this.opts.plugins, action) ? `plugin \`${action}\`` : `\`${action}\` is not a built-in action, so it is taken as a plugin that changes state${hint}`;
  }

  private captures(value: unknown, path: PathSegment[], scope: RefScope, into: Set<string>): void {
    if (!isObj(value)) return;
    for (const [name, expr] of Object.entries(value)) {
      into.add(name);
      this.cel(expr, [...path, name], 'result', scope);
    }
  }

  private checkFallback(step: Obj, i: number): void {
    const fallback = str(step.fallback);
    if (fallback === undefined) return;
    if (step.action !== 'decide') {
      this.add(['steps', i, 'fallback'], '`fallback` only applies to `decide` steps');
      return;
    }
    const options = list(isObj(step.with) ? step.with.options : undefined)
      .map((o) => (isObj(o) ? str(o.id) : undefined))
      .filter((o): o is string => o !== undefined);
    if (fallback !== 'escalate' && !options.includes(fallback)) {
      this.add(['steps', i, 'fallback'], `\`${fallback}\` is neither \`escalate\` nor an option id${didYouMean(fallback, ['escalate', ...options])}`);
    }
  }

  /** An action invocation: a step, a verify check, a probe or a compensation. */
  private checkCall(call: Obj, path: PathSegment[], scope: RefScope, role: 'step' | 'verify' | 'probe' | 'compensate'): void {
    const action = str(call.action);
    if (action === undefined) return;
    const w = call.with;
    const withPath = [...path, 'with'];
    if (role !== 'step' && !(UNATTENDED_ACTIONS as readonly string[]).includes(action) && isBuiltinAction(action)) {
      this.add([...path, 'action'], `a ${role} runs unattended and may repeat: use \`http\`, \`exec\` or a plugin, not \`${action}\``);
      return;
    }
    if (w !== undefined && !isObj(w)) return; // the schema reports it
    const withValue = w ?? {};
    if (isBuiltinAction(action)) {
      this.findings.push(...zodFindings(WITH_SCHEMAS[action], withValue, withPath));
    } else {
      this.checkPlugin(action, withValue, path, scope);
      return;
    }
    switch (action) {
      case 'http':
        this.checkHttp(withValue, withPath, scope);
        break;
      case 'exec':
        this.checkExec(withValue, withPath, scope);
        break;
      case 'approve':
        this.template(withValue.prompt, [...withPath, 'prompt'], scope);
        break;
      case 'decide':
        this.checkDecide(withValue, withPath, scope, scope.step ?? -1);
        break;
      case 'set':
        for (const [name, expr] of Object.entries(withValue)) this.cel(expr, [...withPath, name], 'task', scope);
        break;
    }
  }

  private checkPlugin(action: string, withValue: Obj, path: PathSegment[], scope: RefScope): void {
    const withPath = [...path, 'with'];
    const plugins = this.opts.plugins;
    const plugin = lookupPlugin(plugins, action);
    if (plugins && !plugin) {
      const known = [...BUILTIN_ACTIONS, ...pluginNames(plugins)];
      this.add([...path, 'action'], `unknown action \`${action}\`${didYouMean(action, known)}: built-in actions are ${BUILTIN_ACTIONS.join(', ')}; plugins: ${pluginNames(plugins).join(', ') || 'none'}`);
    }
    if (plugin) {
      // Strings holding `${...}` get their type only when rendered: leave them to run time.
      const findings = zodFindings(plugin.schema, withValue, withPath).filter((f) => {
        const v = valueAtRel(withValue, f.path.slice(withPath.length));
        return !(typeof v === 'string' && v.includes('${'));
      });
      this.findings.push(...findings);
    }
    this.templateTree(withValue, withPath, scope);
  }

  private checkHttp(w: Obj, path: PathSegment[], scope: RefScope): void {
    const system = str(w.system);
    if (system !== undefined && w.url !== undefined) this.add([...path, 'url'], 'give `system` (with `path`) or `url`, not both');
    else if (system === undefined && w.url === undefined) this.add(path, 'an http action needs `system` (with `path`) or `url`');
    if (system === undefined && w.path !== undefined && w.url !== undefined) this.add([...path, 'path'], '`path` is relative to a system\'s `baseUrl`: use it with `system`, or put the whole address in `url`');
    if (system !== undefined && !this.systems.includes(system)) {
      this.add([...path, 'system'], `no system \`${system}\` under \`systems\`${didYouMean(system, this.systems)}${this.systems.length ? `; defined: ${this.systems.join(', ')}` : ''}`);
    }
    for (const key of ['url', 'path', 'idempotencyKey']) this.template(w[key], [...path, key], scope);
    for (const key of ['headers', 'query', 'body']) this.templateTree(w[key], [...path, key], scope);
  }

  private checkExec(w: Obj, path: PathSegment[], scope: RefScope): void {
    const program = str(w.program);
    if (program !== undefined && !this.allowExec.includes(program) && !this.allowExec.includes(basename(program))) {
      const allowed = this.allowExec.length ? `allowed: ${this.allowExec.join(', ')}` : 'the list is empty';
      this.add([...path, 'program'], `program \`${program}\` is not in \`policy.allowExec\` (${allowed})`);
    }
    this.templateTree(w.args, [...path, 'args'], scope);
    this.templateTree(w.env, [...path, 'env'], scope);
    this.template(w.cwd, [...path, 'cwd'], scope);
  }

  private checkDecide(w: Obj, path: PathSegment[], scope: RefScope, from: number): void {
    list(w.show).forEach((e, k) => this.cel(e, [...path, 'show', k], 'task', scope));
    const ids = new Set<string>();
    list(w.options).forEach((o, k) => {
      if (!isObj(o)) return;
      const id = str(o.id);
      if (id !== undefined && ids.has(id)) this.add([...path, 'options', k, 'id'], `duplicate option id \`${id}\``);
      if (id !== undefined) ids.add(id);
      if (o.goto !== undefined && o.escalate === true) this.add([...path, 'options', k], 'an option either goes to a step (`goto`) or escalates, not both');
      this.cel(o.when, [...path, 'options', k, 'when'], 'task', scope);
      if (from >= 0) this.goto(o.goto, [...path, 'options', k, 'goto'], from);
    });
  }

  // ---- references ------------------------------------------------------------------------

  private goto(target: unknown, path: PathSegment[], from: number, offset?: number): void {
    if (typeof target !== 'string' || target === 'end') return;
    const extra = offset === undefined ? {} : { offset };
    const idx = this.stepIndex.get(target);
    if (idx === undefined) {
      this.add(path, `goto names no step \`${target}\`${didYouMean(target, [...this.stepIndex.keys(), 'end'])}`, extra);
    } else if (idx <= from) {
      const where = idx === from ? 'this same step' : `an earlier step (steps[${idx}])`;
      this.add(path, `goto \`${target}\` goes back to ${where}: a goto may only name a later step or \`end\`, runbooks have no loops`, extra);
    }
  }

  private checkRetry(retry: Obj, path: PathSegment[], stepIdx: number | undefined): void {
    for (const [cls, policy] of Object.entries(retry)) {
      if (!isObj(policy)) continue;
      const delay = tryParseDuration(str(policy.delay) ?? '');
      const maxDelay = tryParseDuration(str(policy.maxDelay) ?? '');
      if (delay !== undefined && maxDelay !== undefined && maxDelay < delay) this.add([...path, cls, 'maxDelay'], `maxDelay (${String(policy.maxDelay)}) cannot be less than delay (${String(policy.delay)})`);
      list(policy.refresh).forEach((id, k) => {
        if (typeof id !== 'string') return;
        const idx = this.stepIndex.get(id);
        const at = [...path, cls, 'refresh', k];
        if (idx === undefined) this.add(at, `refresh names no step \`${id}\`${didYouMean(id, this.stepIndex.keys())}`);
        else if (stepIdx !== undefined && idx >= stepIdx) this.add(at, `refresh may only re-run earlier steps; \`${id}\` is ${idx === stepIdx ? 'this step' : 'a later step'}`);
        else if (this.stepRepeat(idx) !== 'safe') {
          const repeat = this.stepRepeat(idx);
          this.add(at, `refresh may only re-run \`safe\` steps; \`${id}\` is ${repeat ? `\`${repeat}\`` : 'a step that changes state'}`);
        }
      });
    }
  }

  /** Compiles one CEL expression, reporting errors and references at their position. */
  private cel(value: unknown, path: PathSegment[], scope: CelScope, refScope: RefScope): void {
    if (typeof value !== 'string' || value === '') return;
    const compiled = compileExpr(value, scope);
    if ('error' in compiled) {
      this.add(path, `CEL: ${compiled.error.message}`, { offset: compiled.error.offset });
      return;
    }
    this.refs(compiled.refs, path, refScope);
  }

  private template(value: unknown, path: PathSegment[], refScope: RefScope): void {
    if (typeof value !== 'string') return;
    const compiled = compileTemplate(value, 'task');
    if ('errors' in compiled) {
      for (const e of compiled.errors) this.add(path, `CEL in \`\${}\`: ${e.message}`, { offset: e.offset });
      return;
    }
    this.refs(compiled.refs, path, refScope);
  }

  private templateTree(value: unknown, path: PathSegment[], refScope: RefScope): void {
    if (typeof value === 'string') this.template(value, path, refScope);
    else if (Array.isArray(value)) value.forEach((v, k) => this.templateTree(v, [...path, k], refScope));
    else if (isObj(value)) for (const [k, v] of Object.entries(value)) this.templateTree(v, [...path, k], refScope);
  }

  /** `steps.<id>` must name a step that has run by then; `input.<name>` a declared input. */
  private refs(refs: CelRef[], path: PathSegment[], scope: RefScope): void {
    for (const r of refs) {
      if (r.member === undefined) continue;
      if (r.root === 'steps') {
        const idx = this.stepIndex.get(r.member);
        if (idx === undefined) {
          this.add(path, `\`steps.${r.member}\`: no step \`${r.member}\`${didYouMean(r.member, this.stepIndex.keys())}`, { offset: r.offset });
        } else if (scope.step !== undefined && (idx > scope.step || (idx === scope.step && !scope.self))) {
          const why = idx === scope.step ? "a step's own captures are known only in its verify, next and compensate" : `step \`${r.member}\` runs later`;
          this.add(path, `\`steps.${r.member}\` is not known yet here: ${why}`, { offset: r.offset });
        }
      } else if (r.root === 'input' && this.inputProps && !this.inputProps.includes(r.member)) {
        this.add(path, `\`input.${r.member}\`: the input schema has no property \`${r.member}\`${didYouMean(r.member, this.inputProps)}`, { offset: r.offset });
      }
    }
  }
}

function valueAtRel(value: unknown, path: PathSegment[]): unknown {
  let cur = value;
  for (const seg of path) cur = isObj(cur) || Array.isArray(cur) ? (cur as Record<string | number, unknown>)[seg] : undefined;
  return cur;
}
