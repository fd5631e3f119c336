/**
 * The runbook's input JSON Schema: compiled with ajv at load (a bad schema is a load problem,
 * not an intake surprise), then used at intake to check a task's input, every problem with its
 * JSON path (`input.environment`) and a message that says what is allowed.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Problem } from '../errors.js';
import type { InputSchemaNode } from './schema.js';
import { formatPath, type PathSegment } from './yaml-source.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

// One instance for the process: building one costs more than compiling a schema with it.
const ajv = new Ajv({
  allErrors: true,
  // Unknown keywords and formats are errors: a misspelt `format: emial` must not pass silently.
  strict: true,
  // ...but a property schema without `type` is ordinary in hand-written schemas.
  strictTypes: false,
  strictTuples: false,
  logger: false,
});
addFormats(ajv);
ajv.addKeyword({ keyword: 'sensitive', schemaType: 'boolean' });

/** The names `format` accepts (ajv-formats: email, uri, date-time, uuid, ...). */
export const KNOWN_FORMATS: readonly string[] = Object.keys(ajv.formats);

export type InputValidator = (input: unknown) => Problem[];

/** Compiles an input schema. Returns the validator, or why ajv refused the schema. */
export function compileInputSchema(schema: InputSchemaNode): { validate: InputValidator } | { error: string } {
  let fn: ValidateFunction;
  try {
    // A copy: ajv keeps a reference, and the caller freezes what it holds.
    fn = ajv.compile(structuredClone(schema) as object);
  } catch (err) {
    return { error: (err as Error).message };
  }
  const sensitive = sensitiveInputPaths(schema);
  const validate: InputValidator = (input) => {
    if (fn(input)) return [];
    return (fn.errors ?? []).map((e) => toProblem(e, input, sensitive));
  };
  return { validate };
}

/** Dotted paths of properties marked `sensitive: true` (`customer.email`); an array counts whole. */
export function sensitiveInputPaths(schema: InputSchemaNode, prefix = ''): string[] {
  const out: string[] = [];
  if (schema.sensitive && prefix) return [prefix];
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    const p = prefix ? `${prefix}.${name}` : name;
    out.push(...sensitiveInputPaths(sub, p));
  }
  if (schema.items && prefix && hasSensitive(schema.items)) out.push(prefix);
  return out;
}

function hasSensitive(schema: InputSchemaNode): boolean {
  return Boolean(schema.sensitive) || Object.values(schema.properties ?? {}).some(hasSensitive) || (schema.items ? hasSensitive(schema.items) : false);
}

function toProblem(e: ErrorObject, input: unknown, sensitive: string[]): Problem {
  const segments = pointerSegments(e.instancePath, input);
  const params = e.params as Record<string, unknown>;
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'required') {
    segments.push(String(params.missingProperty));
    message = 'is required';
  } else if (e.keyword === 'additionalProperties') {
    segments.push(String(params.additionalProperty));
    message = 'is not allowed: the input schema does not name it';
  }
  const dotted = segments.filter((s) => typeof s === 'string').join('.');
  // Never echo a sensitive value back into a rejection reason.
  const secret = sensitive.some((p) => dotted === p || dotted.startsWith(`${p}.`));
  const got = secret ? '' : `; got ${JSON.stringify(valueAtPath(input, segments)) ?? 'nothing'}`;
  switch (e.keyword) {
    case 'enum':
      message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}${got}`;
      break;
    case 'const':
      message = `must be ${JSON.stringify(params.allowedValue)}${got}`;
      break;
    case 'type':
      message = `must be ${String(params.type)}${got}`;
      break;
    case 'pattern':
      message = `must match the pattern ${String(params.pattern)}${got}`;
      break;
    case 'format':
      message = `must be a valid ${String(params.format)}${got}`;
      break;
    case 'required':
    case 'additionalProperties':
      break;
    default:
      message += got;
  }
  return { path: formatPath(['input', ...segments]), message };
}

/** JSON pointer segments; a segment is a number where the data there is an array. */
function pointerSegments(pointer: string, data: unknown): PathSegment[] {
  if (!pointer) return [];
  const out: PathSegment[] = [];
  let cur = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const key: PathSegment = Array.isArray(cur) && /^\d+$/.test(seg) ? Number(seg) : seg;
    out.push(key);
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[key] : undefined;
  }
  return out;
}

function valueAtPath(data: unknown, segments: PathSegment[]): unknown {
  let cur = data;
  for (const s of segments) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[s] : undefined;
  return cur;
}
