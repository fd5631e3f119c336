/**
 * Expressions over a result: captures, rendered text, a result as a record.
 * Part of the decision function (decide.ts): pure, no I/O.
 */
import type { ExprContext, Template } from '../runbook/plan.js';

/** The values of a step's `capture` over `ctx`, or the first that could not be evaluated. */
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
