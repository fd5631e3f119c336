/**
 * What every command shares: the common options (interfaces.md, "Common options"), output in
 * human or `--json` form, and the mapping of errors to exit codes (0 ok, 1 refused, 2 usage).
 */
import type { Command } from 'commander';
import { isRunwardenError, formatProblem, RunwardenError } from '../errors.js';
import type { WorkRole } from '../lifecycle/vocabulary.js';
import type { Runtime, RuntimeOptions, RuntimePurpose } from '../runtime.js';

export interface CommonOptions {
  /** PostgreSQL URL or PGlite directory. */
  db: string;
  runbooks: string;
  json: boolean;
  config?: string;
}

/** Adds the common options to a command. */
export function withCommon(cmd: Command): Command {
  return cmd
    .option('--db <url-or-path>', 'PostgreSQL URL or embedded database directory (env RUNWARDEN_DB, DATABASE_URL)')
    .option('--runbooks <dir>', 'runbooks folder (env RUNWARDEN_RUNBOOKS)')
    .option('--json', 'one JSON document on stdout')
    .option('--config <file>', 'deployment config (env RUNWARDEN_CONFIG; default ./runwarden.yaml if present)');
}

/** Resolves the common options against the environment and defaults. */
export function commonOptions(opts: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): CommonOptions {
  const config = (opts.config as string | undefined) ?? env.RUNWARDEN_CONFIG;
  return {
    db: (opts.db as string | undefined) ?? env.RUNWARDEN_DB ?? env.DATABASE_URL ?? './.runwarden/db',
    runbooks: (opts.runbooks as string | undefined) ?? env.RUNWARDEN_RUNBOOKS ?? './runbooks',
    json: Boolean(opts.json),
    ...(config ? { config } : {}),
  };
}

/**
 * Says on stderr what is taking long (opening a new embedded database takes seconds), only
 * when stderr is a terminal: a person waiting wants to know, while a script or a CI log reading
 * stderr for errors should not get lines that depend on how busy the machine was.
 */
export function slowNotice(stream: Pick<NodeJS.WriteStream, 'isTTY' | 'write'> = process.stderr): ((what: string) => void) | undefined {
  return stream.isTTY ? (what) => void stream.write(`runwarden: ${what}…\n`) : undefined;
}

/** Opens the runtime for a command, with the slow notice (see openRuntime). */
export async function runtimeFor(common: CommonOptions, purpose: RuntimePurpose, more: Pick<RuntimeOptions, 'withRunbooks' | 'logger' | 'checkEnv' | 'waitForDatabase' | 'roles'> = {}): Promise<Runtime> {
  const { openRuntime } = await import('../runtime.js');
  const onSlow = slowNotice();
  return openRuntime({
    db: common.db,
    runbooks: common.runbooks,
    ...(common.config ? { config: common.config } : {}),
    purpose,
    ...more,
    ...(onSlow ? { onSlow } : {}),
  });
}

/** The help of `--roles` (work, serve). */
export const ROLES_HELP = 'the roles this worker serves, comma-separated: execution, verification, escalation, agent (default all); it holds only their secrets';

/** `--roles <list>` (work, serve) as the roles it names: every role when absent; a usage error for a name that is not one. */
export async function rolesOption(raw: unknown): Promise<WorkRole[]> {
  const { parseRoles } = await import('../orchestrator/roles.js');
  try {
    return parseRoles(raw === undefined ? undefined : String(raw));
  } catch (err) {
    throw new RunwardenError('USAGE', `--roles: ${(err as Error).message}`);
  }
}

/** True when human output may use colour (a terminal, and NO_COLOR unset). */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Thrown by a command to end with an exit code after it has printed what it had to say. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/**
 * Reports an error the way interfaces.md fixes: a clear message on stderr, or the JSON error on
 * stdout with `--json`. Returns the exit code.
 */
export function reportError(err: unknown, json: boolean): number {
  if (err instanceof ExitCode) return err.code;
  const e = isRunwardenError(err)
    ? err
    : new RunwardenError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
  if (json) {
    printJson(e.toJSON());
  } else {
    process.stderr.write(`runwarden: ${e.message}\n`);
    for (const p of e.problems) process.stderr.write(`  ${formatProblem(p)}\n`);
    if (e.code === 'INTERNAL' && err instanceof Error && err.stack && process.env.RUNWARDEN_DEBUG) {
      process.stderr.write(`${err.stack}\n`);
    }
  }
  return e.exitCode;
}

/** Wraps a command action: runs it, maps errors to exit codes, sets process.exitCode. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as Command;
    const json = Boolean(cmd.optsWithGlobals?.().json);
    try {
      await fn(...args);
    } catch (err) {
      process.exitCode = reportError(err, json);
    }
  };
}
