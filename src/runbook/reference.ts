/**
 * The runbook reference (docs/runbook-reference.md), generated from the zod schemas and their
 * `.describe()` texts, so the reference cannot say what the loader does not do. A new field, a
 * changed default or a new action reaches the page with `npm run docs:write`, and a test fails
 * until it has.
 */
import { BUILTIN_ACTIONS, FAILURE_CLASSES, type FailureClass } from '../lifecycle/vocabulary.js';
import { cell, code, generatedNotice, table } from '../docs/markdown.js';
import { descriptionOf, renderSection, unwrap, ZodTables, type Schema, type WalkOptions } from '../docs/zod-tables.js';
import { CaptureName, CelExpr, Duration, KebabId, TemplateString, WITH_SCHEMAS } from './action-schema.js';
import { DURATION_HINT, formatDuration } from './duration.js';
import { runbookJsonSchema } from './json-schema.js';
import { BUILTIN_RETRY } from './retry-defaults.js';
import { RunbookSchema } from './schema.js';

/** Field schemas shared across the format, by what a reader calls them. */
const KINDS = new Map<Schema, string>([
  [Duration, 'duration'],
  [CelExpr, 'CEL'],
  [TemplateString, 'template'],
  [KebabId, 'id'],
  [CaptureName, 'name'],
]);

/** What the value kinds mean, for the legend at the top of the reference. */
const KIND_LEGEND: Array<[string, string]> = [
  ['duration', `A duration string: ${DURATION_HINT}.`],
  ['CEL', 'A CEL expression (Common Expression Language), parsed and type-checked when the runbook loads. It sees `input`, `task`, `steps`, `env`, `secrets`, and `result` where the field says so.'],
  ['template', 'A string that may interpolate CEL with `${...}`; `$${` is a literal `${`.'],
  ['id', 'A kebab-case id: lower-case letters, digits and single dashes, starting with a letter.'],
  ['name', 'A name of letters, digits and `_`, starting with a letter; read in CEL as `steps.<id>.<name>`.'],
];

/** The built-in handling of a failure class, in words, from BUILTIN_RETRY. */
export function builtinRetryText(cls: FailureClass): string {
  const p = BUILTIN_RETRY[cls];
  if (!p) return 'Built-in default: not retried.';
  const wait = p.backoff === 'exponential' ? `exponential backoff from ${formatDuration(p.delayMs)} to ${formatDuration(p.maxDelayMs)}` : `${formatDuration(p.delayMs)} apart`;
  const refresh = p.refresh === true ? 'refreshing the earlier safe steps first' : Array.isArray(p.refresh) && p.refresh.length ? `refreshing ${p.refresh.join(', ')} first` : '';
  const extras = [p.jitter ? 'jitter' : '', refresh].filter(Boolean);
  return `Built-in default: ${p.attempts} attempts in all, ${wait}${extras.length ? `, ${extras.join(', ')}` : ''}.`;
}

const isFailureClass = (k: string): k is FailureClass => (FAILURE_CLASSES as readonly string[]).includes(k);

function walkOptions(anchorPrefix: string): WalkOptions {
  return {
    anchorPrefix,
    kinds: KINDS,
    closedMapPlaceholder: (keys) => (keys.every(isFailureClass) ? '<class>' : '<key>'),
    closedMapRow: (key) => (isFailureClass(key) ? builtinRetryText(key) : undefined),
  };
}

/** Actions whose `with` the JSON Schema requires (it says so in its per-action clauses). */
function actionsRequiringWith(): Set<string> {
  type Clause = { if?: { properties?: { action?: { const?: string } } }; then?: { required?: string[] } };
  const schema = runbookJsonSchema() as { definitions?: Record<string, { allOf?: Clause[] }> };
  const clauses = schema.definitions?.Step?.allOf ?? [];
  return new Set(clauses.filter((c) => c.then?.required?.includes('with')).map((c) => c.if?.properties?.action?.const ?? ''));
}

/** The sections of the runbook file itself (top level down), as the reference renders them. */
export function runbookSections() {
  const tables = new ZodTables({
    ...walkOptions(''),
    rootAnchor: 'runbook',
    // `with` depends on `action`: the Actions part of the page has its shapes.
    typeOverride: ({ name }) => (name === 'with' ? 'object, see [Actions](#actions)' : undefined),
  });
  return { sections: tables.walk(RunbookSchema, '', 'The runbook file'), fieldPaths: tables.fieldPaths };
}

/**
 * The whole of docs/runbook-reference.md: a legend of value kinds, one section per object of the
 * runbook schema (top level, policy, steps, checks, probes, ...) with a row per field, then the
 * `with` of each built-in action. Deterministic; ends with a newline.
 */
export function runbookReference(): string {
  const { sections } = runbookSections();
  const needsWith = actionsRequiringWith();
  const out: string[] = [
    '# Runbook reference',
    '',
    generatedNotice('the runbook schema (src/runbook/schema.ts, src/runbook/action-schema.ts)'),
    '',
    'Every field of a runbook file (format v1): its type, whether it is required, and what it means, default included. For when to use which field, read the [runbook guide](runbook-guide.md); for complete examples, the runbooks in [`runbooks/`](../runbooks/).',
    '',
    'Editors show the same descriptions as you type: the first line of a runbook, `# yaml-language-server: $schema=../schema/runbook.schema.json`, points them at the JSON Schema. `runwarden validate` checks everything below and more (cross-field rules, CEL types, `goto` targets), each problem as `file:line:col: message`.',
    '',
    '## Value kinds',
    '',
    table(['kind', 'what it is'], KIND_LEGEND),
    '## Contents',
    '',
    ...sections.map((s) => `- [${s.heading}](#${s.anchor})`),
    '- [Actions](#actions)',
    ...BUILTIN_ACTIONS.map((a) => `  - [${code(a)}](#action-${a})`),
    '',
    ...sections.map((s) => renderSection(s, '##')),
    '<a id="actions"></a>',
    '',
    '## Actions',
    '',
    "A step's `action` names what it does and `with` holds its parameters. The built-in actions are below. Any other name is a plugin action that the deployment registers; its `with` is checked against the schema the plugin brings.",
    '',
  ];
  for (const action of BUILTIN_ACTIONS) {
    const schema = WITH_SCHEMAS[action];
    out.push(`<a id="action-${action}"></a>`, '', `### ${code(action)}`, '', cell(descriptionOf(schema)), '');
    out.push(`\`with\` is ${needsWith.has(action) ? 'required' : 'optional'} for this action.`, '');
    const tables = new ZodTables(walkOptions(`action-${action}-`));
    const inner = unwrap(schema);
    if (inner._zod.def.type === 'object') {
      const [first, ...nested] = tables.walk(inner, 'with', code('with'));
      out.push(renderSection(first!, null), ...nested.map((s) => renderSection(s, '####')));
    } else {
      out.push(`\`with\` is a ${tables.typeText(schema, 'with')}.`, '');
    }
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
