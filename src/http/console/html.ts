/**
 * HTML built by one tagged template that escapes every value it is given. Markup only comes
 * from the template's literal parts or from another `html` result, so text from a task (an
 * API's error, an input, a runbook title) can never become markup: forgetting to escape is not
 * possible, only asking for `raw` is, and that is used for fixed strings alone.
 */

/** Markup that is already safe (built by `html` or `raw`). */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Text escaped for an element's content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ENTITIES[c]!);
}

/** A value as HTML: SafeHtml as it is, arrays joined, null/undefined/false as nothing, the rest escaped as text. */
function part(v: unknown): string {
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(typeof v === 'string' ? v : String(v));
}

/** `html\`<p>${text}</p>\``: every interpolated value is escaped unless it is SafeHtml. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += part(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/** Fixed markup passed through unescaped: never give it data. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** Several pieces of markup as one. */
export function join(parts: readonly SafeHtml[], sep: SafeHtml = raw('')): SafeHtml {
  return new SafeHtml(parts.map((p) => p.value).join(sep.value));
}
