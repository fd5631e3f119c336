/**
 * Markdown pieces the docs generators share: tables whose cells cannot break the table, and the
 * marker-delimited blocks (`<!-- name:start -->` ... `<!-- name:end -->`) that let a generated
 * part live inside a hand-written page.
 */

/** `<` outside code spans as `&lt;`, so `<you>` in prose shows instead of vanishing as a tag. */
export function escapeAngles(text: string): string {
  return text
    .split(/(`+[^`]*?`+)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, '&lt;')))
    .join('');
}

/**
 * A cell's text on one line, with `|` escaped so it cannot end the cell early and `<` outside
 * code spans escaped so it cannot open a tag.
 */
export function cell(text: string): string {
  return escapeAngles(text.replace(/\s*\n\s*/g, ' ')).replace(/\|/g, '\\|').trim();
}

/** A GitHub-flavoured Markdown table; every cell goes through `cell`. Ends with a newline. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n') + '\n';
}

/** A sentence: a capital first letter and a full stop, for help texts written as fragments. */
export function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const capital = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** `text` as inline code, with a fence long enough for any backticks inside it. */
export function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  return longest ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`;
}

export function blockStart(name: string): string {
  return `<!-- ${name}:start -->`;
}

export function blockEnd(name: string): string {
  return `<!-- ${name}:end -->`;
}

function blockRange(text: string, name: string, file: string): { from: number; to: number } {
  const start = blockStart(name);
  const end = blockEnd(name);
  const s = text.indexOf(start);
  const e = text.indexOf(end);
  if (s < 0 || e < 0 || e < s || text.indexOf(start, s + 1) >= 0) {
    throw new Error(`${file}: expected exactly one ${start} followed by ${end}`);
  }
  return { from: s + start.length, to: e };
}

/** The content between a block's markers, without the newlines that pad it. */
export function readBlock(text: string, name: string, file = 'the document'): string {
  const { from, to } = blockRange(text, name, file);
  return text.slice(from, to).replace(/^\n/, '').replace(/\n$/, '');
}

/**
 * `text` with the block's content replaced by `content`. Throws when the markers are missing or
 * repeated: a generator must never guess where its output goes.
 */
export function replaceBlock(text: string, name: string, content: string, file = 'the document'): string {
  const { from, to } = blockRange(text, name, file);
  const body = content.endsWith('\n') ? content : `${content}\n`;
  return `${text.slice(0, from)}\n${body}${text.slice(to)}`;
}

/** A short notice for the top of a generated block or file: where it comes from, how to redo it. */
export function generatedNotice(source: string): string {
  return `<!-- Generated from ${source} by \`npm run docs:write\`; edit the source, not this text. -->`;
}
