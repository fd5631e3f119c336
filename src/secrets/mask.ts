/**
 * Secret masking for everything runwarden stores or shows (ledger events, packets, logs, API
 * answers). Masks by value, not only by key: an API that echoes the request's headers in an
 * error body puts our token under a key nobody listed, so every known secret value is replaced
 * wherever it appears, also in the encoded forms an echo takes (base64, as in `Basic` auth or
 * webhook payloads; URL-encoded, as in a query string).
 */

/** What a masked value or occurrence becomes. */
export const MASK = '***';

/** Secret values shorter than this are not masked: masking `abc` everywhere would garble text. */
export const MIN_SECRET_LENGTH = 4;

/**
 * How deep `maskValue` walks. What lies deeper is replaced by TOO_DEEP: a masker that cannot
 * look at a value must not pass it on unmasked, nor overflow the stack on a pathological one.
 */
export const MAX_MASK_DEPTH = 200;
/** What a value nested deeper than MAX_MASK_DEPTH becomes. */
export const TOO_DEEP = '[nested too deep to show]';

/** Base64 forms shorter than this are too generic to mask without garbling unrelated text. */
const MIN_ENCODED_LENGTH = 8;

export interface Masker {
  /** `s` with every occurrence of a known secret (in any recognised form) replaced by `***`. */
  maskString(s: string): string;
  /**
   * A deep copy of `v` with strings masked by value, object keys too, and every string under a
   * secret-looking key (see `isSecretKey`) replaced whole. Plain objects, arrays and errors are
   * copied; numbers, booleans and other objects (dates, buffers) are returned as they are.
   * Objects and arrays nested deeper than MAX_MASK_DEPTH become TOO_DEEP.
   */
  maskValue<T>(v: T): T;
}

const SECRET_KEYS = new Set(['authorization', 'proxyauthorization', 'password', 'passwd', 'token', 'secret', 'apikey', 'cookie', 'setcookie']);

/**
 * True for keys whose values are credentials whatever they hold: authorization, password, token,
 * secret, apiKey / api_key, cookie, set-cookie, and names ending in token, secret, password or
 * apikey (`accessToken`, `client_secret`, `x-api-key`). Case and `-` / `_` are ignored. Counts
 * such as `tokens` or `tokenUsage` are not secret keys.
 */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, '');
  return SECRET_KEYS.has(k) || /(token|secret|password|apikey)$/.test(k);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const b64 = (buf: Buffer): string => buf.toString('base64');
