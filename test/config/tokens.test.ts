import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashApiToken, matchApiToken, type ApiToken } from '../../src/config/index.js';

describe('API tokens', () => {
  it('hashes to the hex SHA-256 the tokens file stores', () => {
    expect(hashApiToken('abc')).toBe(createHash('sha256').update('abc').digest('hex'));
    expect(hashApiToken('abc')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('matches a presented token to its entry, and nothing else', () => {
    const tokens: ApiToken[] = [
      { name: 'ops', role: 'operator', sha256: hashApiToken('op-token') },
      { name: 'dash', role: 'viewer', sha256: hashApiToken('view-token') },
    ];
    expect(matchApiToken(tokens, 'view-token')).toEqual(tokens[1]);
    expect(matchApiToken(tokens, 'op-token')?.role).toBe('operator');
    expect(matchApiToken(tokens, 'op-token ')).toBeUndefined();
    expect(matchApiToken(tokens, '')).toBeUndefined();
    expect(matchApiToken([], 'op-token')).toBeUndefined();
  });
});
