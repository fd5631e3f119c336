import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMasker, isSecretKey, MASK } from './mask.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('maskString', () => {
  const m = createMasker(['s3cret-token-value', 'hunter22']);

  it('replaces every occurrence of a secret', () => {
    expect(m.maskString('a s3cret-token-value b s3cret-token-value')).toBe(`a ${MASK} b ${MASK}`);
    expect(m.maskString('pw=hunter22;')).toBe(`pw=${MASK};`);
  });

  it('leaves text without secrets untouched', () => {
    const text = 'service billing-api restarted in 3.2s (rst_1)';
    expect(m.maskString(text)).toBe(text);
    expect(m.maskString('')).toBe('');
  });

  it('masks the longer secret whole when one contains another', () => {
    const nested = createMasker(['abcd', 'abcdefgh']);
    expect(nested.maskString('x abcdefgh y')).toBe(`x ${MASK} y`);
    expect(nested.maskString('abcd-')).toBe(`${MASK}-`);
  });

  it('ignores secrets shorter than four characters and duplicates', () => {
    const short = createMasker(['abc', '', 'abc', 'abcd', 'abcd']);
    expect(short.maskString('abc abcd')).toBe(`abc ${MASK}`);
  });

  it('masks overlapping and adjacent occurrences', () => {
    const o = createMasker(['abab']);
    expect(o.maskString('ababab')).not.toContain('abab');
    expect(o.maskString('abababab')).not.toContain('abab');
  });

  it('does not leave a secret that a mask completes', () => {
    const odd = createMasker(['***a']);
    expect(odd.maskString('***aa')).not.toContain('***a');
  });

  it('masks the base64 forms of a secret: padded, unpadded, url-safe', () => {
    const secret = 'p>?secret~~';
    const s = createMasker([secret]);
    const std = b64(secret);
    expect(std).toMatch(/[+/=]/);
    expect(s.maskString(`x ${std} y`)).toBe(`x ${MASK} y`);
    expect(s.maskString(`x ${std.replace(/=+$/, '')} y`)).not.toContain(std.replace(/=+$/, ''));
    const url = Buffer.from(secret).toString('base64url');
    expect(s.maskString(`x=${url}`)).not.toContain(url);
  });

  it('masks Basic credentials that hold a secret password', () => {
    const s = createMasker(['hunter22']);
    const header = `Authorization: Basic ${b64('alice:hunter22')}`;
    expect(s.maskString(header)).toBe(`Authorization: Basic ${MASK}`);
  });

  it('masks a secret encoded inside a larger base64 blob, at every alignment', () => {
    const secret = 'tok_9f8e7d6c5b4a';
    const s = createMasker([secret]);
    for (const prefix of ['', 'a', 'ab', 'abc']) {
      const blob = b64(`${prefix}{"token":"${secret}","n":1}`);
      const out = s.maskString(`payload=${blob}`);
      expect(out).not.toBe(`payload=${blob}`);
      // Nothing left that decodes to the secret.
      for (const run of out.match(/[A-Za-z0-9+/=]{8,}/g) ?? []) {
        for (let i = 0; i < 4; i++) expect(Buffer.from(run.slice(i), 'base64').toString('latin1')).not.toContain(secret);
      }
    }
  });

  it('masks URL-encoded forms: component, form (+ for space), lower-case hex', () => {
    const secret = 'p@ss w/rd&x=1';
    const s = createMasker([secret]);
    const component = encodeURIComponent(secret);
    expect(s.maskString(`https://api.example/cb?token=${component}&a=1`)).toBe(`https://api.example/cb?token=${MASK}&a=1`);
    expect(s.maskString(`token=${component.replace(/%20/g, '+')}`)).toBe(`token=${MASK}`);
    expect(s.maskString(`token=${component.toLowerCase().replace(/p%40ss/, 'p%40ss')}`)).not.toContain(component.toLowerCase());
  });

  it('masks the JSON-escaped form of a secret inside JSON text', () => {
    const secret = 'say "hi"\\now';
    const s = createMasker([secret]);
    const json = JSON.stringify({ body: secret });
    expect(s.maskString(json)).toBe(`{"body":"${MASK}"}`);
  });

  it('masks bearer and basic credentials it was not told about, but not prose', () => {
    const none = createMasker([]);
    expect(none.maskString('Authorization: Bearer eyJhbGciOi.J9.abc')).toBe(`Authorization: Bearer ${MASK}`);
    expect(none.maskString(`authorization: basic ${b64('bob:pw')}`)).toBe(`authorization: basic ${MASK}`);
    expect(none.maskString('Bearer tokens carry a role')).toBe('Bearer tokens carry a role');
    expect(none.maskString('Basic information about the account')).toBe('Basic information about the account');
  });
});

describe('isSecretKey', () => {
  it.each([
    'authorization',
    'Authorization',
    'proxy-authorization',
    'password',
    'token',
    'secret',
    'apiKey',
    'api_key',
    'x-api-key',
    'cookie',
    'set-cookie',
    'Set-Cookie',
    'accessToken',
    'refresh_token',
    'client_secret',
    'callbackToken',
    'dbPassword',
  ])('%s is secret', (k) => expect(isSecretKey(k)).toBe(true));

  it.each(['tokens', 'tokenUsage', 'maxTokens', 'completion_tokens', 'secrets_count', 'name', 'authorized', 'cookies_enabled'])(
    '%s is not',
    (k) => expect(isSecretKey(k)).toBe(false),
  );
});

