/**
 * Field tables from zod 4 schemas, for the generated references (runbook, packet). Objects become
 * sections, every field a row with its type in words, whether it is required, and its
 * `.describe()` text, so a reference cannot list a field the schema lacks or miss one it has.
 *
 * The walk reads zod 4's schema definitions (`_zod.def`). Shared field schemas (durations, CEL,
 * ids, ...) are named by identity, following the clones `.describe()` makes (`_zod.parent`).
 */
import { z } from 'zod';
import { cell, code, table } from './markdown.js';

export type Schema = z.core.$ZodType;

/** The parts of zod 4 definitions the walk reads. */
interface Def {
  type: string;
  innerType?: Schema;
  element?: Schema;
  shape?: Record<string, Schema>;
  keyType?: Schema;
  valueType?: Schema;
  options?: Schema[];
  discriminator?: string;
  format?: string;
  entries?: Record<string, string | number>;
  values?: unknown[];
  checks?: Array<{ _zod: { def: { check: string; value?: number; inclusive?: boolean; minimum?: number; maximum?: number; format?: string } } }>;
}

const defOf = (s: Schema): Def => s._zod.def as unknown as Def;

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly']);

/** What a lazy schema stands for. zod caches it per instance; `def.getter()` would build a new one each call. */
function lazyInner(s: Schema): Schema {
  return (s._zod as unknown as { innerType: Schema }).innerType;
}

/** The schema under optional/default/nullable/lazy wrappers. */
export function unwrap(s: Schema): Schema {
  let cur = s;
  for (;;) {
    const d = defOf(cur);
    if (WRAPPERS.has(d.type) && d.innerType) cur = d.innerType;
    else if (d.type === 'lazy') cur = lazyInner(cur);
    else return cur;
  }
}

function hasWrapper(s: Schema, types: string[]): boolean {
  let cur: Schema | undefined = s;
  while (cur) {
    const d = defOf(cur);
    if (types.includes(d.type)) return true;
    cur = WRAPPERS.has(d.type) ? d.innerType : undefined;
  }
  return false;
}

/** The description of a schema: its own, else that of what it wraps. */
export function descriptionOf(s: Schema): string {
  let cur: Schema | undefined = s;
  while (cur) {
    const own = z.globalRegistry.get(cur)?.description;
    if (own) return own;
    const d = defOf(cur);
    cur = WRAPPERS.has(d.type) ? d.innerType : d.type === 'lazy' ? lazyInner(cur) : undefined;
  }
  return '';
}

function checksOf(d: Def) {
  return (d.checks ?? []).map((c) => c._zod.def);
}

function numberText(d: Def): string {
  const checks = checksOf(d);
  const int = checks.some((c) => c.check === 'number_format' && (c.format === 'safeint' || c.format === 'int32'));
  const lo = checks.find((c) => c.check === 'greater_than');
  const hi = checks.find((c) => c.check === 'less_than');
  const base = int ? 'integer' : 'number';
  if (lo && hi && lo.inclusive && hi.inclusive) return `${base}, ${lo.value} to ${hi.value}`;
  const parts = [base];
  if (lo) parts.push(`${lo.inclusive ? '≥' : '>'} ${lo.value}`);
  if (hi) parts.push(`${hi.inclusive ? '≤' : '<'} ${hi.value}`);
  return parts.join(' ');
}

/** String formats zod knows, in words. */
const STRING_FORMATS: Record<string, string> = { datetime: 'time (ISO 8601)', email: 'email address', url: 'URL', uuid: 'UUID' };

function stringText(d: Def): string {
  // A format schema (`z.iso.datetime()`) carries its format on the def; `z.string().email()` in a check.
  const format = (d.format && d.format !== 'regex' ? d.format : undefined) ?? checksOf(d).find((c) => c.check === 'string_format' && c.format !== 'regex')?.format;
  return format ? STRING_FORMATS[format] ?? `string (${format})` : 'string';
}

/** True for a string schema with a well-known format: its description only names the format. */
function isFormattedString(s: Schema): boolean {
  const d = defOf(unwrap(s));
  return d.type === 'string' && stringText(d) !== 'string';
}

function anchorOf(text: string): string {
  return text.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase();
}

/** One generated section: an object schema at a path. */
export interface Section {
  path: string;
  anchor: string;
  heading: string;
  intro: string;
  rows: string[][];
}

