/**
 * Small moves every part of the decision shares: letting go of the task, captures, text.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import type { ExprContext, Template } from '../runbook/plan.js';
import { Draft } from './draft.js';
import type { Decision } from './types.js';

export function release(d: Draft): Decision {
  const commit = d.commit();
  return commit ? { commit, next: { type: 'release' } } : { next: { type: 'release' } };
}

export function evaluateCaptures(
  capture: Record<string, { evaluate(ctx: ExprContext): unknown; source: string }>,
  ctx: ExprContext,
): { values: Record<string, unknown> } | { error: string } {
  const values: Record<string, unknown> = {};
  for (const [name, expr] of Object.entries(capture)) {
    try {
      values[name] = expr.evaluate(ctx);
    } catch (err) {
      return { error: `capture ${name} ("${expr.source}") could not be evaluated: ${(err as Error).message}` };
    }
  }
  return { values };
}

export function renderText(t: Template, ctx: ExprContext): string {
  const v = t.render(ctx);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
}
