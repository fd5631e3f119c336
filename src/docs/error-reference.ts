/**
 * The error code table of docs/errors.md, generated from ERROR_CODES so that a new code, or a
 * changed exit code or HTTP status, reaches the docs with `npm run docs:write` (a test fails
 * until it does).
 */
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { code, generatedNotice, table } from './markdown.js';

/**
 * One row per code in ERROR_CODES, in its order: code, meaning, exit code, HTTP status, and
 * whether trying the same thing again can help. Ends with a newline.
 */
export function errorCodesTable(): string {
  const rows = (Object.keys(ERROR_CODES) as ErrorCode[]).map((c) => {
    const e = ERROR_CODES[c];
    return [code(c), e.doc, String(e.exit), String(e.http), e.retryable ? 'yes' : 'no'];
  });
  return `${generatedNotice('ERROR_CODES in src/errors.ts')}\n\n${table(['code', 'meaning', 'exit code', 'HTTP status', 'retrying helps'], rows)}`;
}
