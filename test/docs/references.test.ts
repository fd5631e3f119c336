/**
 * The generated references cover their schemas: every field of the runbook and of the packet has
 * a row with a description, and the hand-written packet notes neither name fields that are gone
 * nor hide a description the schema has since gained.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PacketSchema } from '../../src/escalation/packet-schema.js';
import { PACKET_FIELD_NOTES, packetSections } from '../../src/docs/packet-reference.js';
import { specificDescription, unwrap, type Schema } from '../../src/docs/zod-tables.js';
import { BUILTIN_ACTIONS, ESCALATION_REASONS, FAILURE_CLASSES } from '../../src/lifecycle/vocabulary.js';
import { WITH_SCHEMAS } from '../../src/runbook/action-schema.js';
import { builtinRetryText, runbookReference, runbookSections } from '../../src/runbook/reference.js';
import { RunbookSchema, StepSchema } from '../../src/runbook/schema.js';
import { BUILTIN_RETRY } from '../../src/runbook/retry-defaults.js';
import { chunks, readPage } from './doc-files.js';

const shapeKeys = (s: Schema): string[] => Object.keys((unwrap(s)._zod.def as unknown as { shape: Record<string, unknown> }).shape);

describe('runbook reference', () => {
  const { sections } = runbookSections();
  const section = (path: string) => sections.find((s) => s.path === path);
  const fields = (path: string) => section(path)?.rows.map((r) => r[0]!.replace(/`/g, ''));

  it('has a row for every top-level and step field, in schema order', () => {
    expect(fields('')).toEqual(shapeKeys(RunbookSchema));
    expect(fields('steps[]')).toEqual(shapeKeys(StepSchema));
  });

  it('describes every field of every section', () => {
    const bare = sections.flatMap((s) => s.rows.filter((r) => !r[3]).map((r) => `${s.path || '(top)'}.${r[0]}`));
    expect(bare).toEqual([]);
  });

  it("documents every built-in action's with, field by field", () => {
    const page = runbookReference();
    for (const action of BUILTIN_ACTIONS) {
      expect(page).toContain(`<a id="action-${action}"></a>`);
      const inner = unwrap(WITH_SCHEMAS[action]);
      if (inner._zod.def.type === 'object') for (const key of shapeKeys(inner)) expect(page).toMatch(new RegExp(`\\| \`${key}\` \\|`));
    }
  });

  it('states the built-in retry default of every failure class', () => {
    const rows = section('retry')!.rows;
    expect(rows.map((r) => r[0]!.replace(/`/g, ''))).toEqual([...FAILURE_CLASSES]);
    for (const r of rows) expect(r[3]).toBe(builtinRetryText(r[0]!.replace(/`/g, '') as (typeof FAILURE_CLASSES)[number]));
    expect(builtinRetryText('transient')).toBe(`Built-in default: ${BUILTIN_RETRY.transient!.attempts} attempts in all, exponential backoff from 1s to 30s, jitter.`);
    expect(builtinRetryText('business')).toBe('Built-in default: not retried.');
  });

  it('marks a field required only when the schema requires it, or its description says so', () => {
    const step = section('steps[]')!.rows;
    const req = (name: string) => step.find((r) => r[0] === `\`${name}\``)![2];
    expect([req('id'), req('action'), req('title'), req('repeat')]).toEqual(['yes', 'yes', 'no', 'conditional']);
    expect(section('steps[].probe')!.rows.find((r) => r[0] === '`present`')![2]).toBe('yes');
  });
});

describe('packet reference', () => {
  const { sections, fieldPaths } = packetSections();

  it('has a section with a row for every packet field', () => {
    expect(sections[0]!.rows.map((r) => r[0]!.replace(/`/g, ''))).toEqual(shapeKeys(PacketSchema));
    expect(fieldPaths).toEqual(expect.arrayContaining(['reason.kind', 'recommendation.commands', 'evidence[]{kind=probe}.verdict']));
  });

  it('describes every field, from the schema or a note', () => {
    const bare = sections.flatMap((s) => s.rows.filter((r) => !r[3]).map((r) => `${s.path || '(top)'}.${r[0]}`));
    expect(bare).toEqual([]);
  });

  it('keeps notes only for fields that exist and that the schema does not describe', () => {
    const byPath = new Map<string, Schema>();
    const walk = (s: Schema, path: string): void => {
      const inner = unwrap(s);
      const def = inner._zod.def as unknown as { type: string; shape?: Record<string, Schema>; element?: Schema; options?: Schema[]; discriminator?: string };
      if (def.type === 'object') {
        for (const [k, f] of Object.entries(def.shape!)) {
          const p = path ? `${path}.${k}` : k;
          byPath.set(p, f);
          walk(f, p);
        }
      } else if (def.type === 'array') walk(def.element!, `${path}[]`);
      else if (def.type === 'union' && def.discriminator) {
        for (const o of def.options!) {
          const tag = (unwrap((unwrap(o)._zod.def as unknown as { shape: Record<string, Schema> }).shape[def.discriminator]!)._zod.def as unknown as { values: unknown[] }).values[0];
          walk(o, `${path}{${def.discriminator}=${String(tag)}}`);
        }
      }
    };
    walk(PacketSchema as Schema, '');
    const stale = Object.keys(PACKET_FIELD_NOTES).filter((p) => !byPath.has(p));
    const shadowing = Object.keys(PACKET_FIELD_NOTES).filter((p) => byPath.has(p) && specificDescription(byPath.get(p)!) !== '');
    expect({ stale, shadowing }).toEqual({ stale: [], shadowing: [] });
    expect(z.globalRegistry.get(PacketSchema)?.description).toBeTruthy();
  });
});

describe('hand-written tables of closed vocabularies', () => {
  const firstColumn = (page: string, heading: string) =>
    chunks(readPage(page))
      .filter((c) => c.kind === 'row' && c.headings.at(-1) === heading && !/^\|\s*(---|`?[a-z.]+`? \|\s*what)/.test(c.text))
      .map((c) => /^\|\s*`([^`]+)`/.exec(c.text)?.[1])
      .filter((v): v is string => v !== undefined);

  it('the packet reference explains every escalation reason, once', () => {
    expect(firstColumn('docs/packet-reference.md', 'Reasons')).toEqual([...ESCALATION_REASONS]);
  });

  it('the runbook guide explains every failure class, once', () => {
    expect(firstColumn('docs/runbook-guide.md', 'Failures and retries')).toEqual([...FAILURE_CLASSES]);
  });
});
