/**
 * Whatever text it is given, the loader answers: a compiled runbook, or at least one located
 * problem. Never an exception, never an "internal error", never a silent nothing.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { compileRunbookText } from './load.js';

const EXAMPLES = ['service-restart.yaml', 'entitlement-fix.yaml', 'order-onboarding.yaml'].map((f) =>
  readFileSync(new URL(`../../runbooks/${f}`, import.meta.url), 'utf8'),
);

function assertAnswers(text: string): void {
  const r = compileRunbookText(text, 'fuzz.yaml');
  if (r.runbook) {
    expect(r.problems).toEqual([]);
    return;
  }
  expect(r.problems.length).toBeGreaterThan(0);
  for (const p of r.problems) {
    expect(p.file).toBe('fuzz.yaml');
    expect(p.line).toBeGreaterThanOrEqual(1);
    expect(p.col).toBeGreaterThanOrEqual(1);
    expect(p.message).not.toMatch(/^internal error/);
  }
}

// Keys the loader knows, so mutations land on fields that matter as well as on nonsense.
const KEYS = ['id', 'action', 'with', 'repeat', 'when', 'goto', 'next', 'probe', 'present', 'system', 'method', 'path', 'steps', 'retry', 'refresh', 'input', 'properties', 'type', 'cron', 'onFailure', '${', 'x'];
const leaf = fc.oneof(
  fc.string(),
  fc.constantFrom('http', 'exec', 'POST', 'safe', 'once', 'end', 'goto:a', '10s', '1h30m', '${input.x}', '${', "result.status == 1", 'steps.a.b', 'object', '* * * * *', '[', '&a', '*a'),
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.constant(null),
);
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), fc.string()), tie('value'), { maxKeys: 5 })),
})).value;

type Mutation = { path: number[]; op: 'delete' | 'replace' | 'rename'; value: unknown; key: string };

/** Applies one mutation to a document, walking children by index so any node can be hit. */
function mutate(doc: unknown, m: Mutation): unknown {
  const walk = (node: unknown, depth: number): unknown => {
    if (node === null || typeof node !== 'object') return depth === m.path.length ? m.value : node;
    const entries: Array<[string, unknown]> = Array.isArray(node) ? node.map((v, i) => [String(i), v]) : Object.entries(node);
    if (entries.length === 0 || depth >= m.path.length) return m.op === 'replace' ? m.value : node;
    const i = m.path[depth]! % entries.length;
    const out = entries.map(([k, v], j) => [k, j === i ? walk(v, depth + 1) : v] as [string, unknown]);
    if (depth === m.path.length - 1) {
      if (m.op === 'delete') out.splice(i, 1);
      if (m.op === 'rename' && !Array.isArray(node)) out[i] = [m.key, out[i]![1]];
    }
    return Array.isArray(node) ? out.map(([, v]) => v) : Object.fromEntries(out);
  };
  return walk(doc, 0);
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  path: fc.array(fc.nat(50), { minLength: 1, maxLength: 6 }),
  op: fc.constantFrom('delete', 'replace', 'rename'),
  value: jsonish,
  key: fc.oneof(fc.constantFrom(...KEYS), fc.string()),
});

describe('the loader never crashes', () => {
  it('on random JSON-ish documents serialized to YAML', () => {
    fc.assert(fc.property(jsonish, (value) => assertAnswers(stringify(value))), { numRuns: 300 });
  });

  it('on random mutations of the example runbooks', () => {
    const docs = EXAMPLES.map((t) => parse(t) as unknown);
    fc.assert(
      fc.property(fc.nat(docs.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), (which, ms) => {
        const doc = ms.reduce((d, m) => mutate(d, m), docs[which]);
        assertAnswers(stringify(doc));
      }),
      { numRuns: 300 },
    );
  });

  it('on random edits of the example texts, and on random strings', () => {
    fc.assert(
      fc.property(fc.nat(EXAMPLES.length - 1), fc.nat(), fc.nat(8), fc.string({ maxLength: 8 }), (which, at, cut, insert) => {
        const text = EXAMPLES[which]!;
        const i = at % (text.length + 1);
        assertAnswers(text.slice(0, i) + insert + text.slice(i + cut));
      }),
      { numRuns: 300 },
    );
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), assertAnswers), { numRuns: 300 });
  });
});
