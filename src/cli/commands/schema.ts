/**
 * `runwarden schema [runbook|packet|task]`: prints a JSON Schema. Each document is a provider
 * in SCHEMA_PROVIDERS, loaded on demand; a module that owns a document adds its line there.
 */
import type { Command } from 'commander';
import { RunwardenError } from '../../errors.js';
import { action, ExitCode } from '../common.js';

type SchemaProvider = () => Promise<Record<string, unknown>>;

/**
 * The documents `schema` can print, by name. `undefined` marks a name the interface promises
 * (interfaces.md) whose schema is not written yet: it exits 1 rather than being a usage error.
 */
export const SCHEMA_PROVIDERS: Record<string, SchemaProvider | undefined> = {
  runbook: async () => (await import('../../runbook/json-schema.js')).runbookJsonSchema(),
  packet: async () => (await import('../../escalation/packet-schema.js')).packetJsonSchema(),
  task: async () => (await import('../../lifecycle/task-schema.js')).taskJsonSchema(),
};

export function register(program: Command): void {
  program
    .command('schema')
    .description(`print a JSON Schema: ${Object.keys(SCHEMA_PROVIDERS).join(', ')} (default runbook)`)
    .argument('[name]', 'which document', 'runbook')
    .option('--json', 'accepted for symmetry: the output is JSON either way')
    .action(
      action(async (name: string) => {
        if (!Object.prototype.hasOwnProperty.call(SCHEMA_PROVIDERS, name)) {
          throw new RunwardenError('USAGE', `no schema named "${name}"; available: ${Object.keys(SCHEMA_PROVIDERS).join(', ')}`);
        }
        const provider = SCHEMA_PROVIDERS[name];
        if (!provider) {
          process.stderr.write(`runwarden: the ${name} schema is not available yet\n`);
          throw new ExitCode(1);
        }
        process.stdout.write(`${JSON.stringify(await provider(), null, 2)}\n`);
      }),
    );
}