/** How a reference adapts the walk. */
export interface WalkOptions {
  /** Keeps anchors apart when several walks share a page. Default none. */
  anchorPrefix?: string;
  /** Anchor of the root section. Default: from the root path. */
  rootAnchor?: string;
  /** Shared field schemas by what a reader calls them. */
  kinds?: ReadonlyMap<Schema, string>;
  /** A field's type text instead of the derived one (e.g. a link elsewhere). */
  typeOverride?: (field: { name: string; path: string }) => string | undefined;
  /**
   * A field's description when the schema gives none of its own (a format-only description,
   * like "an ISO 8601 time", counts as none). Keyed by the field's path.
   */
  fallbackDescription?: (path: string) => string | undefined;
  /** Descriptions of the fields of a map over a closed key set (`retry.<class>`). */
  closedMapRow?: (key: string) => string | undefined;
  /** Start descriptions with a capital and end them with a full stop. Default false. */
  sentences?: boolean;
  /** Placeholder of a closed map's key in paths. Default `<key>`. */
  closedMapPlaceholder?: (keys: string[]) => string;
}

/** A field's description from the schema, not counting format-only ones (`an ISO 8601 time`). */
export function specificDescription(field: Schema): string {
  const text = descriptionOf(field);
  if (text && isFormattedString(field) && text === descriptionOf(unwrap(field))) return '';
  return text;
}

/**
 * Walks object schemas into sections. Each object schema gets one section, at the path it is
 * first met on, right after the section that introduced it; later meetings (and recursion, as
 * in the runbook's `input`) link to it.
 */
export class ZodTables {
  readonly sections: Section[] = [];
  /** Every field path met, for checks on hand-written notes keyed by path. */
  readonly fieldPaths: string[] = [];
  private readonly planned = new Map<Schema, { path: string; anchor: string }>();
  private found: Array<{ schema: Schema; path: string; heading: string }> | null = null;

  constructor(private readonly opts: WalkOptions = {}) {}

  /** Walks `root` (an object schema) and every object schema under it. */
  walk(root: Schema, path: string, heading: string): Section[] {
    const obj = unwrap(root);
    this.plan(obj, path, this.opts.rootAnchor);
    this.build(obj, path, heading);
    return this.sections;
  }

  private plan(obj: Schema, path: string, anchor?: string): { path: string; anchor: string } {
    const known = this.planned.get(obj);
    if (known) return known;
    const p = { path, anchor: anchor ?? anchorOf(`${this.opts.anchorPrefix ?? ''}${path}`) };
    this.planned.set(obj, p);
    return p;
  }

  /** One section, then the sections of the objects its fields introduced, in field order. */
  private build(obj: Schema, path: string, heading: string): void {
    const sec: Section = { path, anchor: this.planned.get(obj)!.anchor, heading, intro: this.text(descriptionOf(obj)), rows: [] };
    this.sections.push(sec);
    const found: Array<{ schema: Schema; path: string; heading: string }> = [];
    this.found = found;
    const fields = Object.entries(defOf(obj).shape ?? {});
    // An object whose every field has one object shape is a map over a closed set of keys (`retry`).
    const inners = new Set(fields.map(([, f]) => unwrap(f)));
    const closedMap = fields.length > 1 && inners.size === 1 && defOf([...inners][0]!).type === 'object';
    const placeholder = this.opts.closedMapPlaceholder?.(fields.map(([k]) => k)) ?? '<key>';
    for (const [name, field] of fields) {
      const fieldPath = path ? `${path}.${name}` : name;
      this.fieldPaths.push(fieldPath);
      const childPath = closedMap ? `${path}.${placeholder}` : fieldPath;
      const type = this.opts.typeOverride?.({ name, path: fieldPath }) ?? this.typeText(field, childPath);
      const described = (closedMap ? this.opts.closedMapRow?.(name) : undefined) ?? (specificDescription(field) || this.opts.fallbackDescription?.(fieldPath) || descriptionOf(field));
      sec.rows.push([code(name), type, requiredText(field), this.text(described)]);
    }
    this.found = null;
    for (const f of found) this.build(f.schema, f.path, f.heading);
  }

