/**
 * `runwarden completion bash|zsh`: a shell completion script, made from the registered commands
 * and their options, so it completes exactly what the program accepts. Values with a closed set
 * (task states, packet formats, schema names, shells) complete too.
 *
 *   source <(runwarden completion bash)          # bash, this shell; add it to ~/.bashrc
 *   runwarden completion zsh > "${fpath[1]}/_runwarden"   # zsh, then restart the shell
 */
import type { Command } from 'commander';
import { action } from '../common.js';

const SHELLS = ['bash', 'zsh'] as const;

/** One command as completion sees it. */
export interface CompletionCommand {
  name: string;
  description: string;
  /** Long options, with whether each takes a value and its closed set of values, if any. */
  options: Array<{ flag: string; description: string; takesValue: boolean; values?: readonly string[] }>;
  /** Closed set of values for the first argument, if any. */
  argValues?: readonly string[];
}

/** The commands of `program`, with the closed value sets runwarden knows. */
export async function completionCommands(program: Command): Promise<CompletionCommand[]> {
  const [{ TASK_STATES }, { SCHEMA_PROVIDERS }] = await Promise.all([import('../../lifecycle/vocabulary.js'), import('./schema.js')]);
  const values: Record<string, readonly string[]> = {
    '--state': TASK_STATES,
    '--format': ['json', 'md', 'slack', 'pagerduty', 'webhook'],
  };
  const args: Record<string, readonly string[]> = { schema: Object.keys(SCHEMA_PROVIDERS), completion: SHELLS };
  return program.commands.map((c) => ({
    name: c.name(),
    description: c.description(),
    options: [
      ...c.options.filter((o) => o.long).map((o) => ({
        flag: o.long!,
        description: o.description,
        takesValue: o.required || o.optional,
        ...(values[o.long!] ? { values: values[o.long!] } : {}),
      })),
      { flag: '--help', description: 'show help', takesValue: false },
    ],
    ...(args[c.name()] ? { argValues: args[c.name()] } : {}),
  }));
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The bash script: `complete -F _runwarden runwarden`. */
export function bashCompletion(commands: CompletionCommand[]): string {
  const cases = commands.map((c) => {
    const opts = c.options.map((o) => o.flag).join(' ');
    const valueCases = c.options
      .filter((o) => o.values)
      .map((o) => `        ${o.flag}) COMPREPLY=($(compgen -W ${q(o.values!.join(' '))} -- "$cur")); return ;;`)
      .join('\n');
    const fileOpts = c.options.filter((o) => o.takesValue && !o.values).map((o) => o.flag).join('|');
    const argWords = c.argValues ? q(c.argValues.join(' ')) : "''";
    return [
      `    ${c.name})`,
      '      case "$prev" in',
      ...(valueCases ? [valueCases] : []),
      ...(fileOpts ? [`        ${fileOpts}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`] : []),
      '      esac',
      `      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W ${q(opts)} -- "$cur"));`,
      `      else COMPREPLY=($(compgen -W ${argWords} -- "$cur")); [[ \${#COMPREPLY[@]} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur")); fi`,
      '      ;;',
    ].join('\n');
  });
  return [
    '# bash completion for runwarden (runwarden completion bash); source it, or add to ~/.bashrc:',
    '#   source <(runwarden completion bash)',
    '_runwarden() {',
    '  local cur prev cmd',
    '  cur="${COMP_WORDS[COMP_CWORD]}"',
    '  prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  cmd="${COMP_WORDS[1]}"',
    '  if [[ $COMP_CWORD -eq 1 ]]; then',
    `    COMPREPLY=($(compgen -W ${q([...commands.map((c) => c.name), '--help', '--version'].join(' '))} -- "$cur"))`,
    '    return',
    '  fi',
    '  case "$cmd" in',
    ...cases,
    '  esac',
    '}',
    'complete -F _runwarden runwarden',
    '',
  ].join('\n');
}

/** zsh `_arguments` wants `[` `]` `:` escaped in descriptions. */
const zdesc = (s: string) => s.replace(/\\/g, '\\\\').replace(/'/g, `'\\''`).replace(/([[\]:])/g, '\\$1');

/** The zsh script: a `#compdef runwarden` function. */
export function zshCompletion(commands: CompletionCommand[]): string {
  const fns = commands.map((c) => {
    const specs = c.options.map((o) => {
      const action = !o.takesValue ? '' : o.values ? `:value:(${o.values.join(' ')})` : ':value:_files';
      return `    '${o.flag}[${zdesc(o.description)}]${action}'`;
    });
    const arg = c.argValues ? `    '1:argument:(${c.argValues.join(' ')})'` : `    '*:argument:_files'`;
    return [`_runwarden_${c.name.replace(/-/g, '_')}() {`, '  _arguments -s \\', ...specs.map((s) => `${s} \\`), arg, '}'].join('\n');
  });
  return [
    '#compdef runwarden',
    '# zsh completion for runwarden (runwarden completion zsh); save it as _runwarden in a folder of $fpath:',
    '#   runwarden completion zsh > "${fpath[1]}/_runwarden"',
    ...fns,
    '_runwarden() {',
    '  local -a commands',
    '  commands=(',
    ...commands.map((c) => `    '${c.name}:${zdesc(c.description)}'`),
    '  )',
    '  if (( CURRENT == 2 )); then',
    "    _describe 'command' commands",
    '  else',
    '    local fn="_runwarden_${words[2]//-/_}"',
    '    (( $+functions[$fn] )) && { shift words; (( CURRENT-- )); $fn; }',
    '  fi',
    '}',
    'if [[ "$funcstack[1]" == "_runwarden" ]]; then _runwarden "$@"; else compdef _runwarden runwarden; fi',
    '',
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: bash (source <(runwarden completion bash)) or zsh')
    .argument('<shell>', `the shell: ${SHELLS.join(' or ')}`)
    .action(
      action(async (shell: string, _opts: unknown, cmd: Command) => {
        const { RunwardenError } = await import('../../errors.js');
        if (!(SHELLS as readonly string[]).includes(shell)) throw new RunwardenError('USAGE', `completion is written for ${SHELLS.join(' or ')}; got ${shell}`);
        // The program registers every command for this one (main.ts), so the script lists them all.
        const commands = await completionCommands(cmd.parent ?? program);
        process.stdout.write(shell === 'bash' ? bashCompletion(commands) : zshCompletion(commands));
      }),
    );
}
