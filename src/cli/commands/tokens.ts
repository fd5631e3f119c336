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

const ACTIONS = ['add', 'list', 'revoke'] as const;

export function register(program: Command): void {
  withCommon(
    program
      .command('tokens <action> [name]')
      .description('manage the API bearer tokens: `add <name> --role R` (prints the token once; only its hash is kept), `list`, `revoke <name>`')
      .option('--role <role>', `with add: what the token may do (${ROLES.join(', ')})`)
      .option('--file <path>', "the tokens file (default: runwarden.yaml's tokens.file)"),
  ).action(
    action(async (what: string, name: string | undefined, opts: Record<string, unknown>) => {
      const [{ RunwardenError }, tokens] = await Promise.all([import('../../errors.js'), import('../../config/tokens.js')]);
      if (!(ACTIONS as readonly string[]).includes(what)) throw new RunwardenError('USAGE', `tokens takes one of ${ACTIONS.join(', ')}; got ${what}`);
      if (what !== 'list' && !name) throw new RunwardenError('USAGE', `tokens ${what} needs the token's name: runwarden tokens ${what} <name>`);
      const file = await tokensFile(opts);
      if (what === 'add') {
        const role = opts.role === undefined ? undefined : String(opts.role);
        if (!role || !(ROLES as readonly string[]).includes(role)) throw new RunwardenError('USAGE', `tokens add needs --role, one of ${ROLES.join(', ')}${role ? `; got ${role}` : ''}`);
        const { token, entry } = tokens.addApiToken(file, name!, role as (typeof ROLES)[number]);
        if (opts.json) printJson({ name: entry.name, role: entry.role, token, file });
        else {
          process.stdout.write(`${token}\n`);
          process.stderr.write(`runwarden: token ${entry.name} (${entry.role}) added to ${file}; it is shown only now: keep it somewhere safe\n`);
        }
      } else if (what === 'list') {
        const list = tokens.readTokensFileSync(file).map((t) => ({ name: t.name, role: t.role }));
        if (opts.json) printJson(list);
        else if (!list.length) process.stdout.write(`no tokens in ${file}\n`);
        else {
          const width = Math.max(4, ...list.map((t) => t.name.length));
          process.stdout.write(`${[`${'NAME'.padEnd(width)}  ROLE`, ...list.map((t) => `${t.name.padEnd(width)}  ${t.role}`)].join('\n')}\n`);
        }
      } else {
        const entry = tokens.revokeApiToken(file, name!);
        if (opts.json) printJson({ name: entry.name, role: entry.role, revoked: true });
        else process.stdout.write(`revoked ${entry.name} (${entry.role}); a running serve refuses it within a second\n`);
      }
    }),
  );
}
