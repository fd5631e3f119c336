import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatProblem, isRunwardenError, type RunwardenError } from '../../src/errors.js';
import { deploymentConfig, hashApiToken, loadConfig, PAGERDUTY_EVENTS_URL } from '../../src/config/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rw-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const WHSEC = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** Runs loadConfig expecting a refusal; returns the error with its problems formatted. */
async function refusal(opts: Parameters<typeof loadConfig>[0]): Promise<{ err: RunwardenError; lines: string[] }> {
  const err = await loadConfig(opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isRunwardenError(err)) throw new Error(`expected a RunwardenError, got ${String(err)}`);
  expect(err.code).toBe('CONFIG_INVALID');
  return { err, lines: err.problems.map(formatProblem) };
}

const EXAMPLE = `env: [SERVICE_API_URL, CHANGE_FREEZE]
secrets: { SERVICE_API_TOKEN: { env: SVC_TOKEN } }
sinks:
  oncall-hook: { type: webhook, url: "https://hooks.example/rw", secret: { env: HOOK_SECRET } }
  pager:       { type: pagerduty, routingKey: { env: PD_KEY } }
  chat:        { type: slack, url: { env: SLACK_URL } }
  archive:     { type: file, path: ./packets.jsonl }
routes:
  platform-oncall: [pager, chat]
  default: [oncall-hook, archive]
tokens: { file: ./tokens.yaml }
`;

const EXAMPLE_ENV = {
  SERVICE_API_URL: 'http://127.0.0.1:9999',
  SVC_TOKEN: 'svc-token-value',
  HOOK_SECRET: WHSEC,
  PD_KEY: 'pd-routing-key-1234',
  SLACK_URL: 'https://hooks.slack.com/services/T0/B0/XYZsecret',
  UNLISTED: 'not for runbooks',
};

describe('loadConfig', () => {
  it('gives an empty config when there is no default file', async () => {
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.source).toBeUndefined();
    expect(config.env).toEqual({});
    expect(config.secrets).toEqual({});
    expect(config.sinks).toEqual({});
    expect(config.sinksForRoute('anything')).toEqual([]);
    expect(config.secretValues()).toEqual([]);
  });

  it('refuses an explicit path that does not exist', async () => {
    const { err } = await refusal({ cwd: dir, path: 'nope.yaml', env: {} });
    expect(err.problems[0]!.message).toMatch(/does not exist/);
  });

  it('treats an empty file as an empty config', async () => {
    await write('runwarden.yaml', '# nothing yet\n');
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.source).toBe(join(dir, 'runwarden.yaml'));
    expect(config.sinks).toEqual({});
  });

  it('loads the interfaces.md example with every secret resolved', async () => {
    await write('runwarden.yaml', EXAMPLE);
    await write('tokens.yaml', `tokens:\n  - { name: ops-bot, role: intake, sha256: ${hashApiToken('t-intake')} }\n`);
    const config = await loadConfig({ cwd: dir, env: EXAMPLE_ENV });
    // Only allow-listed variables that are set.
    expect(config.env).toEqual({ SERVICE_API_URL: 'http://127.0.0.1:9999' });
    expect(config.secrets).toEqual({ SERVICE_API_TOKEN: 'svc-token-value' });
    expect(config.sinks).toEqual({
      'oncall-hook': { name: 'oncall-hook', type: 'webhook', url: 'https://hooks.example/rw', secret: WHSEC },
      pager: { name: 'pager', type: 'pagerduty', routingKey: 'pd-routing-key-1234', url: PAGERDUTY_EVENTS_URL },
      chat: { name: 'chat', type: 'slack', url: EXAMPLE_ENV.SLACK_URL },
      archive: { name: 'archive', type: 'file', path: join(dir, 'packets.jsonl') },
    });
    expect(config.sinksForRoute('platform-oncall')).toEqual(['pager', 'chat']);
    expect(config.sinksForRoute('billing-oncall')).toEqual(['oncall-hook', 'archive']);
    expect(config.tokens).toEqual([{ name: 'ops-bot', role: 'intake', sha256: hashApiToken('t-intake') }]);
    expect(new Set(config.secretValues())).toEqual(
      new Set(['svc-token-value', WHSEC, 'pd-routing-key-1234', EXAMPLE_ENV.SLACK_URL]),
    );
  });

  it('resolves an explicit path relative to cwd, and file references relative to the config file', async () => {
    await rm(dir, { recursive: true });
    dir = await mkdtemp(join(tmpdir(), 'rw-config-'));
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'etc'));
    await write('etc/key.txt', 'from-a-file\n');
    await write('etc/rw.yaml', 'secrets:\n  KEY: { file: key.txt }\nsinks:\n  a: { type: file, path: out.jsonl }\nroutes: { default: [a] }\n');
    const config = await loadConfig({ cwd: dir, path: 'etc/rw.yaml', env: {} });
    expect(config.secrets.KEY).toBe('from-a-file');
    expect(config.sinks.a).toEqual({ name: 'a', type: 'file', path: join(dir, 'etc', 'out.jsonl') });
  });

  it('marks values read through references as secret, even on fields that are not credentials', async () => {
    await write('runwarden.yaml', 'sinks:\n  hook: { type: webhook, url: { env: HOOK_URL }, secret: ' + WHSEC + ' }\n');
    const config = await loadConfig({ cwd: dir, env: { HOOK_URL: 'https://private.example/hook?k=abc' } });
    expect(config.secretValues()).toEqual(expect.arrayContaining([WHSEC, 'https://private.example/hook?k=abc']));
  });

  it('prints safely: toJSON replaces secret values', async () => {
    await write('runwarden.yaml', EXAMPLE.replace('tokens: { file: ./tokens.yaml }\n', ''));
    const config = await loadConfig({ cwd: dir, env: EXAMPLE_ENV });
    const printed = JSON.stringify(config);
    for (const secret of config.secretValues()) expect(printed).not.toContain(secret);
    expect(printed).toContain('https://hooks.example/rw');
  });
});

