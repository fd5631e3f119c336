/**
 * Every generated file and generated block of the docs, in one list: `npm run docs:write`
 * rewrites them all, and the docs tests fail when one differs from what its generator says now.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packetJsonSchema } from '../escalation/packet-schema.js';
import { stateDiagram } from '../lifecycle/diagram.js';
import { runbookJsonSchema } from '../runbook/json-schema.js';
import { runbookReference } from '../runbook/reference.js';
import { cliReference } from './cli-reference.js';
import { errorCodesTable } from './error-reference.js';
import { generatedNotice, replaceBlock } from './markdown.js';
import { operatorActionTable } from './operator-actions.js';
import { packetFieldsReference } from './packet-reference.js';

/** A whole generated file, or a marker-delimited block inside a hand-written one. */
export interface GeneratedTarget {
  /** Path from the repository root. */
  file: string;
  /** The block name (`<!-- name:start -->`); absent when the generator owns the whole file. */
  block?: string;
  render(): string | Promise<string>;
}

export const GENERATED: readonly GeneratedTarget[] = [
  {
    file: 'README.md',
    block: 'state-diagram',
    render: () => `${generatedNotice('TRANSITIONS in src/lifecycle/transitions.ts')}\n\n\`\`\`mermaid\n${stateDiagram()}\`\`\`\n`,
  },
  { file: 'docs/runbook-reference.md', render: runbookReference },
  { file: 'docs/cli-reference.md', render: cliReference },
  { file: 'docs/errors.md', block: 'error-codes', render: errorCodesTable },
  { file: 'docs/operator-guide.md', block: 'operator-actions', render: operatorActionTable },
  { file: 'docs/packet-reference.md', block: 'packet-fields', render: packetFieldsReference },
  { file: 'schema/runbook.schema.json', render: () => `${JSON.stringify(runbookJsonSchema(), null, 2)}\n` },
  { file: 'schema/packet.schema.json', render: () => `${JSON.stringify(packetJsonSchema(), null, 2)}\n` },
];

/** What the target's file should contain, given what it contains now (for blocks). */
export async function expectedContent(root: string, target: GeneratedTarget): Promise<string> {
  const rendered = await target.render();
  if (!target.block) return rendered;
  const current = await readFile(join(root, target.file), 'utf8');
  return replaceBlock(current, target.block, rendered, target.file);
}

/** Rewrites every target whose file differs from its generator's output; returns those files. */
export async function writeGenerated(root: string): Promise<string[]> {
  const changed: string[] = [];
  // In order: several blocks may share a file, each rewrite reads the one before it.
  for (const target of GENERATED) {
    const path = join(root, target.file);
    const current = await readFile(path, 'utf8').catch(() => '');
    const next = await expectedContent(root, target);
    if (next !== current) {
      await writeFile(path, next);
      changed.push(target.block ? `${target.file} (${target.block})` : target.file);
    }
  }
  return changed;
}
