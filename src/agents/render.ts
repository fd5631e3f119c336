/** Renders `${...}` templates and template trees against a task's CEL context. */
import type { ExprContext, Template, TemplateTree } from '../runbook/plan.js';

function isTemplate(t: unknown): t is Template {
  return typeof t === 'object' && t !== null && typeof (t as Template).render === 'function';
}

export function renderTree(tree: TemplateTree | undefined, ctx: ExprContext): unknown {
  if (tree === undefined) return undefined;
  if (isTemplate(tree)) return tree.render(ctx);
  if (Array.isArray(tree)) return tree.map((t) => renderTree(t, ctx));
  if (tree !== null && typeof tree === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(tree)) out[k] = renderTree(v, ctx);
    return out;
  }
  return tree;
}

/** Renders a template to a string (objects as JSON). */
export function renderString(t: Template, ctx: ExprContext): string {
  const v = t.render(ctx);
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function renderRecord(rec: Record<string, Template>, ctx: ExprContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(rec)) out[k] = renderString(t, ctx);
  return out;
}
