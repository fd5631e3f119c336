/**
 * Which role reads which secret, and where (runbook-format.md, "Additions in v1.1"): the
 * deployment config may grant each secret to roles (`secrets.NAME.roles`), and an expression that
 * reads a secret its role is not granted is a validation problem at its `file:line:col`, found at
 * load rather than by a verification worker that was never given the write token.
 *
 * Who reads what: a step's own fields are its action's role (`execution`; `agent` for `decide`),
 * `verify` checks and the `probe` are `verification`, `compensate` and guards are `execution`.
 * A system's `baseUrl` and `headers` are read by every role that calls the system, so a verify
 * check that calls a system whose headers carry a write token is reported at its `system`.
 */
import type { WorkRole } from '../lifecycle/vocabulary.js';
import { compileExpr, type CelRef } from './cel.js';
import { isObj, list, str, type Obj } from './check-context.js';
import { compileTemplate } from './template.js';
import type { Finding, PathSegment } from './yaml-source.js';

/** Secret name -> the roles granted it. A secret not listed is granted to every role. */
export type SecretGrants = Readonly<Record<string, readonly WorkRole[]>>;

function refsOf(s: string): CelRef[] {
  if (s.includes('${')) {
    const t = compileTemplate(s, 'result');
    return 'errors' in t ? [] : t.refs;
  }
  const e = compileExpr(s, 'result');
  return 'error' in e ? [] : e.refs;
}

/** Every `secrets.NAME` read under `value`, with its path and offset. */
function secretReads(value: unknown, path: PathSegment[]): { name: string; path: PathSegment[]; offset: number }[] {
  const out: { name: string; path: PathSegment[]; offset: number }[] = [];
  const walk = (v: unknown, p: PathSegment[], depth: number): void => {
    if (depth > 64) return;
    if (typeof v === 'string') {
      if (!/\bsecrets\b/.test(v)) return;
      for (const r of refsOf(v)) if (r.root === 'secrets' && r.member !== undefined) out.push({ name: r.member, path: p, offset: r.offset });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i], depth + 1));
    else if (isObj(v)) for (const [k, x] of Object.entries(v)) walk(x, [...p, k], depth + 1);
  };
  walk(value, path, 0);
  return out;
}

const granted = (grants: SecretGrants, name: string, role: WorkRole): boolean => {
  const roles = grants[name];
  return roles === undefined || roles.includes(role);
};

function grantText(grants: SecretGrants, name: string, configFile: string): string {
  return `granted to ${grants[name]!.join(', ')} only (${configFile}: secrets.${name}.roles)`;
}

/** The problems of one runbook document against the config's grants. */
export function secretRoleFindings(doc: unknown, grants: SecretGrants, configFile: string): Finding[] {
  if (!isObj(doc) || Object.keys(grants).length === 0) return [];
  const findings: Finding[] = [];
  const systems = isObj(doc.systems) ? doc.systems : {};
  const seen = new Set<string>();
  const add = (f: Finding) => {
    const key = `${f.path.join('.')}\u0000${f.message}`;
    if (!seen.has(key)) findings.push(f), seen.add(key);
  };

  // One call site (a step, a check, a probe, an undo): its own expressions, and the system it calls.
  const call = (node: Obj, path: PathSegment[], role: WorkRole, what: string, skip: readonly string[] = []) => {
    for (const [k, v] of Object.entries(node)) {
      if (skip.includes(k)) continue;
      for (const r of secretReads(v, [...path, k])) {
        if (!granted(grants, r.name, role)) {
          add({ path: r.path, offset: r.offset, message: `secrets.${r.name} is ${grantText(grants, r.name, configFile)}; ${what} runs as ${role} and cannot read it` });
        }
      }
    }
    const system = isObj(node.with) ? str(node.with.system) : undefined;
    const sys = system !== undefined ? systems[system] : undefined;
    if (!isObj(sys)) return;
    for (const r of secretReads({ baseUrl: sys.baseUrl, headers: sys.headers }, ['systems', system!])) {
      if (granted(grants, r.name, role)) continue;
      add({
        path: [...path, 'with', 'system'],
        message: `${what} runs as ${role} and calls system \`${system}\`, whose ${r.path.slice(2).join('.')} reads secrets.${r.name}, ${grantText(grants, r.name, configFile)}; give ${role} its own system with a credential granted to it`,
      });
    }
  };

  list(isObj(doc.policy) ? doc.policy.guards : undefined).forEach((g, i) => {
    if (isObj(g)) call(g, ['policy', 'guards', i], 'execution', `guard \`${String(g.name)}\``);
  });
  list(doc.steps).forEach((s, i) => {
    if (!isObj(s)) return;
    const id = String(s.id);
    const role: WorkRole = s.action === 'decide' ? 'agent' : 'execution';
    call(s, ['steps', i], role, `step \`${id}\``, ['verify', 'probe', 'compensate']);
    list(s.verify).forEach((v, k) => {
      if (isObj(v)) call(v, ['steps', i, 'verify', k], 'verification', `verify check \`${String(v.id)}\` of step \`${id}\``);
    });
    if (isObj(s.probe)) call(s.probe, ['steps', i, 'probe'], 'verification', `the probe of step \`${id}\``);
    if (isObj(s.compensate)) call(s.compensate, ['steps', i, 'compensate'], 'execution', `the compensation of step \`${id}\``);
  });
  return findings;
}

/** The secrets a set of roles may hold: those granted to one of them, and those granted to all. */
export function secretsForRoles(names: readonly string[], grants: SecretGrants, roles: readonly WorkRole[]): string[] {
  return names.filter((n) => grants[n] === undefined || grants[n]!.some((r) => roles.includes(r)));
}