describe('loadConfig refusals', () => {
  it('lists every problem at once, each at its file:line:col', async () => {
    await write(
      'runwarden.yaml',
      [
        'env: [GOOD_NAME, 9bad]', // 1
        'secrets:', // 2
        '  TOKEN: { env: MISSING_VAR }', // 3
        '  OTHER: { evn: X }', // 4
        'sinks:', // 5
        '  pager: { type: pagerduty, routingKey: k, rul: x }', // 6
        '  chat: { type: slak, url: "https://x" }', // 7
        '  hook: { type: webhook, url: "not a url", secret: "plain" }', // 8
        'routes:', // 9
        '  default: [pagr, hook]', // 10
        'rotues: {}', // 11
      ].join('\n'),
    );
    const { err, lines } = await refusal({ cwd: dir, env: {} });
    expect(lines).toEqual([
      'runwarden.yaml:1:18: env[1]: must be a variable name: letters, digits and _, not starting with a digit',
      'runwarden.yaml:3:17: secrets.TOKEN.env: environment variable MISSING_VAR is not set',
      'runwarden.yaml:4:10: secrets.OTHER: give exactly one of env or file',
      'runwarden.yaml:4:12: secrets.OTHER.evn: unknown key "evn" (did you mean "env"?); allowed: env, file, roles',
      'runwarden.yaml:6:44: sinks.pager.rul: unknown key "rul" (did you mean "url"?); allowed: type, routingKey, url',
      'runwarden.yaml:7:17: sinks.chat.type: unknown type "slak" (did you mean "slack"?); expected one of webhook, pagerduty, slack, file',
      'runwarden.yaml:8:31: sinks.hook.url: must be an http(s) URL',
      'runwarden.yaml:8:52: sinks.hook.secret: must be a Standard Webhooks secret: whsec_ followed by base64',
      'runwarden.yaml:10:13: routes.default[0]: sink "pagr" is not defined under sinks (did you mean "pager"?)',
      'runwarden.yaml:11:1: rotues: unknown key "rotues" (did you mean "routes"?); allowed: env, secrets, sinks, routes, tokens, intake',
    ]);
    expect(err.message).toBe('deployment config runwarden.yaml is invalid: 10 problems');
  });

  it('names a missing required field at its parent', async () => {
    await write('runwarden.yaml', 'sinks:\n  chat: { type: slack }\n  other: { url: "https://x" }\n');
    const { lines } = await refusal({ cwd: dir, env: {} });
    expect(lines).toEqual([
      'runwarden.yaml:2:3: sinks.chat.url: is required',
      'runwarden.yaml:3:3: sinks.other.type: type is required; expected one of webhook, pagerduty, slack, file',
    ]);
  });

  it('reports YAML syntax errors with their position', async () => {
    await write('runwarden.yaml', 'sinks:\n  a: { type: file\nroutes: [\n');
    const { err } = await refusal({ cwd: dir, env: {} });
    expect(err.problems.length).toBeGreaterThan(0);
    expect(err.problems[0]).toMatchObject({ file: 'runwarden.yaml', line: expect.any(Number), col: expect.any(Number) });
  });

  it('reports duplicate keys', async () => {
    await write('runwarden.yaml', 'routes: {}\nroutes: {}\n');
    const { err } = await refusal({ cwd: dir, env: {} });
    expect(err.problems[0]!.line).toBe(2);
  });

  it('refuses a top level that is not a map', async () => {
    await write('runwarden.yaml', '- a\n- b\n');
    const { lines } = await refusal({ cwd: dir, env: {} });
    expect(lines[0]).toMatch(/^runwarden\.yaml:1:1: .*expected object/);
  });

  it('reports missing and empty secret files and empty variables', async () => {
    await write('empty.txt', '');
    await write('runwarden.yaml', 'secrets:\n  A: { file: nope.txt }\n  B: { file: empty.txt }\n  C: { env: EMPTY }\n');
    const { lines } = await refusal({ cwd: dir, env: { EMPTY: '' } });
    expect(lines).toEqual([
      expect.stringMatching(/^runwarden\.yaml:2:14: secrets\.A\.file: file .*nope\.txt does not exist$/),
      expect.stringMatching(/^runwarden\.yaml:3:14: secrets\.B\.file: file .*empty\.txt is empty$/),
      'runwarden.yaml:4:13: secrets.C.env: environment variable EMPTY is empty',
    ]);
  });

  it('never quotes a value read from a reference', async () => {
    await write('runwarden.yaml', 'sinks:\n  chat: { type: slack, url: { env: SLACK_URL } }\n');
    const { err, lines } = await refusal({ cwd: dir, env: { SLACK_URL: 'xoxb-not-a-url-s3cret' } });
    expect(lines).toEqual(['runwarden.yaml:2:36: sinks.chat.url.env: the value it refers to must be an http(s) URL']);
    expect(JSON.stringify(err.toJSON())).not.toContain('s3cret');
  });

  it('refuses a tokens file that is missing or malformed, pointing into it', async () => {
    await write('runwarden.yaml', 'tokens: { file: tokens.yaml }\n');
    let r = await refusal({ cwd: dir, env: {} });
    expect(r.lines).toEqual([expect.stringMatching(/^runwarden\.yaml:1:17: tokens\.file: tokens file .*tokens\.yaml does not exist$/)]);

    const h = hashApiToken('a');
    await write(
      'tokens.yaml',
      ['tokens:', `  - { name: a, role: operator, sha256: ${h} }`, `  - { name: b, role: boss, sha256: nothex }`, `  - { name: a, role: viewer, sha256: ${h}, note: x }`].join('\n'),
    );
    r = await refusal({ cwd: dir, env: {} });
    expect(r.lines).toEqual([
      'tokens.yaml:3:22: tokens[1].role: Invalid option: expected one of "intake"|"viewer"|"operator"|"admin"',
      'tokens.yaml:3:36: tokens[1].sha256: must be 64 hex digits (the SHA-256 of the token; see hashApiToken)',
      'tokens.yaml:4:104: tokens[2].note: unknown key "note"; allowed: name, role, sha256',
    ]);

    await write('tokens.yaml', ['tokens:', `  - { name: a, role: operator, sha256: ${h} }`, `  - { name: a, role: viewer, sha256: ${h.toUpperCase()} }`].join('\n'));
    r = await refusal({ cwd: dir, env: {} });
    expect(r.lines).toEqual([
      'tokens.yaml:3:13: tokens[1].name: name "a" is listed twice',
      'tokens.yaml:3:38: tokens[1].sha256: the same token is listed twice',
    ]);
  });
});

