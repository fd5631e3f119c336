/**
 * `runwarden tokens add <name> --role R`, `tokens list`, `tokens revoke <name>`: the API bearer
 * tokens of the deployment config's tokens file (`tokens: { file }` in runwarden.yaml, or
 * `--file`). Only each token's SHA-256 is stored; `add` prints the token once. A running `serve`
 * picks up the change within a second.
 */
import type { Command } from 'commander';
import { ROLES } from '../../lifecycle/vocabulary.js';
import { action, commonOptions, printJson, withCommon } from '../common.js';

/** The tokens file: `--file`, else the config's `tokens.file`, else a usage error saying what to add. */
async function tokensFile(opts: Record<string, unknown>): Promise<string> {
  const { resolve } = await import('node:path');
  if (opts.file) return resolve(String(opts.file));
  const common = commonOptions(opts);
  const [{ RunwardenError }, { configuredTokensFile }] = await Promise.all([import('../../errors.js'), import('../../config/tokens.js')]);
  const found = configuredTokensFile(common.config);
  if (found.file) return found.file;
  throw new RunwardenError(
    'USAGE',
    `${found.config ? `${found.config} names no` : 'no runwarden.yaml here, so no'} tokens file is named; add \`tokens: { file: ./tokens.yaml }\` to ${found.config ?? 'runwarden.yaml'} (or pass --file <path>)`,
  );
}

export function register(program: Command): void {
  const tokens = program.command('tokens').description('manage the API bearer tokens (hashed at rest in the tokens file)');
  const withFile = (cmd: Command) => withCommon(cmd).option('--file <path>', "the tokens file (default: runwarden.yaml's tokens.file)");
  withFile(
    tokens
      .command('add <name>')
      .description('create a token for <name>; prints it once (only its hash is kept)')
      .requiredOption('--role <role>', `what it may do: ${ROLES.join(', ')}`),
  ).action(
    action(async (name: string, opts: Record<string, unknown>) => {
      const { RunwardenError } = await import('../../errors.js');
      const role = String(opts.role);
      if (!(ROLES as readonly string[]).includes(role)) throw new RunwardenError('USAGE', `--role must be one of ${ROLES.join(', ')}; got ${role}`);
      const { addApiToken } = await import('../../config/tokens.js');
      const file = await tokensFile(opts);
      const { token, entry } = addApiToken(file, name, role as (typeof ROLES)[number]);
      if (opts.json) printJson({ name: entry.name, role: entry.role, token, file });
      else {
        process.stdout.write(`${token}\n`);
        process.stderr.write(`runwarden: token ${entry.name} (${entry.role}) added to ${file}; it is shown only now: keep it somewhere safe\n`);
      }
    }),
  );
  withFile(tokens.command('list').description('list the tokens: name and role (never the token)')).action(
    action(async (opts: Record<string, unknown>) => {
      const { readTokensFileSync } = await import('../../config/tokens.js');
      const file = await tokensFile(opts);
      const list = readTokensFileSync(file).map((t) => ({ name: t.name, role: t.role }));
      if (opts.json) printJson(list);
      else if (!list.length) process.stdout.write(`no tokens in ${file}\n`);
      else {
        const width = Math.max(4, ...list.map((t) => t.name.length));
        process.stdout.write(`${['NAME'.padEnd(width) + '  ROLE', ...list.map((t) => `${t.name.padEnd(width)}  ${t.role}`)].join('\n')}\n`);
      }
    }),
  );
  withFile(tokens.command('revoke <name>').description('remove the token of <name>; a running serve refuses it within a second')).action(
    action(async (name: string, opts: Record<string, unknown>) => {
      const { revokeApiToken } = await import('../../config/tokens.js');
      const file = await tokensFile(opts);
      const entry = revokeApiToken(file, name);
      if (opts.json) printJson({ name: entry.name, role: entry.role, revoked: true });
      else process.stdout.write(`revoked ${entry.name} (${entry.role})\n`);
    }),
  );
}
