import { describe, expect, it } from 'vitest';
import { isRunwardenError } from '../errors.js';
import { compileExpr, fromCel, toCel, type CelScope } from './cel.js';
import { compileTemplate, splitTemplate } from './template.js';
import type { Expr, ExprContext, Template } from './plan.js';

const ctx: ExprContext = {
  input: { service: 'billing-api', amount: 1500, price: 10.5, tags: ['a', 'b'], nested: { n: 2 } },
  task: { id: 'tsk_1', externalRef: null, taskClass: 'service.restart', attempt: 2, requestedBy: null },
  steps: { 'check-health': { status: 'succeeded', health: 'degraded' } },
  env: { STAGE: 'prod' },
  secrets: { TOKEN: 's3cret' },
  result: { status: 503, body: { items: [{ id: 'ch_1' }] } },
};

function expr(source: string, scope: CelScope = 'task'): Expr {
  const c = compileExpr(source, scope);
  if ('error' in c) throw new Error(c.error.message);
  return c.expr;
}

function template(source: string): Template {
  const c = compileTemplate(source);
  if ('errors' in c) throw new Error(c.errors.map((e) => e.message).join('; '));
  return c.template;
}

function errorOf(source: string, scope: CelScope = 'task') {
  const c = compileExpr(source, scope);
  return 'error' in c ? c.error : undefined;
}

describe('CEL checked at load', () => {
  it('reports a parse error with its offset', () => {
    expect(errorOf("input.service == 'x' &&")).toEqual({ message: 'Unexpected token: EOF', offset: 23 });
  });

  it('reports a type error', () => {
    const e = errorOf("env.STAGE + 1");
    expect(e?.message).toBe('no such overload: string + int');
    expect(e?.offset).toBe(0);
  });

  it('reports an unknown variable', () => {
    expect(errorOf('foo.bar == 1')).toEqual({ message: 'Unknown variable: foo', offset: 0 });
  });

  it('knows the fields of task', () => {
    expect(errorOf('task.attempt > 1')).toBeUndefined();
    expect(errorOf('task.atempt > 1')?.message).toContain('atempt');
  });

  it('allows result only where the action result exists, and says where that is', () => {
    expect(errorOf('result.status == 409', 'result')).toBeUndefined();
    const e = errorOf('result.status == 409', 'task');
    expect(e?.message).toContain('Unknown variable: result');
    expect(e?.message).toContain('only visible in classify, capture, verify `expect` and probe');
  });

  it('accepts mixed literals (homogeneousAggregateLiterals off)', () => {
    expect(expr("{'a': 1, 'b': 'x'}").evaluate(ctx)).toEqual({ a: 1, b: 'x' });
    expect(expr("[1, 'a', true]").evaluate(ctx)).toEqual([1, 'a', true]);
  });

  it('reports the members it reads', () => {
    const c = compileExpr("steps['check-health'].health == 'x' && input.service != '' && steps.restart.id == ''", 'task');
    expect('refs' in c && c.refs).toEqual([
      { root: 'steps', member: 'check-health', offset: 0 },
      { root: 'input', member: 'service', offset: 39 },
      { root: 'steps', member: 'restart', offset: 62 },
    ]);
  });
});

