/**
 * The checks of one step: its action and `with`, repeat safety, probe, verify, compensation,
 * captures and ids, flow (`next`, `onFailure`, decide options) and `fallback`.
 */
import { basename } from 'node:path';
import { BUILTIN_ACTIONS } from '../lifecycle/vocabulary.js';
import { actionChanges, HTTP_METHODS, isBuiltinAction, lookupPlugin, pluginNames, UNATTENDED_ACTIONS, WITH_SCHEMAS } from './action-schema.js';
import { isObj, list, str, type CheckContext, type Obj, type RefScope } from './check-context.js';
import { tryParseDuration } from './duration.js';
import { didYouMean } from './suggest.js';
import type { PathSegment } from './yaml-source.js';
import { zodFindings } from './zod-findings.js';

/** Checks one step (at index `i`) and everything nested in it. */
export function checkStep(c: CheckContext, step: Obj, i: number): void {
  const at = (...p: PathSegment[]): PathSegment[] => ['steps', i, ...p];
  const here: RefScope = { step: i, self: false };
  const after: RefScope = { step: i, self: true };
  const action = str(step.action);
  // An unknown http method is reported by the schema; guessing whether it changes state would only add noise.
  const method = isObj(step.with) ? step.with.method : undefined;
  const knownMethod = action !== 'http' || method === undefined || (HTTP_METHODS as readonly unknown[]).includes(method);
  const changes = action !== undefined && knownMethod && actionChanges(action, step.with, c.opts.plugins);

  checkCall(c, step, at(), here, 'step');
  if (changes && step.repeat === undefined) {
    c.add(at('repeat'), `step \`${String(step.id)}\` changes state (${changeWhat(c, action!, step.with)}) but has no \`repeat\`: say \`keyed\` (deduplicated by an idempotency key), \`once\` (cannot be deduplicated; give it a \`probe\`) or \`safe\` (naturally idempotent)`);
  }
  if (action === 'http' && isObj(step.with) && step.with.idempotencyKey !== undefined && step.repeat !== 'keyed') {
    // Accepted and ignored would be worse than refused: the owner believes the call is deduplicated.
    const mode = step.repeat === undefined ? 'has no `repeat`' : `is \`${String(step.repeat)}\``;
    c.add(at('with', 'idempotencyKey'), `\`idempotencyKey\` is only sent by \`repeat: keyed\` steps; step \`${String(step.id)}\` ${mode}, so its key would never be sent: make it \`repeat: keyed\`, or drop the key`);
  }
  c.cel(step.when, at('when'), 'task', here);
  if (isObj(step.approval)) c.cel(step.approval.when, at('approval', 'when'), 'task', here);
  list(step.classify).forEach((rule, k) => {
    if (isObj(rule)) c.cel(rule.when, at('classify', k, 'when'), 'result', here);
  });
  const captured = new Set<string>();
  captures(c, step.capture, at('capture'), here, captured);
  if (action === 'set' && isObj(step.with)) for (const k of Object.keys(step.with)) captured.add(k);

  const checkIds = new Set<string>();
  list(step.verify).forEach((v, k) => {
    if (!isObj(v)) return;
    const id = str(v.id);
    if (id !== undefined && checkIds.has(id)) c.add(at('verify', k, 'id'), `duplicate verify check id \`${id}\``);
    if (id !== undefined) checkIds.add(id);
    checkCall(c, v, at('verify', k), after, 'verify');
    c.cel(v.expect, at('verify', k, 'expect'), 'result', after);
    if (isObj(v.poll)) {
      const every = tryParseDuration(str(v.poll.every) ?? '');
      const within = tryParseDuration(str(v.poll.within) ?? '');
      if (every !== undefined && within !== undefined && every > within) c.add(at('verify', k, 'poll', 'every'), 'poll `every` is longer than `within`: the check would run only once');
    }
  });

  if (isObj(step.probe)) {
    const probe = step.probe;
    checkCall(c, probe, at('probe'), here, 'probe');
    const missing = ['present', 'absent'].filter((k) => probe[k] === undefined);
    if (missing.length) {
      c.add(at('probe'), `the probe needs ${missing.map((m) => `\`${m}\``).join(' and ')}: without both, a replay of this \`once\` step cannot be decided`);
    }
    c.cel(probe.present, at('probe', 'present'), 'result', here);
    c.cel(probe.absent, at('probe', 'absent'), 'result', here);
    captures(c, probe.capture, at('probe', 'capture'), here, captured);
  }

  if (isObj(step.compensate)) {
    const comp = step.compensate;
    checkCall(c, comp, at('compensate'), after, 'compensate');
    const compAction = str(comp.action);
    if (compAction !== undefined && comp.repeat === undefined && actionChanges(compAction, comp.with, c.opts.plugins)) {
      c.add(at('compensate', 'repeat'), `the compensation changes state (${changeWhat(c, compAction, comp.with)}) but has no \`repeat\`: say \`keyed\`, \`once\` or \`safe\``);
    }
  }

  list(step.ids).forEach((name, k) => {
    if (typeof name === 'string' && !captured.has(name)) c.add(at('ids', k), `\`${name}\` is not captured by this step${didYouMean(name, captured)}: \`ids\` lists captured names`);
  });

  if (isObj(step.retry)) c.checkRetry(step.retry, at('retry'), i);
  list(step.next).forEach((n, k) => {
    if (!isObj(n)) return;
    c.cel(n.when, at('next', k, 'when'), 'task', after);
    c.goto(n.goto, at('next', k, 'goto'), i);
  });
  const onFailure = str(step.onFailure);
  if (onFailure?.startsWith('goto:')) c.goto(onFailure.slice(5), at('onFailure'), i, 5);
  checkFallback(c, step, i);
}

