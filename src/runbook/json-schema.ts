/**
 * The runbook JSON Schema (draft-07), generated from the zod schema so the two cannot disagree.
 * Editors use it through `# yaml-language-server: $schema=../schema/runbook.schema.json`; the
 * committed copy is `schema/runbook.schema.json`, and a test fails when it is stale. Regenerate
 * with `npm run build && node bin/runwarden schema runbook > schema/runbook.schema.json`.
 *
 * zod cannot say "the shape of `with` depends on `action`" for an open set of actions (any name
 * not built in is a plugin), so the per-action `with` shapes are added here as draft-07
 * `if`/`then` clauses on every definition that has both `action` and `with`.
 */
import { z } from 'zod';
import { BUILTIN_ACTIONS } from '../lifecycle/vocabulary.js';
import { WITH_SCHEMAS } from './action-schema.js';
import { RunbookSchema } from './schema.js';

type JsonObject = Record<string, unknown>;

function draft7(schema: z.ZodType): JsonObject {
  const out = z.toJSONSchema(schema, { target: 'draft-07', unrepresentable: 'any' }) as JsonObject;
  delete out.$schema;
  return out;
}

/**
 * The schema's `$id`: a stable name, not a place to fetch it from. Editors are given a path or
 * URL (docs/runbook-guide.md, "Editor support").
 */
export const RUNBOOK_SCHEMA_ID = 'urn:runwarden:schema:runbook:v1';

/** The runbook JSON Schema, draft-07. Deterministic: the same source gives the same document. */
export function runbookJsonSchema(): JsonObject {
  const root = z.toJSONSchema(RunbookSchema, { target: 'draft-07', unrepresentable: 'any' }) as JsonObject;
  const definitions = (root.definitions ?? {}) as Record<string, JsonObject>;
  for (const action of BUILTIN_ACTIONS) definitions[`With_${action}`] = draft7(WITH_SCHEMAS[action]);
  const clauses = BUILTIN_ACTIONS.map((action) => ({
    if: { properties: { action: { const: action } }, required: ['action'] },
    then: { properties: { with: { $ref: `#/definitions/With_${action}` } }, ...(action === 'http' || action === 'exec' || action === 'decide' ? { required: ['with'] } : {}) },
  }));
  addClauses(root, clauses);
  for (const d of Object.values(definitions)) addClauses(d, clauses);
  return { $schema: 'http://json-schema.org/draft-07/schema#', $id: RUNBOOK_SCHEMA_ID, title: 'runwarden runbook (format v1)', ...root, definitions };
}

/** Adds the clauses to every object schema (at any depth) that has `action` and `with` properties. */
function addClauses(node: unknown, clauses: JsonObject[]): void {
  if (Array.isArray(node)) {
    for (const n of node) addClauses(n, clauses);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const obj = node as JsonObject;
  const props = obj.properties as JsonObject | undefined;
  if (props && 'action' in props && 'with' in props && !obj.allOf) obj.allOf = clauses;
  for (const [k, v] of Object.entries(obj)) if (k !== 'allOf' && k !== 'definitions') addClauses(v, clauses);
}
