import { readdirSync, readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runbookJsonSchema } from './json-schema.js';

const root = new URL('../../', import.meta.url);
const committed = readFileSync(new URL('schema/runbook.schema.json', root), 'utf8');

describe('runbook JSON Schema', () => {
  it('is committed up to date (regenerate: npm run build && node bin/runwarden schema runbook > schema/runbook.schema.json)', () => {
    expect(committed).toBe(`${JSON.stringify(runbookJsonSchema(), null, 2)}\n`);
  });

  const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(committed) as object);

  it('is draft-07 and describes every field, at every depth (the reference docs are made from it)', () => {
    type Node = { [k: string]: unknown; description?: string; $ref?: string; allOf?: Array<{ $ref?: string }>; properties?: Record<string, Node> };
    const schema = JSON.parse(committed) as Node & { $schema: string; definitions: Record<string, Node> };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const described = (n: Node): boolean => {
      const ref = n.$ref ?? n.allOf?.[0]?.$ref;
      return Boolean(n.description ?? (ref && schema.definitions[ref.split('/').pop()!]?.description));
    };
    const missing: string[] = [];
    const walk = (n: unknown, path: string): void => {
      if (!n || typeof n !== 'object') return;
      const node = n as Node;
      for (const [k, v] of Object.entries(node.properties ?? {})) {
        if (!described(v)) missing.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
      }
      // `if` clauses only select the per-action `with` shape; they describe no field.
      for (const [k, v] of Object.entries(node)) if (k !== 'properties' && k !== 'if') walk(v, `${path}/${k}`);
    };
    walk(schema, '#');
    expect(missing).toEqual([]);
    expect(Object.keys(schema.definitions)).toEqual(expect.arrayContaining(['Step', 'InputSchema', 'RetryPolicy', 'With_http', 'With_exec', 'With_wait', 'With_approve', 'With_decide', 'With_set']));
  });

  it('accepts the example runbooks, each pointing editors at it', () => {
    const dir = new URL('runbooks/', root);
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) {
      const text = readFileSync(new URL(f, dir), 'utf8');
      expect(text.startsWith('# yaml-language-server: $schema=../schema/runbook.schema.json\n')).toBe(true);
      expect({ file: f, ok: validate(parse(text)), errors: validate.errors ?? null }).toEqual({ file: f, ok: true, errors: null });
    }
  });

  it("checks each built-in action's `with`, and leaves plugins free-form", () => {
    const doc = (step: Record<string, unknown>) => ({ runbook: 'x', version: 1, title: 't', owner: 'o', taskClasses: ['x.y'], steps: [{ id: 'a', ...step }] });
    expect(validate(doc({ action: 'http', with: { system: 'api', methd: 'GET' } }))).toBe(false);
    expect(validate(doc({ action: 'http' }))).toBe(false);
    expect(validate(doc({ action: 'http', with: { system: 'api', method: 'GET' } }))).toBe(true);
    expect(validate(doc({ action: 'exec', with: { program: 'x', args: 'not a list' } }))).toBe(false);
    expect(validate(doc({ action: 'my-plugin', with: { anything: [1, 2] } }))).toBe(true);
    expect(validate(doc({ action: 'http', with: { system: 'api' }, verify: [{ id: 'v', action: 'http', with: { bogus: 1 }, expect: 'true' }] }))).toBe(false);
  });
});