  private text(t: string): string {
    if (!this.opts.sentences || !t) return t;
    // A leading value (`null: ...`, `false: ...`) is code, not a word to capitalise.
    const start = /^(null|true|false)\b/.test(t) ? t.replace(/^(\w+)/, '`$1`') : t[0]!.toUpperCase() + t.slice(1);
    return /[.!?]$/.test(start) ? start : `${start}.`;
  }

  /** The type of a value, in words; an object type gets a section and a link to it. */
  typeText(s: Schema, path: string): string {
    const nullable = hasWrapper(s, ['nullable']) ? ' or null' : '';
    return `${this.bareType(s, path)}${nullable}`;
  }

  private kindOf(s: Schema): string | undefined {
    const kinds = this.opts.kinds;
    if (!kinds) return undefined;
    let cur: Schema | undefined = s;
    while (cur) {
      const k = kinds.get(cur);
      if (k) return k;
      const parent: Schema | undefined = (cur._zod as { parent?: Schema }).parent;
      const d = defOf(cur);
      cur = parent ?? (WRAPPERS.has(d.type) ? d.innerType : undefined);
    }
    return undefined;
  }

  /** Plans a section for an object schema met at `path` (once per schema); returns where it is. */
  private objectLink(inner: Schema, path: string, heading = code(path)): { path: string; anchor: string } {
    const isNew = !this.planned.has(inner);
    const p = this.plan(inner, path);
    if (isNew) {
      if (this.found) this.found.push({ schema: inner, path, heading });
      else this.build(inner, path, heading);
    }
    return p;
  }

  private bareType(s: Schema, path: string): string {
    const kind = this.kindOf(s);
    if (kind) return kind;
    const inner = unwrap(s);
    const d = defOf(inner);
    switch (d.type) {
      case 'string':
        return stringText(d);
      case 'number':
        return numberText(d);
      case 'boolean':
        return 'boolean';
      case 'unknown':
      case 'any':
        return 'any JSON value';
      case 'null':
        return 'null';
      case 'literal':
        return (d.values ?? []).map((v) => code(JSON.stringify(v))).join(' or ');
      case 'enum':
        return `one of ${Object.values(d.entries ?? {})
          .map((v) => code(String(v)))
          .join(', ')}`;
      case 'array': {
        const min = checksOf(d).find((c) => c.check === 'min_length')?.minimum;
        return `${min ? 'non-empty list' : 'list'} of ${this.typeText(d.element!, `${path}[]`)}`;
      }
      case 'record': {
        const key = this.kindOf(d.keyType!) ?? 'string';
        return `map from ${key} to ${this.typeText(d.valueType!, `${path}.<name>`)}`;
      }
      case 'union': {
        const options = d.options ?? [];
        const disc = d.discriminator;
        if (disc) {
          // A tagged union: one section per variant, named by its tag.
          const links = options.map((o) => {
            const variant = unwrap(o);
            const tag = String(defOf(unwrap(defOf(variant).shape![disc]!)).values?.[0]);
            const p = this.objectLink(variant, `${path}{${disc}=${tag}}`, `${code(path)} with ${code(`${disc}: ${tag}`)}`);
            return `[${code(tag)}](#${p.anchor})`;
          });
          return `object by ${code(disc)}: ${links.join(', ')}`;
        }
        return options.map((o) => this.typeText(o, path)).join(' or ');
      }
      case 'object': {
        const p = this.objectLink(inner, path);
        return `object, see [${code(p.path)}](#${p.anchor})`;
      }
      default:
        return d.type;
    }
  }
}

/** `yes`, `no`, or `conditional` when the description makes it so. */
function requiredText(s: Schema): string {
  if (!hasWrapper(s, ['optional', 'default', 'prefault'])) return 'yes';
  const text = descriptionOf(s);
  if (/(^|\.\s+)Required\./.test(text)) return 'yes';
  if (/\brequired when\b/i.test(text)) return 'conditional';
  return 'no';
}

/** A section as Markdown: an anchor, a heading at `level` (none: the table alone), intro, table. */
export function renderSection(s: Section, level: string | null): string {
  const parts = level ? [`<a id="${s.anchor}"></a>`, '', `${level} ${s.heading}`, ''] : [];
  if (s.intro && level) parts.push(cell(s.intro), '');
  parts.push(table(['field', 'type', 'required', 'description'], s.rows));
  return parts.join('\n');
}