describe('deploymentConfig', () => {
  it('falls back to the default route, and to none without one', () => {
    const withDefault = deploymentConfig({ routes: { a: ['x'], default: ['y'] } });
    expect(withDefault.sinksForRoute('a')).toEqual(['x']);
    expect(withDefault.sinksForRoute('b')).toEqual(['y']);
    expect(deploymentConfig({ routes: { a: ['x'] } }).sinksForRoute('b')).toEqual([]);
  });

  it('hands out copies, so a caller cannot change the routes', () => {
    const config = deploymentConfig({ routes: { a: ['x'] } });
    config.sinksForRoute('a').push('y');
    expect(config.sinksForRoute('a')).toEqual(['x']);
  });
});

describe('loadConfig for reading commands (secrets: if-set)', () => {
  it('leaves unset secrets and sink credentials unresolved instead of refusing, and still masks what is set', async () => {
    await write('runwarden.yaml', EXAMPLE.replace('tokens: { file: ./tokens.yaml }\n', ''));
    // Strict: every missing variable is a problem.
    const strict = await refusal({ cwd: dir, env: {} });
    expect(strict.lines.join('\n')).toMatch(/secrets\.SERVICE_API_TOKEN\.env: environment variable SVC_TOKEN is not set/);
    const config = await loadConfig({ cwd: dir, env: { PD_KEY: 'pd-routing-key-1234' }, secrets: 'if-set' });
    expect(config.secrets).toEqual({});
    expect(config.unresolved).toEqual(expect.arrayContaining(['secrets.SERVICE_API_TOKEN', 'sinks.oncall-hook.secret', 'sinks.chat.url']));
    // Kept by name, so packets can still be queued for them; the set value is masked.
    expect(Object.keys(config.sinks).sort()).toEqual(['archive', 'chat', 'oncall-hook', 'pager']);
    expect(config.sinks.pager).toMatchObject({ routingKey: 'pd-routing-key-1234' });
    expect(config.secretValues()).toEqual(['pd-routing-key-1234']);
  });

  it('still refuses what is wrong, not merely unset: a typo, a malformed secret', async () => {
    await write('runwarden.yaml', `sinks:\n  hook: { type: webhook, url: "https://h.example", secret: not-whsec }\nrotues: {}\n`);
    const err = await loadConfig({ cwd: dir, env: {}, secrets: 'if-set' }).then(() => undefined, (e: unknown) => e);
    expect(isRunwardenError(err) && err.problems.map(formatProblem)).toEqual([
      expect.stringMatching(/sinks\.hook\.secret: must be a Standard Webhooks secret/),
      expect.stringMatching(/rotues: unknown key/),
    ]);
  });
});

