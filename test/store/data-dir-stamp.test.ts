/**
 * The stamp `runwarden demo --keep` compares to learn that another process has had the embedded
 * database open while it held no lock: stable while the directory is closed, different after
 * any open and close, read-only ones included.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataDirStamp } from '../../src/store/data-dir-stamp.js';
import { openDb } from '../../src/store/db.js';

describe('dataDirStamp', () => {
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'rw-stamp-'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('is "missing" where there is no database', async () => {
    expect(await dataDirStamp(join(base, 'none'))).toBe('missing');
  });

  it('holds still while the directory is closed and changes after any open, even one that only reads', async () => {
    const dir = join(base, 'db');
    await (await openDb(dir, { migrate: false })).close();
    const closed = await dataDirStamp(dir);
    expect(closed).toMatch(/^[0-9a-f]{40}$/);
    expect(await dataDirStamp(dir)).toBe(closed);

    const reader = await openDb(dir, { migrate: false });
    await reader.query('SELECT 1');
    await reader.close();
    const after = await dataDirStamp(dir);
    expect(after).not.toBe(closed);
    expect(await dataDirStamp(dir)).toBe(after);
  }, 60_000);
});
