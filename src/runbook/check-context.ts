/**
 * What the runbook checks share: the document's step ids, systems and declared inputs, and the
 * checks every part of a runbook needs (CEL, `${}` templates, the steps they reference, goto
 * targets, retry policies). See checks.ts for why the checks read the raw YAML value.
 */
import { actionChanges, type PluginRegistry } from './action-schema.js';
import { compileExpr, type CelRef, type CelScope } from './cel.js';
import { compileTemplate } from './template.js';
import { tryParseDuration } from './duration.js';
import { didYouMean } from './suggest.js';
import type { Finding, PathSegment } from './yaml-source.js';

export interface CheckOptions {
  /** Plugin actions of the deployment; without it, `with` of plugin actions is not checked. */
  plugins?: PluginRegistry;
}

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Where an expression sits: which step (for `steps.<id>` references) and whether it may read its own step. */
export interface RefScope {
  step?: number;
  self?: boolean;
}

/** One runbook document under check, and the findings so far. */
export class CheckContext {
  readonly findings: Finding[] = [];
  readonly steps: unknown[];
  /** Step id -> index of its first occurrence. */
  readonly stepIndex = new Map<string, number>();
  readonly systems: string[];
  readonly allowExec: string[];
  /** Input property names, when the schema names them and allows no others. */
  readonly inputProps: string[] | undefined;

  constructor(
    readonly doc: Obj,
    readonly opts: CheckOptions,
  ) {
    this.steps = list(doc.steps);
    this.systems = isObj(doc.systems) ? Object.keys(doc.systems) : [];
    this.allowExec = list(isObj(doc.policy) ? doc.policy.allowExec : undefined).filter((p): p is string => typeof p === 'string');
    const input = doc.input;
    const open = isObj(input) && (input.additionalProperties === true || isObj(input.additionalProperties));
    this.inputProps = isObj(input) && isObj(input.properties) && !open ? Object.keys(input.properties) : undefined;
    this.steps.forEach((s, i) => {
      const id = isObj(s) ? str(s.id) : undefined;
      if (id === undefined) return;
      const first = this.stepIndex.get(id);
      if (first !== undefined) this.add(['steps', i, 'id'], `duplicate step id \`${id}\`: steps[${first}] has it already; step ids must be unique`);
      else this.stepIndex.set(id, i);
    });
  }

  add(path: PathSegment[], message: string, extra: Partial<Finding> = {}): void {
    this.findings.push({ path, message, ...extra });
  }

  stepRepeat(i: number): string | undefined {
    const s = this.steps[i];
    if (!isObj(s)) return undefined;
    if (typeof s.repeat === 'string') return s.repeat;
    return typeof s.action === 'string' && !actionChanges(s.action, s.with, this.opts.plugins) ? 'safe' : undefined;
  }

  goto(target: unknown, path: PathSegment[], from: number, offset?: number): void {
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

  checkRetry(retry: Obj, path: PathSegment[], stepIdx: number | undefined): void {
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
  cel(value: unknown, path: PathSegment[], scope: CelScope, refScope: RefScope): void {
    if (typeof value !== 'string' || value === '') return;
    const compiled = compileExpr(value, scope);
    if ('error' in compiled) {
      this.add(path, `CEL: ${compiled.error.message}`, { offset: compiled.error.offset });
      return;
    }
    this.refs(compiled.refs, path, refScope);
  }

  template(value: unknown, path: PathSegment[], refScope: RefScope): void {
    if (typeof value !== 'string') return;
    const compiled = compileTemplate(value, 'task');
    if ('errors' in compiled) {
      for (const e of compiled.errors) this.add(path, `CEL in \`\${}\`: ${e.message}`, { offset: e.offset });
      return;
    }
    this.refs(compiled.refs, path, refScope);
  }

  templateTree(value: unknown, path: PathSegment[], refScope: RefScope): void {
    if (typeof value === 'string') this.template(value, path, refScope);
    else if (Array.isArray(value)) value.forEach((v, k) => this.templateTree(v, [...path, k], refScope));
    else if (isObj(value)) for (const [k, v] of Object.entries(value)) this.templateTree(v, [...path, k], refScope);
  }

  /** `steps.<id>` must name a step that has run by then; `input.<name>` a declared input. */
  refs(refs: CelRef[], path: PathSegment[], scope: RefScope): void {
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
