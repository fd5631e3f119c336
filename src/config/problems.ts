/**
 * Turns what is wrong with a YAML file into problems an editor can jump to: YAML syntax errors,
 * zod issues (mapped from their path to the node's line and column) and checks of our own. Zod's
 * union issues are unwrapped to the branch the input was evidently aiming at, because "Invalid
 * input" tells the operator nothing.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import type { Problem } from '../errors.js';

type Path = ReadonlyArray<PropertyKey>;

/** A parsed YAML file that can say where a path is. */
export class YamlSource {
  readonly doc: Document;
  private readonly lines = new LineCounter();

  constructor(
    readonly file: string,
    text: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false });
  }

  /** YAML syntax errors, each with its position. */
  syntaxProblems(): Problem[] {
    return this.doc.errors.map((e) => {
      const pos = this.lines.linePos(e.pos[0]);
      return { path: '', message: e.message.split('\n')[0]!, file: this.file, line: pos.line, col: pos.col };
    });
  }

  private plain: unknown;

  /** The file as plain data (`{}` for an empty file). */
  data(): unknown {
    if (this.plain === undefined) this.plain = this.doc.toJS() ?? {};
    return this.plain;
  }

  /**
   * Position of `path`: its value node when it exists, its key when `at` is `key`, and otherwise
   * the key of the deepest ancestor that exists (a missing field points at its parent).
   */
  position(path: Path, at: 'value' | 'key' = 'value'): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let key: Node | undefined;
    let found = true;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) {
          found = false;
          break;
        }
        key = pair.key as Node;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
        key = undefined;
        node = node.items[seg];
      } else {
        found = false;
        break;
      }
    }
    const at0 = (n: unknown): { line: number; col: number } | undefined => {
      const start = (n as Node | null | undefined)?.range?.[0];
      return start === undefined ? undefined : this.lines.linePos(start);
    };
    const here = found && at === 'value' ? (at0(node) ?? at0(key)) : (at0(key) ?? at0(node));
    return here ?? { line: 1, col: 1 };
  }

  /** A problem located at `path`. */
  problem(path: Path, message: string, at: 'value' | 'key' = 'value'): Problem {
    return { path: formatPath(path), message, file: this.file, ...this.position(path, at) };
  }
}

/** `sinks.pager.routingKey`, `env[2]`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/**
 * Edit distance counting a swap of neighbours as one edit (optimal string alignment), since
 * `evn` for `env` is the commonest typo of all.
 */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word` when it is close enough to be a typo of it. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : distance(word, c);
    if (!best || d < best.d) best = { c, d };
  }
  // Two edits for most words, one for short ones: `pth` -> `path`, but not `to` -> `type`.
  return best && best.d <= Math.max(1, Math.min(2, Math.floor(best.c.length / 3))) ? best.c : undefined;
}

/** Issues of the union branch the input was aiming at, or undefined when no branch stands out. */
function aimedBranch(issue: z.core.$ZodIssueInvalidUnion): z.core.$ZodIssue[] | undefined {
  // A branch that failed only on the type of the whole value is one the input was not aiming at.
  const plausible = issue.errors.filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
  if (plausible.length !== 1) return undefined;
  return plausible[0]!.map((i) => ({ ...i, path: [...issue.path, ...i.path] }));
}

export interface IssueContext {
  /** The keys allowed in the object at `path`, for "did you mean". */
  knownKeys(path: Path): readonly string[];
}

/** Converts zod issues to located problems, one per issue, unions unwrapped. */
export function zodIssueProblems(src: YamlSource, issues: readonly z.core.$ZodIssue[], ctx: IssueContext): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union') {
      if (issue.errors.length === 0 && issue.discriminator !== undefined && 'options' in issue && issue.options) {
        // No branch has that discriminator value: say which values there are.
        const got = valueAt(src.data(), issue.path);
        const options = issue.options.map(String);
        const hint = typeof got === 'string' ? didYouMean(got, options) : undefined;
        const what = got === undefined ? `${String(issue.discriminator)} is required` : `unknown ${String(issue.discriminator)} ${JSON.stringify(got)}`;
        out.push(src.problem(issue.path, `${what}${hint ? ` (did you mean "${hint}"?)` : ''}; expected one of ${options.join(', ')}`));
        continue;
      }
      if (valueAt(src.data(), issue.path) === undefined) {
        out.push(src.problem(issue.path, 'is required'));
        continue;
      }
      const branch = aimedBranch(issue);
      if (branch) {
        out.push(...zodIssueProblems(src, branch, ctx));
        continue;
      }
    }
    if (issue.code === 'unrecognized_keys') {
      const known = ctx.knownKeys(issue.path);
      for (const key of issue.keys) {
        const hint = didYouMean(key, known);
        const message = `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}; allowed: ${known.join(', ')}`;
        out.push(src.problem([...issue.path, key], message, 'key'));
      }
      continue;
    }
    if (issue.code === 'invalid_type' && valueAt(src.data(), issue.path) === undefined) {
      out.push(src.problem(issue.path, 'is required'));
      continue;
    }
    out.push(src.problem(issue.path, issue.message));
  }
  return out;
}

/** The value at `path` in plain data, or undefined. */
export function valueAt(data: unknown, path: Path): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}
