/**
 * A runbook's YAML source: the parsed document, its plain JS value, and where any JSON path
 * points in the text. Every problem the loader reports goes through `locate`, so each one names
 * the real `file:line:col` of the offending node (the key for an unknown key, the value
 * otherwise), including the column inside a CEL string when the text allows it.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import type { Problem } from '../errors.js';

export type PathSegment = string | number;

/** A problem before it is located: a JSON path, and what in the node it is about. */
export interface Finding {
  path: PathSegment[];
  message: string;
  /** `key`: point at the mapping key of the last segment (unknown keys). Default `value`. */
  at?: 'key' | 'value';
  /** Offset inside the string value (a CEL error's position), when known. */
  offset?: number;
}

export interface YamlSource {
  file: string;
  text: string;
  /** The document as plain JS (`undefined` when it could not be built). */
  value: unknown;
  /** YAML syntax errors and duplicate keys, located. */
  syntaxProblems: Problem[];
  locate(finding: Finding): Problem;
}

/** `steps[2].with.path`, `escalation.recommend["check-health"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Parses YAML text; never throws. */
export function readYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  // prettyErrors off: the message stays one line; positions come from the line counter.
  // stringKeys: a mapping or list used as a key is an error, not a key silently stringified.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true, stringKeys: true });
  const pos = (offset: number): { line: number; col: number } => lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));

  const syntaxProblems: Problem[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    const { line, col } = pos(e.pos[0]);
    const message = e.code === 'DUPLICATE_KEY' ? 'duplicate key: a key may appear only once in a mapping' : `YAML: ${e.message}`;
    syntaxProblems.push({ file, line, col, path: pathAtOffset(doc, e.pos[0]), message });
  }

  let value: unknown;
  if (doc.errors.length === 0) {
    try {
      // Aliases are expanded; a bounded count stops "billion laughs" documents.
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      syntaxProblems.push({ file, line: 1, col: 1, path: '', message: `YAML: ${(err as Error).message}` });
    }
  }

  const locate = (f: Finding): Problem => {
    const { node, keyNode } = walk(doc, f.path);
    const target = f.at === 'key' && keyNode ? keyNode : (node ?? keyNode);
    let offset = target?.range?.[0] ?? 0;
    if (f.offset !== undefined && target && target === node && isScalar(target)) {
      const inner = offsetInScalar(text, target, f.offset);
      if (inner !== undefined) offset = inner;
    }
    return { file, ...pos(offset), path: formatPath(f.path), message: f.message };
  };

  return { file, text, value, syntaxProblems, locate };
}

/**
 * The node at a JSON path, or the deepest node on the way when the path goes further than the
 * document (a missing required field points at the mapping that lacks it).
 */
function walk(doc: Document, path: readonly PathSegment[]): { node?: Node; keyNode?: Node } {
  let cur: unknown = doc.contents;
  let keyNode: Node | undefined;
  for (const seg of path) {
    if (isAlias(cur)) cur = cur.resolve(doc);
    if (isMap(cur)) {
      const pair = cur.items.find((p: Pair) => keyString(p.key) === String(seg));
      if (!pair) return { node: cur as Node };
      keyNode = pair.key as Node;
      // `key:` with nothing after it has no value node: point at the key.
      if (pair.value === null || pair.value === undefined) return { keyNode, node: undefined };
      cur = pair.value;
    } else if (isSeq(cur) && typeof seg === 'number' && seg < cur.items.length) {
      keyNode = undefined;
      cur = cur.items[seg];
    } else {
      return { node: (cur as Node | null) ?? undefined, keyNode };
    }
  }
  return { node: (cur as Node | null) ?? undefined, keyNode };
}

function keyString(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

/**
 * The source offset of character `offset` of a scalar's value, when the text maps one to one:
 * single-line plain or quoted scalars without escapes, and literal (`|`) blocks.
 */
function offsetInScalar(text: string, node: Node, offset: number): number | undefined {
  if (!isScalar(node) || typeof node.value !== 'string' || !node.range) return undefined;
  const value = node.value;
  const [start, end] = node.range;
  const raw = text.slice(start, end);
  if (node.type === 'PLAIN' && raw === value) return start + offset;
  if ((node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && raw.slice(1, -1) === value) return start + 1 + offset;
  if (node.type === 'BLOCK_LITERAL') {
    // A literal block keeps its lines: value line k is source line k after the `|` header,
    // minus the block's indentation.
    const before = value.slice(0, offset);
    const lineIndex = before.split('\n').length - 1;
    const colInLine = offset - (before.lastIndexOf('\n') + 1);
    const valueLine = value.split('\n')[lineIndex] ?? '';
    const sourceLines = raw.split('\n');
    const sourceLine = sourceLines[lineIndex + 1];
    if (sourceLine === undefined || !sourceLine.endsWith(valueLine)) return undefined;
    const lineStart = start + sourceLines.slice(0, lineIndex + 1).reduce((n, l) => n + l.length + 1, 0);
    return lineStart + (sourceLine.length - valueLine.length) + colInLine;
  }
  return undefined;
}

/** The JSON path of the innermost node containing an offset (for YAML errors). */
function pathAtOffset(doc: Document, offset: number): string {
  const path: PathSegment[] = [];
  let cur: unknown = doc.contents;
  const inside = (n: unknown): boolean => {
    const r = (n as Node | null)?.range;
    return Boolean(r && offset >= r[0] && offset <= r[2]);
  };
  for (let depth = 0; depth < 100; depth++) {
    if (isMap(cur)) {
      const pair = cur.items.find((p) => isPair(p) && (inside(p.key) || inside(p.value)));
      if (!pair) break;
      const k = keyString(pair.key);
      if (k === undefined) break;
      path.push(k);
      if (!inside(pair.value)) break;
      cur = pair.value;
    } else if (isSeq(cur)) {
      const i = cur.items.findIndex((n) => inside(n));
      if (i < 0) break;
      path.push(i);
      cur = cur.items[i];
    } else break;
  }
  return formatPath(path);
}
