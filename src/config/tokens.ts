/**
 * API bearer tokens. Only their SHA-256 is stored (the tokens file lists `{ name, role, sha256 }`),
 * so a leaked config or backup grants nothing; `hashApiToken` is how an operator makes an entry.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { RunwardenError } from '../errors.js';
import type { Role } from '../lifecycle/vocabulary.js';
import { TokensFile } from './schema.js';

/** A token the API accepts: who holds it and what it may do. */
export interface ApiToken {
  name: string;
  role: Role;
  /** Lower-case hex SHA-256 of the token. */
  sha256: string;
}

/** The hex SHA-256 of a token, as the tokens file stores it. */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * The entry a presented bearer token matches, or undefined. Compares digests in constant time so
 * response timing says nothing about how much of a guess was right.
 */
export function matchApiToken(tokens: readonly ApiToken[], presented: string): ApiToken | undefined {
  const digest = Buffer.from(hashApiToken(presented), 'hex');
  let match: ApiToken | undefined;
  for (const t of tokens) {
    // Every entry is compared, even after a match, to keep the time independent of the position.
    if (timingSafeEqual(digest, Buffer.from(t.sha256, 'hex')) && !match) match = t;
  }
  return match;
}

/** What the API asks of its tokens: the entry a presented token matches. */
export interface TokenStore {
  match(presented: string): ApiToken | undefined;
}

/** A store over a fixed list (tests, and a config whose tokens file is not to be watched). */
export function fixedTokenStore(tokens: readonly ApiToken[]): TokenStore {
  return { match: (presented) => matchApiToken(tokens, presented) };
}

/** How often a file-backed store looks whether the tokens file changed. Default 1s. */
export const TOKENS_RECHECK_MS = 1000;

/**
 * A store over the tokens file that picks up `tokens add` and `tokens revoke` while `serve`
 * runs: at most once per `recheckMs` it compares the file's mtime and size, and rereads it when
 * they changed. A file that stops parsing keeps the last good list (and says so once), so a
 * half-written edit cannot lock everyone out or let anyone in.
 */
export function fileTokenStore(
  path: string,
  initial: readonly ApiToken[],
  opts: { recheckMs?: number; onError?: (err: unknown) => void; now?: () => number } = {},
): TokenStore {
  const recheckMs = opts.recheckMs ?? TOKENS_RECHECK_MS;
  const now = opts.now ?? Date.now;
  let tokens = initial;
  let seen = statKey(path);
  let checkedAt = now();
  let broken = false;
  return {
    match(presented) {
      if (now() - checkedAt >= recheckMs) {
        checkedAt = now();
        const key = statKey(path);
        if (key !== seen) {
          seen = key;
          try {
            tokens = readTokensFileSync(path);
            broken = false;
          } catch (err) {
            if (!broken) opts.onError?.(err);
            broken = true;
          }
        }
      }
      return matchApiToken(tokens, presented);
    },
  };
}

function statKey(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return 'missing';
  }
}

/** The entries of a tokens file; a missing file has none. Throws CONFIG_INVALID when it does not validate. */
export function readTokensFileSync(path: string): ApiToken[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const parsed = TokensFile.safeParse(parseYaml(text) ?? {});
  if (!parsed.success) {
    throw new RunwardenError('CONFIG_INVALID', `tokens file ${path} does not validate`, {
      problems: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, file: path })),
    });
  }
  return parsed.data.tokens.map((t) => ({ ...t, sha256: t.sha256.toLowerCase() }));
}

/**
 * A new API token: `rwt_` and 32 random bytes in base64url (256 bits; the prefix makes a leaked
 * one easy to recognise in a secret scanner).
 */
export function generateApiToken(): string {
  return `rwt_${randomBytes(32).toString('base64url')}`;
}

/** Writes the list atomically (a temporary file renamed over it), readable by its owner only. */
function writeTokensFileSync(path: string, tokens: readonly ApiToken[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const header = '# runwarden API tokens: only SHA-256 hashes are kept here. Manage with `runwarden tokens add|list|revoke`.\n';
  const body = stringifyYaml({ tokens: tokens.map((t) => ({ name: t.name, role: t.role, sha256: t.sha256 })) });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, header + body, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * Adds a token named `name` with `role` to the tokens file (created when missing) and returns the
 * token itself: the only time it exists outside its holder. Refuses a name already listed.
 */
export function addApiToken(path: string, name: string, role: Role): { token: string; entry: ApiToken } {
  const tokens = readTokensFileSync(path);
  if (!name.trim()) throw new RunwardenError('USAGE', 'a token needs a name (who or what holds it)');
  if (tokens.some((t) => t.name === name)) {
    throw new RunwardenError('USAGE', `a token named ${name} already exists in ${path}; revoke it first (runwarden tokens revoke ${name}) or pick another name`);
  }
  const token = generateApiToken();
  const entry: ApiToken = { name, role, sha256: hashApiToken(token) };
  writeTokensFileSync(path, [...tokens, entry]);
  return { token, entry };
}

/** Removes the token named `name`; refuses a name not listed. Returns the removed entry. */
export function revokeApiToken(path: string, name: string): ApiToken {
  const tokens = readTokensFileSync(path);
  const entry = tokens.find((t) => t.name === name);
  if (!entry) {
    const names = tokens.map((t) => t.name);
    throw new RunwardenError('USAGE', `no token named ${name} in ${path}${names.length ? `; listed: ${names.join(', ')}` : ' (it lists none)'}`);
  }
  writeTokensFileSync(
    path,
    tokens.filter((t) => t !== entry),
  );
  return entry;
}

/**
 * The tokens file runwarden.yaml names (absolute), read without resolving the rest of the config:
 * `tokens add` must work before the file exists and without the worker's secrets. `config` is
 * the config path (default ./runwarden.yaml); `file` is undefined when it names none.
 */
export function configuredTokensFile(config?: string, cwd = process.cwd()): { config: string | undefined; file: string | undefined } {
  const path = resolve(cwd, config ?? 'runwarden.yaml');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && config === undefined) return { config: undefined, file: undefined };
    throw new RunwardenError('CONFIG_INVALID', `config file ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const data = parseYaml(text) as { tokens?: { file?: unknown } } | null;
  const file = data?.tokens?.file;
  return { config: path, file: typeof file === 'string' && file ? resolve(dirname(path), file) : undefined };
}