function changeWhat(c: CheckContext, action: string, withValue: unknown): string {
  if (action === 'http') return `http ${String((withValue as Obj | undefined)?.method ?? 'GET')}`;
  if (action === 'exec') return 'exec';
  const hint = didYouMean(action, BUILTIN_ACTIONS);
  return lookupPlugin(c.opts.plugins, action) ? `plugin \`${action}\`` : `\`${action}\` is not a built-in action, so it is taken as a plugin that changes state${hint}`;
}

function captures(c: CheckContext, value: unknown, path: PathSegment[], scope: RefScope, into: Set<string>): void {
  if (!isObj(value)) return;
  for (const [name, expr] of Object.entries(value)) {
    into.add(name);
    c.cel(expr, [...path, name], 'result', scope);
  }
}

function checkFallback(c: CheckContext, step: Obj, i: number): void {
  const fallback = str(step.fallback);
  if (fallback === undefined) return;
  if (step.action !== 'decide') {
    c.add(['steps', i, 'fallback'], '`fallback` only applies to `decide` steps');
    return;
  }
  const options = list(isObj(step.with) ? step.with.options : undefined)
    .map((o) => (isObj(o) ? str(o.id) : undefined))
    .filter((o): o is string => o !== undefined);
  if (fallback !== 'escalate' && !options.includes(fallback)) {
    c.add(['steps', i, 'fallback'], `\`${fallback}\` is neither \`escalate\` nor an option id${didYouMean(fallback, ['escalate', ...options])}`);
  }
}

/** An action invocation: a step, a verify check, a probe or a compensation. */
function checkCall(c: CheckContext, call: Obj, path: PathSegment[], scope: RefScope, role: 'step' | 'verify' | 'probe' | 'compensate'): void {
  const action = str(call.action);
  if (action === undefined) return;
  const w = call.with;
  const withPath = [...path, 'with'];
  if (role !== 'step' && !(UNATTENDED_ACTIONS as readonly string[]).includes(action) && isBuiltinAction(action)) {
    c.add([...path, 'action'], `a ${role} runs unattended and may repeat: use \`http\`, \`exec\` or a plugin, not \`${action}\``);
    return;
  }
  if (w !== undefined && !isObj(w)) return; // the schema reports it
  const withValue = w ?? {};
  if (isBuiltinAction(action)) {
    c.findings.push(...zodFindings(WITH_SCHEMAS[action], withValue, withPath));
  } else {
    checkPlugin(c, action, withValue, path, scope);
    return;
  }
  switch (action) {
    case 'http':
      checkHttp(c, withValue, withPath, scope);
      break;
    case 'exec':
      checkExec(c, withValue, withPath, scope);
      break;
    case 'approve':
      c.template(withValue.prompt, [...withPath, 'prompt'], scope);
      break;
    case 'decide':
      checkDecide(c, withValue, withPath, scope, scope.step ?? -1);
      break;
    case 'set':
      for (const [name, expr] of Object.entries(withValue)) c.cel(expr, [...withPath, name], 'task', scope);
      break;
  }
}