describe('maskValue', () => {
  const m = createMasker(['s3cret-token-value']);

  it('masks strings deep in objects and arrays by value', () => {
    const v = { a: [{ b: 'x s3cret-token-value y' }, 'ok'], n: 3, t: true, z: null };
    expect(m.maskValue(v)).toEqual({ a: [{ b: `x ${MASK} y` }, 'ok'], n: 3, t: true, z: null });
  });

  it('masks a sim error body that echoes the request headers', () => {
    const echoed = {
      error: 'bad request',
      received: {
        headers: { authorization: 'Bearer whatever-we-sent-1', 'x-trace': 'trace s3cret-token-value', 'set-cookie': ['a=1', 'b=2'] },
      },
    };
    expect(m.maskValue(echoed)).toEqual({
      error: 'bad request',
      received: { headers: { authorization: MASK, 'x-trace': `trace ${MASK}`, 'set-cookie': [MASK, MASK] } },
    });
  });

  it('masks every string under a secret key but keeps counts', () => {
    const v = { credentials: { password: 'pw' }, token: { value: 'abc', expires: 60 }, usage: { tokens: 42, completion_tokens: 7 } };
    expect(m.maskValue(v)).toEqual({ credentials: { password: MASK }, token: { value: MASK, expires: 60 }, usage: { tokens: 42, completion_tokens: 7 } });
  });

  it('masks secret values used as keys', () => {
    expect(m.maskValue({ 's3cret-token-value': 1 })).toEqual({ [MASK]: 1 });
  });

  it('keeps a parsed __proto__ key a plain key', () => {
    const out = m.maskValue(JSON.parse('{"__proto__": {"x": "s3cret-token-value"}}') as object);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ x: MASK });
  });

  it('does not change its input', () => {
    const v = { a: { b: 's3cret-token-value' } };
    const copy = structuredClone(v);
    m.maskValue(v);
    expect(v).toEqual(copy);
  });

  it('copes with cycles', () => {
    const v: Record<string, unknown> = { s: 's3cret-token-value' };
    v.self = v;
    const out = m.maskValue(v) as Record<string, unknown>;
    expect(out.s).toBe(MASK);
    expect(out.self).toBe(out);
  });

  it('masks errors, message and stack included, keeping their class', () => {
    const err = new TypeError('request failed: token s3cret-token-value rejected');
    const out = m.maskValue({ err }).err;
    expect(out).toBeInstanceOf(TypeError);
    expect(out.message).toBe(`request failed: token ${MASK} rejected`);
    expect(out.stack).not.toContain('s3cret-token-value');
    expect(Object.keys(out)).toEqual([]);
  });

  it('returns primitives, dates and buffers as they are', () => {
    const d = new Date(0);
    expect(m.maskValue(d)).toBe(d);
    expect(m.maskValue(5)).toBe(5);
    expect(m.maskValue(undefined)).toBeUndefined();
    expect(m.maskValue('s3cret-token-value')).toBe(MASK);
  });
});

describe('masking properties', () => {
  const secretArb = fc.string({ minLength: 4, maxLength: 40, unit: 'binary' });
  const textArb = fc.string({ maxLength: 60, unit: 'binary' });

  it('never leaves a secret in a string that contained it', () => {
    fc.assert(
      fc.property(secretArb, textArb, textArb, (secret, a, b) => {
        expect(createMasker([secret]).maskString(a + secret + b)).not.toContain(secret);
      }),
    );
  });

  it('never leaves any of several secrets', () => {
    fc.assert(
      fc.property(fc.array(secretArb, { minLength: 1, maxLength: 5 }), textArb, (secrets, glue) => {
        const out = createMasker(secrets).maskString(secrets.join(glue));
        for (const s of secrets) expect(out).not.toContain(s);
      }),
    );
  });

  it('never leaves the base64 or URL-encoded form of a secret', () => {
    fc.assert(
      fc.property(secretArb, textArb, textArb, (secret, a, b) => {
        const m = createMasker([secret]);
        const encoded = Buffer.from(secret, 'utf8').toString('base64').replace(/=+$/, '');
        expect(m.maskString(`${a} ${encoded} ${b}`)).not.toContain(encoded);
        const component = encodeURIComponent(secret);
        expect(m.maskString(a + component + b)).not.toContain(component);
      }),
    );
  });

  it('never leaves a secret anywhere in a JSON value', () => {
    fc.assert(
      fc.property(secretArb, fc.jsonValue(), fc.array(fc.nat()), (secret, json, where) => {
        const v = plant(json, secret, where);
        const out = createMasker([secret]).maskValue(v);
        expect(strings(out).some((s) => s.includes(secret))).toBe(false);
      }),
    );
  });

  it('leaves strings over a disjoint alphabet unchanged', () => {
    const secret = 'qqqq-zzzz-1234';
    const m = createMasker([secret]);
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', 'c', ' ', '.', ':', '\n', 'é') }), (s) => {
        expect(m.maskString(s)).toBe(s);
      }),
    );
  });
});

/** Puts `secret` into a JSON value: inside a string, as a key, or wrapping it, steered by `where`. */
function plant(v: unknown, secret: string, where: number[]): unknown {
  const step = where[0] ?? 0;
  const rest = where.slice(1);
  if (Array.isArray(v) && v.length) {
    const copy = [...v];
    copy[step % v.length] = plant(copy[step % v.length], secret, rest);
    return copy;
  }
  if (v !== null && typeof v === 'object' && Object.keys(v).length) {
    const keys = Object.keys(v);
    const key = keys[step % keys.length]!;
    return step % 3 === 0 ? { ...v, [`k${secret}`]: 1 } : { ...v, [key]: plant((v as Record<string, unknown>)[key], secret, rest) };
  }
  if (typeof v === 'string') return `${v.slice(0, step % (v.length + 1))}${secret}${v.slice(step % (v.length + 1))}`;
  return { value: v, note: `x${secret}x` };
}

/** Every string in a value, keys included. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [k, ...strings(x)]);
  return [];
}