describe('intake limits and env names', () => {
  it('defaults to 256 KiB and 32 levels, and reads sizes with units', async () => {
    expect((await loadConfig({ cwd: dir, env: {} })).intake).toEqual({ maxRequestBytes: 262144, maxDepth: 32 });
    await write('runwarden.yaml', 'intake: { maxRequestSize: 1MiB, maxDepth: 8 }\n');
    expect((await loadConfig({ cwd: dir, env: {} })).intake).toEqual({ maxRequestBytes: 1048576, maxDepth: 8 });
    await write('runwarden.yaml', 'intake: { maxRequestSize: 300kB }\n');
    expect((await loadConfig({ cwd: dir, env: {} })).intake).toEqual({ maxRequestBytes: 300000, maxDepth: 32 });
    await write('runwarden.yaml', 'intake: { maxRequestSize: lots, maxDepht: 3 }\n');
    const { lines } = await refusal({ cwd: dir, env: {} });
    expect(lines).toEqual([
      expect.stringMatching(/intake\.maxRequestSize: expected a size such as 262144, 256KiB or 1MiB/),
      expect.stringMatching(/intake\.maxDepht: unknown key "maxDepht" \(did you mean "maxDepth"\?\); allowed: maxRequestSize, maxDepth/),
    ]);
  });

  it('keeps every listed env name, set or not, beside the values of those that are set', async () => {
    await write('runwarden.yaml', 'env: [OPS_API_URL, CHANGE_FREEZE]\n');
    const config = await loadConfig({ cwd: dir, env: { OPS_API_URL: 'http://x' } });
    expect(config.env).toEqual({ OPS_API_URL: 'http://x' });
    expect(config.envNames).toEqual(['OPS_API_URL', 'CHANGE_FREEZE']);
  });
});
