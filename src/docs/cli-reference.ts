/**
 * The command line reference (docs/cli-reference.md), generated from the registered commander
 * program: what `runwarden` accepts is what the page lists, arguments, options and defaults
 * included. Commands the interface promises (interfaces.md) that are not registered yet are listed
 * apart as not built, so no page presents them as available.
 */
import { Command, type Option } from 'commander';
import { buildProgram } from '../cli/main.js';
import { withCommon } from '../cli/common.js';
import { SUBMIT_EXAMPLE } from '../cli/commands/submit.js';
import { taskRequestFields } from '../orchestrator/intake.js';
import { cell, code, generatedNotice, sentence, table } from './markdown.js';

/**
 * Every command interfaces.md promises, with its usage there and what it does. Only the ones the
 * program does not register show up (as not built yet); the registered ones speak for themselves.
 */
export const PROMISED_COMMANDS: Readonly<Record<string, { usage: string; does: string }>> = {
  validate: { usage: 'runwarden validate [paths...]', does: 'load and check runbooks' },
  schema: { usage: 'runwarden schema [runbook|packet|task]', does: 'print a JSON Schema' },
  submit: { usage: 'runwarden submit <file|->', does: 'intake one task request (JSON)' },
  work: { usage: 'runwarden work [--until-idle] [--concurrency N] [--worker-id ID] [--lease <duration>]', does: 'run a worker' },
  tasks: { usage: 'runwarden tasks [--state S] [--runbook R] [--limit N]', does: 'list tasks' },
  show: { usage: 'runwarden show <task>', does: 'one task: state, steps with status and attempts, context, ledger' },
  packet: { usage: 'runwarden packet <task> [--format json|md]', does: "the task's latest escalation packet" },
  approve: { usage: 'runwarden approve <task> --operator <name> --reason <text>', does: 'operator action' },
  deny: { usage: 'runwarden deny <task> --operator <name> --reason <text>', does: 'operator action' },
  takeover: { usage: 'runwarden takeover <task> --operator <name> --reason <text>', does: 'operator action' },
  resume: { usage: 'runwarden resume <task> --operator <name> --reason <text>', does: 'operator action' },
  retry: { usage: 'runwarden retry <task> --operator <name> --reason <text>', does: 'operator action' },
  skip: { usage: 'runwarden skip <task> --operator <name> --reason <text>', does: 'operator action' },
  rollback: { usage: 'runwarden rollback <task> --operator <name> --reason <text>', does: 'operator action' },
  complete: { usage: 'runwarden complete <task> --operator <name> --reason <text>', does: 'operator action' },
  fail: { usage: 'runwarden fail <task> --operator <name> --reason <text>', does: 'operator action' },
  cancel: { usage: 'runwarden cancel <task> --operator <name> --reason <text>', does: 'operator action' },
  callback: { usage: 'runwarden callback <token> [--data <json>]', does: 'deliver a callback to a waiting task' },
  serve: { usage: 'runwarden serve [--port N]', does: 'HTTP API, console and metrics, plus workers and the scheduler' },
  report: { usage: 'runwarden report [--since <duration>]', does: 'completion, escalation and retry rates per runbook and step' },
  demo: { usage: 'runwarden demo', does: 'the whole flow on the embedded database against the simulated operations API' },
};

/** What the program registers: each command with its options (help excluded). */
export interface CommandInfo {
  name: string;
  usage: string;
  description: string;
  arguments: Array<{ name: string; required: boolean; variadic: boolean; description: string; default?: unknown }>;
  options: Array<{ flags: string; long: string; description: string; required: boolean; default?: unknown }>;
}

function optionInfo(o: Option): CommandInfo['options'][number] {
  return {
    flags: o.flags,
    long: o.long ?? o.flags,
    description: o.description,
    required: Boolean(o.mandatory),
    ...(o.defaultValue !== undefined && !(Array.isArray(o.defaultValue) && o.defaultValue.length === 0) ? { default: o.defaultValue } : {}),
  };
}

/** The registered commands, in registration order. */
export async function registeredCommands(): Promise<CommandInfo[]> {
  const program = await buildProgram();
  return program.commands.map((c) => ({
    name: c.name(),
    usage: `runwarden ${c.name()} ${c.usage()}`.trim(),
    description: c.description(),
    arguments: c.registeredArguments.map((a) => ({
      name: a.name(),
      required: a.required,
      variadic: a.variadic,
      description: a.description,
      ...(a.defaultValue !== undefined ? { default: a.defaultValue } : {}),
    })),
    options: c.options.map(optionInfo),
  }));
}

