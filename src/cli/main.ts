/**
 * The `runwarden` command line: a thin adapter over the library. Each command lives in its own
 * file and registers itself here; nothing in the CLI decides policy.
 *
 * Start-up is paid on every command, so only what the command needs is loaded: the command
 * modules import nothing heavy at their top (the database drivers, the model client, the HTTP
 * server and the runbook compiler are imported inside their actions), and a run of one known
 * command registers that command alone. `--help`, an unknown command and the docs generator
 * register them all.
 */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

type CommandModule = { register(program: Command): void };
type Loader = () => Promise<CommandModule>;

const actions: Loader = () => import('./commands/actions.js');
const schedules: Loader = () => import('./commands/schedules.js');

/**
 * Every command name with the module that registers it, in the order `--help` lists them. A
 * test holds this table to what the modules register.
 */
export const COMMAND_MODULES: ReadonlyArray<readonly [string, Loader]> = [
  ['validate', () => import('./commands/validate.js')],
  ['schema', () => import('./commands/schema.js')],
  ['packet', () => import('./commands/packet.js')],
  ['work', () => import('./commands/work.js')],
  ...(['approve', 'deny', 'takeover', 'resume', 'retry', 'skip', 'rollback', 'complete', 'fail', 'cancel', 'callback'] as const).map(
    (name) => [name, actions] as const,
  ),
  ['submit', () => import('./commands/submit.js')],
  ['tasks', () => import('./commands/tasks.js')],
  ['audit', () => import('./commands/audit.js')],
  ['show', () => import('./commands/show.js')],
  ['demo', () => import('./commands/demo.js')],
  ['sim', () => import('./commands/sim.js')],
  ['init', () => import('./commands/init.js')],
  ['completion', () => import('./commands/completion.js')],
  ['schedules', schedules],
  ['schedule', schedules],
];

/** Commands that speak of the others (completion lists them, the demo offers them next), so get them all. */
const NEEDS_ALL: ReadonlySet<string> = new Set(['completion', 'demo']);

/** The program with no commands yet: name, version and how usage errors read. */
function baseProgram(): Command {
  return (
    new Command('runwarden')
      .description('Carries routine operational tasks to a verified end, or stops safely and hands over.')
      .version(pkg.version)
      // One line pointing to the help, not the whole help after every typo.
      .showHelpAfterError('(run `runwarden --help` for the commands, `runwarden <command> --help` for one command)')
      .exitOverride()
  );
}

/** Registers the modules, each once (the operator actions share one). */
async function registerAll(program: Command, loaders: Loader[]): Promise<Command> {
  for (const load of [...new Set(loaders)]) (await load()).register(program);
  // Subcommands inherit the short usage-error hint and the exit override.
  return program;
}

/** The whole program, every command registered (help, docs, completion). */
export async function buildProgram(): Promise<Command> {
  return registerAll(baseProgram(), COMMAND_MODULES.map(([, load]) => load));
}

/** The program for one run: only the named command when it is one, else all of them. */
async function programFor(argv: string[]): Promise<Command> {
  const rest = argv.slice(2);
  const first = rest.find((a) => !a.startsWith('-'));
  const known = COMMAND_MODULES.find(([name]) => name === first);
  // `runwarden --version` needs no command at all; a flag before the command name is help or a typo.
  if (rest.length && rest.every((a) => a === '--version' || a === '-V')) return baseProgram();
  if (!known || argv[2] !== first || NEEDS_ALL.has(known[0])) return buildProgram();
  return registerAll(baseProgram(), [known[1]]);
}

let guarded = false;

/**
 * A reader that goes away early (`runwarden show ... | head`) closes the pipe: writing on is
 * pointless, and an EPIPE stack trace would be noise. Ends the process quietly instead, with the
 * exit code a shell gives a command killed by SIGPIPE's cousin: success for the part that was read.
 */
function guardPipes(): void {
  if (guarded) return;
  guarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
}

export async function main(argv: string[]): Promise<void> {
  guardPipes();
  const program = await programFor(argv);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; anything else commander refuses is a usage error.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    throw err;
  }
}