function checkPlugin(c: CheckContext, action: string, withValue: Obj, path: PathSegment[], scope: RefScope): void {
  const withPath = [...path, 'with'];
  const plugins = c.opts.plugins;
  const plugin = lookupPlugin(plugins, action);
  if (plugins && !plugin) {
    const known = [...BUILTIN_ACTIONS, ...pluginNames(plugins)];
    c.add([...path, 'action'], `unknown action \`${action}\`${didYouMean(action, known)}: built-in actions are ${BUILTIN_ACTIONS.join(', ')}; plugins: ${pluginNames(plugins).join(', ') || 'none'}`);
  }
  if (plugin) {
    // Strings holding `${...}` get their type only when rendered: leave them to run time.
    const findings = zodFindings(plugin.schema, withValue, withPath).filter((f) => {
      const v = valueAtRel(withValue, f.path.slice(withPath.length));
      return !(typeof v === 'string' && v.includes('${'));
    });
    c.findings.push(...findings);
  }
  c.templateTree(withValue, withPath, scope);
}

function checkHttp(c: CheckContext, w: Obj, path: PathSegment[], scope: RefScope): void {
  const system = str(w.system);
  if (system !== undefined && w.url !== undefined) c.add([...path, 'url'], 'give `system` (with `path`) or `url`, not both');
  else if (system === undefined && w.url === undefined) c.add(path, 'an http action needs `system` (with `path`) or `url`');
  if (system === undefined && w.path !== undefined && w.url !== undefined) c.add([...path, 'path'], '`path` is relative to a system\'s `baseUrl`: use it with `system`, or put the whole address in `url`');
  if (system !== undefined && !c.systems.includes(system)) {
    c.add([...path, 'system'], `no system \`${system}\` under \`systems\`${didYouMean(system, c.systems)}${c.systems.length ? `; defined: ${c.systems.join(', ')}` : ''}`);
  }
  for (const key of ['url', 'path', 'idempotencyKey']) c.template(w[key], [...path, key], scope);
  for (const key of ['headers', 'query', 'body']) c.templateTree(w[key], [...path, key], scope);
}

function checkExec(c: CheckContext, w: Obj, path: PathSegment[], scope: RefScope): void {
  const program = str(w.program);
  if (program !== undefined && !c.allowExec.includes(program) && !c.allowExec.includes(basename(program))) {
    const allowed = c.allowExec.length ? `allowed: ${c.allowExec.join(', ')}` : 'the list is empty';
    c.add([...path, 'program'], `program \`${program}\` is not in \`policy.allowExec\` (${allowed})`);
  }
  c.templateTree(w.args, [...path, 'args'], scope);
  c.templateTree(w.env, [...path, 'env'], scope);
  c.template(w.cwd, [...path, 'cwd'], scope);
}

function checkDecide(c: CheckContext, w: Obj, path: PathSegment[], scope: RefScope, from: number): void {
  list(w.show).forEach((e, k) => c.cel(e, [...path, 'show', k], 'task', scope));
  const ids = new Set<string>();
  list(w.options).forEach((o, k) => {
    if (!isObj(o)) return;
    const id = str(o.id);
    if (id !== undefined && ids.has(id)) c.add([...path, 'options', k, 'id'], `duplicate option id \`${id}\``);
    if (id !== undefined) ids.add(id);
    if (o.goto !== undefined && o.escalate === true) c.add([...path, 'options', k], 'an option either goes to a step (`goto`) or escalates, not both');
    c.cel(o.when, [...path, 'options', k, 'when'], 'task', scope);
    if (from >= 0) c.goto(o.goto, [...path, 'options', k, 'goto'], from);
  });
}

function valueAtRel(value: unknown, path: PathSegment[]): unknown {
  let cur = value;
  for (const seg of path) cur = isObj(cur) || Array.isArray(cur) ? (cur as Record<string | number, unknown>)[seg] : undefined;
  return cur;
}