describe('CEL values in and out', () => {
  it('passes integers in as CEL ints so int arithmetic works', () => {
    expect(expr('result.status + 1', 'result').evaluate(ctx)).toBe(504);
    expect(expr('input.amount > 1000').test(ctx)).toBe(true);
    expect(expr('input.nested.n * 2').evaluate(ctx)).toBe(4);
    expect(expr('task.attempt + 1').evaluate(ctx)).toBe(3);
  });

  it('keeps non-integers as doubles', () => {
    expect(expr('input.price + 0.5').evaluate(ctx)).toBe(11);
    expect(expr('input.price > 10').test(ctx)).toBe(true);
  });

  it('converts ints back to numbers, and to strings beyond 2^53', () => {
    expect(fromCel(5n)).toBe(5);
    expect(fromCel(2n ** 60n)).toBe('1152921504606846976');
    expect(fromCel({ a: [1n, { b: 2n }] })).toEqual({ a: [1, { b: 2 }] });
    expect(toCel({ a: [1, 1.5, 'x'], u: undefined })).toEqual({ a: [1n, 1.5, 'x'] });
  });

  it('test() insists on a bool', () => {
    expect(() => expr('input.service').test(ctx)).toThrow(/must give a bool, gave string "billing-api"/);
  });

  it('wraps evaluation failures in EXPRESSION_FAILED', () => {
    let err: unknown;
    try {
      expr('input.missing == 1').evaluate(ctx);
    } catch (e) {
      err = e;
    }
    expect(isRunwardenError(err) && err.code).toBe('EXPRESSION_FAILED');
    expect((err as Error).message).toContain('input.missing == 1');
  });
});

describe('${} templates', () => {
  it('renders a lone ${} with its type kept', () => {
    expect(template('${input.amount}').render(ctx)).toBe(1500);
    expect(template('${input.tags}').render(ctx)).toEqual(['a', 'b']);
    expect(template('${input.price > 10}').render(ctx)).toBe(true);
  });

  it('concatenates anything else as a string, objects as JSON', () => {
    expect(template('/services/${input.service}/health').render(ctx)).toBe('/services/billing-api/health');
    expect(template(' ${input.amount}').render(ctx)).toBe(' 1500');
    expect(template('tags=${input.tags} n=${input.nested}').render(ctx)).toBe('tags=["a","b"] n={"n":2}');
    expect(template('plain text').render(ctx)).toBe('plain text');
    expect(template('').render(ctx)).toBe('');
  });

  it('finds the closing brace past braces inside string literals and maps', () => {
    expect(template("${ {'k': '}'}['k'] }").render(ctx)).toBe('}');
    expect(template('a${"{"}b').render(ctx)).toBe('a{b');
    expect(template("${'it\\'s }'}!").render(ctx)).toBe("it's }!");
    expect(splitTemplate("x${ {'a': {'b': 1}}['a'] }y")).toEqual({
      parts: [{ text: 'x' }, { expr: " {'a': {'b': 1}}['a'] ", offset: 3 }, { text: 'y' }],
    });
  });

  it('reads $${ as a literal ${', () => {
    expect(template('cost: $${input.amount}').render(ctx)).toBe('cost: ${input.amount}');
  });

  it('says when it reads secrets', () => {
    expect(template('Bearer ${secrets.TOKEN}').usesSecrets).toBe(true);
    expect(template('Bearer ${secrets.TOKEN}').render(ctx)).toBe('Bearer s3cret');
    expect(template('/x/${input.service}').usesSecrets).toBe(false);
  });

  it('reports every bad expression with its offset in the template', () => {
    const c = compileTemplate('/a/${input.x +}/b/${nope}');
    expect('errors' in c && c.errors).toEqual([
      { message: 'Unexpected token: EOF', offset: 14 },
      { message: 'Unknown variable: nope', offset: 20 },
    ]);
  });

  it('reports an unclosed or empty ${}', () => {
    expect(compileTemplate('/a/${input.x')).toEqual({ errors: [{ message: 'unclosed `${`: expected a matching `}`', offset: 3 }] });
    expect(compileTemplate("/a/${'}")).toEqual({ errors: [{ message: 'unclosed `${`: expected a matching `}`', offset: 3 }] });
    expect(compileTemplate('x ${ }')).toEqual({ errors: [{ message: 'empty `${}`: expected a CEL expression inside', offset: 2 }] });
  });

  it('type-checks in templates too, without result', () => {
    const c = compileTemplate('${result.status}');
    expect('errors' in c && c.errors[0]?.message).toContain('Unknown variable: result');
  });
});
