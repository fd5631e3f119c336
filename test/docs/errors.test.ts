/**
 * docs/errors.md lists every error code with the exit code, HTTP status and retryability the code
 * gives it, and names no code that does not exist.
 */
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { readBlock } from '../../src/docs/markdown.js';
import { chunks, codeIn, readPage } from './doc-files.js';

const page = readPage('docs/errors.md');

describe('docs/errors.md', () => {
  const rows = readBlock(page, 'error-codes', 'docs/errors.md')
    .split('\n')
    .filter((l) => /^\| `[A-Z_]+` \|/.test(l))
    .map((l) => l.split(/(?<!\\)\|/).map((c) => c.trim()));

  it('has a row for every code in ERROR_CODES and none besides', () => {
    expect(rows.map((r) => r[1]!.replace(/`/g, '')).sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('gives each code its exit code, HTTP status and whether retrying helps', () => {
    for (const r of rows) {
      const code = r[1]!.replace(/`/g, '') as ErrorCode;
      const e = ERROR_CODES[code];
      expect({ code, exit: r[3], http: r[4], retry: r[5] }).toEqual({ code, exit: String(e.exit), http: String(e.http), retry: e.retryable ? 'yes' : 'no' });
    }
  });

  it('names only real codes in its advice', () => {
    const named = chunks(page)
      .filter((c) => c.kind === 'item' && c.headings.at(-1) === 'What to do')
      .flatMap((c) => codeIn(c).filter((s) => /^[A-Z][A-Z_]+$/.test(s) && !/^(RUNWARDEN_|DATABASE_URL)/.test(s)));
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((c) => !(c in ERROR_CODES))).toEqual([]);
  });
});
