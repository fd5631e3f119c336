/**
 * The user-facing docs these tests hold to the code, and a small Markdown reader: a page as
 * chunks (headings, paragraphs, list items, table rows, fenced blocks), each with the headings
 * above it, and the commands and links the chunks name.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The pages checked: the README and every page under docs/ except the simulated API's, which
 * documents the test fixture rather than runwarden.
 */
export function docPages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md') && f !== 'simulated-api.md')
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs.sort()];
}

export function readPage(page: string): string {
  return readFileSync(join(ROOT, page), 'utf8');
}

export interface Chunk {
  kind: 'heading' | 'paragraph' | 'item' | 'row' | 'code';
  text: string;
  /** Line number (1-based) of the chunk's first line. */
  line: number;
  /** The headings above the chunk, outermost first (a heading chunk includes itself). */
  headings: string[];
  /** A fenced block's info string (`sh background` after the backticks); '' for other chunks. */
  info?: string;
}

/** Splits a page into chunks. HTML comments and anchors are dropped. */
export function chunks(md: string): Chunk[] {
  const out: Chunk[] = [];
  const stack: Array<{ level: number; text: string }> = [];
  const lines = md.split('\n');
  let current: Chunk | null = null;
  const flush = () => {
    if (current) out.push(current);
    current = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = /^(\s*)(`{3,})(.*)$/.exec(line);
    if (fence) {
      flush();
      const body: string[] = [];
      let j = i + 1;
      while (j < lines.length && !lines[j]!.trimStart().startsWith(fence[2]!)) body.push(lines[j++]!);
      out.push({ kind: 'code', text: body.join('\n'), line: i + 1, headings: stack.map((h) => h.text), info: fence[3]!.trim() });
      i = j;
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      const level = heading[1]!.length;
      while (stack.length && stack[stack.length - 1]!.level >= level) stack.pop();
      stack.push({ level, text: heading[2]! });
      out.push({ kind: 'heading', text: heading[2]!, line: i + 1, headings: stack.map((h) => h.text) });
      continue;
    }
    if (line.trim() === '' || /^\s*<!--.*-->\s*$/.test(line) || /^\s*<a id="[^"]*"><\/a>\s*$/.test(line)) {
      flush();
      continue;
    }
    const headings = stack.map((h) => h.text);
    if (/^\s*\|/.test(line)) {
      flush();
      out.push({ kind: 'row', text: line, line: i + 1, headings });
      continue;
    }
    if (/^\s*([-*]|\d+\.)\s+/.test(line)) {
      flush();
      current = { kind: 'item', text: line, line: i + 1, headings };
      continue;
    }
    if (current) current.text += `\n${line}`;
    else current = { kind: 'paragraph', text: line, line: i + 1, headings };
  }
  flush();
  return out;
}

/** The code in a chunk: its inline code spans, or each line of a fenced block. */
export function codeIn(chunk: Chunk): string[] {
  if (chunk.kind === 'code') return chunk.text.split('\n');
  const spans: string[] = [];
  const re = /(`+)([\s\S]*?[^`])\1(?!`)/g;
  for (let m = re.exec(chunk.text); m; m = re.exec(chunk.text)) spans.push(m[2]!.trim());
  return spans;
}

export interface CommandMention {
  command: string;
  flags: string[];
  /** The code it was found in. */
  code: string;
  chunk: Chunk;
}

/** Every `runwarden <command> ...` in code, with the `--flags` that follow it there. */
export function commandMentions(md: string | Chunk[]): CommandMention[] {
  const out: CommandMention[] = [];
  for (const chunk of typeof md === 'string' ? chunks(md) : md) {
    for (const code of codeIn(chunk)) {
      const re = /(?:^|[\s(;&|$])runwarden\s+([a-z][a-z-]*)([^;&|]*)/g;
      for (let m = re.exec(code); m; m = re.exec(code)) {
        const flags = [...m[2]!.matchAll(/(?:^|[\s[])(--[a-z][a-z-]*)/g)].map((f) => f[1]!);
        out.push({ command: m[1]!, flags, code, chunk });
      }
    }
  }
  return out;
}

/** Every `npm run <script>` / `npm test` in code. */
export function npmScripts(md: string): string[] {
  const out: string[] = [];
  for (const chunk of chunks(md)) {
    for (const code of codeIn(chunk)) {
      for (const m of code.matchAll(/\bnpm\s+(?:run\s+([a-z][a-z0-9:-]*)|(test)\b)/g)) out.push(m[1] ?? m[2]!);
    }
  }
  return out;
}

/** Chunks that say something is not built yet, and the chunks under a heading that does. */
export function notBuiltChunks(md: string): Chunk[] {
  return chunks(md).filter((c) => /not\s+built\s+yet/i.test(c.text) || c.headings.some((h) => /not\s+built\s+yet/i.test(h)));
}

/** Commands written right before a "not built yet" mark: `` `runwarden serve` (not built yet) ``. */
export function markedNotBuilt(md: string): string[] {
  return [...md.matchAll(/`runwarden ([a-z][a-z-]*)[^`]*`[^`]{0,4}not\s+built\s+yet/gi)].map((m) => m[1]!);
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
export function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .trim()
    .replace(/\s/g, '-');
}

/** The anchors a page defines: explicit `<a id>` and heading slugs (GitHub numbers repeats). */
export function anchors(md: string): Set<string> {
  const out = new Set<string>();
  for (const m of md.matchAll(/<a id="([^"]+)"><\/a>/g)) out.add(m[1]!);
  const seen = new Map<string, number>();
  for (const c of chunks(md)) {
    if (c.kind !== 'heading') continue;
    const s = slug(c.text);
    const n = seen.get(s) ?? 0;
    seen.set(s, n + 1);
    out.add(n ? `${s}-${n}` : s);
  }
  return out;
}

/** Relative links `[text](target)` outside code, with the line they are on. */
export function links(md: string): Array<{ target: string; line: number }> {
  const out: Array<{ target: string; line: number }> = [];
  for (const c of chunks(md)) {
    if (c.kind === 'code') continue;
    const prose = c.text.replace(/(`+)[\s\S]*?\1/g, '');
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (!/^[a-z]+:/i.test(m[1]!)) out.push({ target: m[1]!, line: c.line });
    }
  }
  return out;
}
