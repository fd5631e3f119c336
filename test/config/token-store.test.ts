/** The tokens file as `runwarden tokens` writes it and `serve` reads it while running. */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addApiToken, configuredTokensFile, fileTokenStore, readTokensFileSync, revokeApiToken } from '../../src/config/tokens.js';
import { loadConfig } from '../../src/config/index.js';

describe('tokens file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rw-tokens-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('adds a token once, keeps only its hash, and refuses the same name twice', async () => {
    const file = join(dir, 'tokens.yaml');
    const { token, entry } = addApiToken(file, 'queue', 'intake');
    expect(token).toMatch(/^rwt_[A-Za-z0-9_-]{43}$/);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(token);
    expect(text).toContain(entry.sha256);
    expect((await stat(file)).mode & 0o077).toBe(0);
    expect(() => addApiToken(file, 'queue', 'viewer')).toThrow(/already exists/);
    // The file is one runwarden.yaml accepts.
    await writeFile(join(dir, 'runwarden.yaml'), 'tokens: { file: ./tokens.yaml }\n');
    const config = await loadConfig({ cwd: dir });
    expect(config.tokens).toEqual([entry]);
    expect(config.tokensFile).toBe(file);
    expect(configuredTokensFile(undefined, dir)).toEqual({ config: join(dir, 'runwarden.yaml'), file });
  });

  it('revokes by name and says which names there are when the name is wrong', () => {
    const file = join(dir, 'tokens.yaml');
    addApiToken(file, 'a', 'viewer');
    addApiToken(file, 'b', 'operator');
    expect(() => revokeApiToken(file, 'c')).toThrow(/listed: a, b/);
    expect(revokeApiToken(file, 'a').name).toBe('a');
    expect(readTokensFileSync(file).map((t) => t.name)).toEqual(['b']);
  });

  it('a running store picks up additions and revocations, and keeps the last good list when the file breaks', async () => {
    const file = join(dir, 'tokens.yaml');
    const { token: first } = addApiToken(file, 'first', 'viewer');
    let now = 0;
    const errors: unknown[] = [];
    const store = fileTokenStore(file, readTokensFileSync(file), { recheckMs: 1000, now: () => now, onError: (e) => errors.push(e) });
    expect(store.match(first)?.name).toBe('first');
    const { token: second } = addApiToken(file, 'second', 'operator');
    expect(store.match(second)).toBeUndefined(); // not rechecked yet
    now += 1000;
    expect(store.match(second)?.role).toBe('operator');
    revokeApiToken(file, 'first');
    now += 1000;
    expect(store.match(first)).toBeUndefined();
    await writeFile(file, 'tokens: [ { name: x, role: boss');
    now += 1000;
    expect(store.match(second)?.name).toBe('second');
    expect(errors).toHaveLength(1);
  });
});
