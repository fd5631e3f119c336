/**
 * Generated docs are committed fresh: each generated file and block equals what its generator
 * says now. A failure names the file; `npm run docs:write` rewrites them all.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectedContent, GENERATED } from '../../src/docs/generated.js';
import { ROOT } from './doc-files.js';

describe('generated docs', () => {
  it.each(GENERATED.map((t) => [t.block ? `${t.file} (block ${t.block})` : t.file, t] as const))(
    '%s is up to date (run npm run docs:write)',
    async (_name, target) => {
      const committed = readFileSync(join(ROOT, target.file), 'utf8');
      expect(committed).toBe(await expectedContent(ROOT, target));
    },
  );
});
