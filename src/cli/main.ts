/**
 * The `runwarden` command line: a thin adapter over the library. Each command lives in its own
 * file and registers itself here; nothing in the CLI decides policy.
 */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

/** The command modules, each exporting `register(program)`. */
const COMMANDS: Array<() => Promise<{ register(program: Command): void }>> = [
  () => import('./commands/validate.js'),
  () => import('./commands/schema.js'),
  () => import('./commands/packet.js'),
  () => import('./commands/work.js'),
  () => import('./commands/actions.js'),
  () => import('./commands/submit.js'),
  () => import('./commands/tasks.js'),
  () => import('./commands/show.js'),
  () => import('./commands/demo.js'),
];

export async function buildProgram(): Promise<Command> {
  const program = new Command('runwarden')
    .description('Carries routine operational tasks to a verified end, or stops safely and hands over.')
    .version(pkg.version)
    .showHelpAfterError()
    .exitOverride();
  for (const load of COMMANDS) (await load()).register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram();
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