/** The options every database-facing command takes (`withCommon`). */
export function commonOptionInfo(): CommandInfo['options'] {
  return withCommon(new Command('x')).options.map(optionInfo);
}

const ENV_OF: Record<string, string> = {
  '--db': '`RUNWARDEN_DB`, then `DATABASE_URL`; default: the embedded database in `./.runwarden/db`',
  '--runbooks': '`RUNWARDEN_RUNBOOKS`; default `./runbooks`',
  '--config': '`RUNWARDEN_CONFIG`; default `./runwarden.yaml` when it exists',
  '--json': '',
};

/** What an argument is, when its command does not say. */
const ARGUMENT_MEANING: Record<string, string> = {
  task: 'the task: its id or its externalRef',
  token: 'the callback token of the waiting task',
};

function argText(a: CommandInfo['arguments'][number]): string {
  const name = `${a.name}${a.variadic ? '...' : ''}`;
  return a.required ? `<${name}>` : `[${name}]`;
}

function defaultText(v: unknown): string {
  return typeof v === 'string' ? code(v) : code(JSON.stringify(v));
}

/** The task request `submit` takes: every field (from the intake schema) and the example `submit --help` shows. */
function taskRequestSection(): string[] {
  return [
    '#### The task request',
    '',
    'One JSON object; `runwarden submit --help` prints the same.',
    '',
    table(['field', 'required', 'what'], taskRequestFields().map((f) => [code(f.name), f.required ? 'yes' : 'no', sentence(f.description)])),
    '```sh',
    SUBMIT_EXAMPLE,
    '```',
    '',
  ];
}

/**
 * The whole of docs/cli-reference.md: exit codes, the common options, every registered command
 * with its arguments and options, and the promised commands not built yet. Ends with a newline.
 */
export async function cliReference(): Promise<string> {
  const commands = await registeredCommands();
  const common = commonOptionInfo();
  const commonLongs = new Set(common.map((o) => o.long));
  const registered = new Set(commands.map((c) => c.name));
  const missing = Object.entries(PROMISED_COMMANDS).filter(([name]) => !registered.has(name));
  const out: string[] = [
    '# Command line reference',
    '',
    generatedNotice('the commands registered in src/cli'),
    '',
    'Every command `runwarden` accepts today, with its arguments and options. `runwarden <command> --help` prints the same. For a walk through them, see the [README](../README.md); for the operator actions in depth, the [operator guide](operator-guide.md).',
    '',
    'Exit codes: `0` success; `1` the request was refused or invalid (a message on stderr, or the JSON error on stdout with `--json`; see [errors](errors.md)); `2` the command line was not understood. Human output is plain when stdout is not a terminal or `NO_COLOR` is set.',
    '',
    '## Common options',
    '',
    'Commands that read runbooks, the deployment config or the database take these:',
    '',
    table(
      ['option', 'what', 'environment and default'],
      common.map((o) => [code(o.flags), sentence(o.description.replace(/\s*\(env [^)]*\)/, '')), ENV_OF[o.long] ?? '']),
    ),
    '## Commands',
    '',
  ];
  for (const c of commands) {
    const args = c.arguments.map(argText).join(' ');
    out.push(`### ${code(`runwarden ${c.name}${args ? ` ${args}` : ''}`)}`, '', cell(sentence(c.description)), '');
    if (c.arguments.length) {
      out.push(table(['argument', 'what', 'default'], c.arguments.map((a) => [code(argText(a)), sentence(a.description || (ARGUMENT_MEANING[a.name] ?? '')), a.default === undefined ? '' : defaultText(a.default)])));
    }
    const own = c.options.filter((o) => !commonLongs.has(o.long) || !common.some((k) => k.long === o.long && k.description === o.description));
    if (own.length) {
      out.push(table(['option', 'what', 'default'], own.map((o) => [code(o.flags), `${o.required ? '**Required.** ' : ''}${sentence(o.description)}`, o.default === undefined ? '' : defaultText(o.default)])));
    }
    const takesCommon = common.every((k) => c.options.some((o) => o.long === k.long && o.description === k.description));
    if (takesCommon) out.push('Takes the [common options](#common-options).', '');
    if (c.name === 'submit') out.push(...taskRequestSection());
  }
  if (missing.length) {
    out.push(
      '## Not built yet',
      '',
      'The interface promises these commands; they are not part of `runwarden` yet, and running one is a usage error (exit 2).',
      '',
      table(['command', 'will do'], missing.map(([, p]) => [code(p.usage), sentence(p.does)])),
    );
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}
