/**
 * The docs promise only what the program does: every `runwarden <command>` they show is a
 * registered command (or says plainly that it is not built yet), every option they give it is one
 * it takes, every `npm run` script exists, and every relative link lands on a file and anchor that
 * exist. When a promised command is registered, the "not built yet" marks on it fail here until
 * they are removed.
 */
import { existsSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commonOptionInfo, PROMISED_COMMANDS, registeredCommands } from '../../src/docs/cli-reference.js';
import { anchors, commandMentions, docPages, links, markedNotBuilt, notBuiltChunks, npmScripts, readPage, ROOT } from './doc-files.js';

const commands = await registeredCommands();
const registered = new Map(commands.map((c) => [c.name, new Set([...c.options.map((o) => o.long), '--help'])]));
const pages = docPages().map((page) => ({ page, md: readPage(page) }));
const scripts = Object.keys((JSON.parse(readPage('package.json')) as { scripts: Record<string, string> }).scripts);

describe('commands the docs show', () => {
  it('checks the README and every page under docs/', () => {
    expect(pages.map((p) => p.page)).toEqual(expect.arrayContaining(['README.md', 'docs/operator-guide.md', 'docs/deployment.md', 'docs/runbook-guide.md']));
    expect(commonOptionInfo().map((o) => o.long)).toEqual(['--db', '--runbooks', '--json', '--config']);
  });

  it('are commands runwarden has, or promises in its interface', () => {
    const unknown = pages.flatMap(({ page, md }) =>
      commandMentions(md)
        .filter((m) => !registered.has(m.command) && !(m.command in PROMISED_COMMANDS))
        .map((m) => `${page}:${m.chunk.line}: runwarden ${m.command}`),
    );
    expect(unknown).toEqual([]);
  });

  it('are marked "not built yet" on every page that shows them, until they are registered', () => {
    const unmarked = pages.flatMap(({ page, md }) => {
      const declared = new Set(commandMentions(notBuiltChunks(md)).map((m) => m.command));
      return commandMentions(md)
        .filter((m) => !registered.has(m.command) && !declared.has(m.command))
        .map((m) => `${page}:${m.chunk.line}: runwarden ${m.command} is not registered; say "not built yet" next to it`);
    });
    expect(unmarked).toEqual([]);
  });

  it('are not marked "not built yet" once they are registered', () => {
    const stale = pages.flatMap(({ page, md }) =>
      markedNotBuilt(md)
        .filter((c) => registered.has(c))
        .map((c) => `${page}: runwarden ${c} is registered now; drop its "not built yet"`),
    );
    expect(stale).toEqual([]);
  });

  it('take the options the docs give them', () => {
    const wrong = pages.flatMap(({ page, md }) =>
      commandMentions(md)
        .filter((m) => registered.has(m.command))
        .flatMap((m) => m.flags.filter((f) => !registered.get(m.command)!.has(f)).map((f) => `${page}:${m.chunk.line}: runwarden ${m.command} has no option ${f}`)),
    );
    expect(wrong).toEqual([]);
  });

  it('include only npm scripts that package.json defines', () => {
    const missing = pages.flatMap(({ page, md }) => npmScripts(md).filter((s) => !scripts.includes(s)).map((s) => `${page}: npm run ${s}`));
    expect(missing).toEqual([]);
  });
});

describe('links in the docs', () => {
  it('land on files and anchors that exist', () => {
    const broken: string[] = [];
    for (const { page, md } of pages) {
      for (const { target, line } of links(md)) {
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const path = file ? normalize(join(dirname(join(ROOT, page)), file)) : join(ROOT, page);
        if (!existsSync(path)) {
          broken.push(`${page}:${line}: ${target} (no such file)`);
          continue;
        }
        if (anchor && path.endsWith('.md') && !anchors(readPage(path.slice(ROOT.length))).has(anchor)) {
          broken.push(`${page}:${line}: ${target} (no such anchor)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