const unpad = (s: string): string => s.replace(/=+$/, '');
const urlSafe = (s: string): string => s.replace(/\+/g, '-').replace(/\//g, '_');

/**
 * The runs of base64 that encode `secret` wherever it sits in a longer encoded text: for each of
 * the three byte alignments, the characters that depend on the secret's bytes alone.
 */
function base64Cores(secret: Buffer): string[] {
  const out: string[] = [];
  for (let k = 0; k < 3; k++) {
    const encoded = b64(Buffer.concat([Buffer.alloc(k), secret]));
    const skip = [0, 2, 3][k]!; // leading characters that mix in the k bytes before it
    const full = Math.floor((k + secret.length) / 3) * 4; // trailing partial group mixes what follows
    const core = encoded.slice(skip, full);
    if (core.length >= MIN_ENCODED_LENGTH) out.push(core, urlSafe(core));
  }
  return out;
}

/** Every literal form of a secret the masker looks for. */
function formsOf(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = [secret, JSON.stringify(secret).slice(1, -1)];
  const component = encodeURIComponent(secret);
  forms.push(component, component.replace(/%20/g, '+'), encodeURI(secret));
  // Percent-encoding is case-insensitive; some encoders write %2f.
  forms.push(component.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  const whole = b64(bytes);
  if (unpad(whole).length >= MIN_ENCODED_LENGTH - 2) forms.push(whole, unpad(whole), urlSafe(unpad(whole)));
  forms.push(...base64Cores(bytes));
  return forms;
}

/** Candidate base64 runs: long enough to hold an encoded secret. */
const BASE64_RUN = /[A-Za-z0-9+/_-]{8,}={0,2}/g;

/** A credential after an auth scheme, in text such as an echoed `Authorization: Bearer ...` line. */
const AUTH_SCHEME = /\b(Bearer|Basic)(\s+)([A-Za-z0-9._~+/-]{8,}=*)/gi;

/**
 * Whether the word after `Bearer` / `Basic` is a credential rather than prose ("Basic
 * information"): Basic must decode to printable `user:password`; a bearer token has 16+
 * characters or a digit or punctuation.
 */
function isCredential(scheme: string, word: string): boolean {
  if (scheme.toLowerCase() === 'basic') return /^[\x20-\x7e]*:[\x20-\x7e]*$/.test(Buffer.from(word, 'base64').toString('latin1'));
  return word.length >= 16 || /[0-9._~+/=-]/.test(word);
}

/** Builds a masker for these secret values (those shorter than 4 characters are ignored). */
export function createMasker(secretValues: readonly string[]): Masker {
  const secrets = [...new Set(secretValues)].filter((s) => s.length >= MIN_SECRET_LENGTH);
  const forms = [...new Set(secrets.flatMap(formsOf))].sort((a, b) => b.length - a.length);
  // Longest first: at each position the alternation takes the first that matches, so a secret
  // that contains another is masked whole.
  const literal = forms.length ? new RegExp(forms.map(escapeRegExp).join('|'), 'g') : undefined;

  const secretBytes = secrets.map((x) => Buffer.from(x, 'utf8'));
  // A run shorter than the encoding of the shortest secret cannot hold one: skip decoding it.
  const minRun = Math.max(MIN_ENCODED_LENGTH, Math.floor((Math.min(...secretBytes.map((b) => b.length)) * 4) / 3));

  /** True when a base64 run decodes (at some alignment) to bytes holding a secret. */
  const encodesSecret = (run: string): boolean => {
    // Four starting points, because text glued before the encoding shifts its 4-character groups.
    for (let i = 0; i < 4 && run.length - i >= MIN_ENCODED_LENGTH; i++) {
      const bytes = Buffer.from(run.slice(i), 'base64');
      if (secretBytes.some((b) => bytes.includes(b))) return true;
    }
    return false;
  };

  function maskString(s: string): string {
    let out = s;
    // Repeat until stable: a mask can butt against text that completes another occurrence. Each
    // change shortens the string (3 characters replace at least 4), so this ends.
    for (let prev = ''; prev !== out; ) {
      prev = out;
      // Whole encoded runs first, so `Basic <base64>` becomes one mask rather than leftovers
      // around a masked core.
      if (secretBytes.length) out = out.replace(BASE64_RUN, (run) => (run.length >= minRun && encodesSecret(run) ? MASK : run));
      if (literal) out = out.replace(literal, MASK);
      out = out.replace(AUTH_SCHEME, (m, scheme: string, space: string, word: string) =>
        isCredential(scheme, word) ? `${scheme}${space}${MASK}` : m,
      );
    }
    return out;
  }

  /** Every string beneath a secret key becomes the mask; other leaves stay. */
  function maskAll(v: unknown, seen: WeakMap<object, unknown>, depth: number): unknown {
    if (typeof v === 'string') return MASK;
    return walk(v, seen, () => MASK, depth);
  }

  function walk(v: unknown, seen: WeakMap<object, unknown>, str: (s: string) => string = maskString, depth = 0): unknown {
    if (typeof v === 'string') return str(v);
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return seen.get(v);
    if (depth >= MAX_MASK_DEPTH) return TOO_DEEP;
    const proto = Object.getPrototypeOf(v) as object | null;
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      seen.set(v, out);
      for (const item of v) out.push(walk(item, seen, str, depth + 1));
      return out;
    }
    const isError = v instanceof Error;
    if (proto !== Object.prototype && proto !== null && !isError) return v;
    const out: Record<string, unknown> = Object.create(proto) as Record<string, unknown>;
    seen.set(v, out);
    // Errors keep message and stack as own non-enumerable properties; copy those too.
    const enumerable = new Set(Object.keys(v));
    for (const key of isError ? Object.getOwnPropertyNames(v) : enumerable) {
      const value = (v as Record<string, unknown>)[key];
      const masked = str === maskString && isSecretKey(key) ? maskAll(value, seen, depth + 1) : walk(value, seen, str, depth + 1);
      // defineProperty, not assignment: a parsed `"__proto__"` key must stay a plain key.
      Object.defineProperty(out, isError ? key : maskString(key), {
        value: masked,
        writable: true,
        configurable: true,
        enumerable: enumerable.has(key),
      });
    }
    return out;
  }

  return {
    maskString,
    maskValue: <T>(v: T): T => walk(v, new WeakMap()) as T,
  };
}
