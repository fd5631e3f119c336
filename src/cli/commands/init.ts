/**
 * `runwarden init [folder]`: a folder to start from: the example runbooks in `runbooks/`, the
 * runbook JSON Schema in `schema/` (the runbooks' `# yaml-language-server` line points there, so
 * an editor checks them as they are typed), and a `runwarden.yaml` that lets the runbooks reach
 * the simulated operations API (`runwarden sim`). Nothing that exists is overwritten.
 */
import type { Command } from 'commander';
import { action } from '../common.js';

export function register(program: Command): void {
  program
    .command('init')
    .description('write the example runbooks, the runbook JSON Schema and a runwarden.yaml into a folder (never overwrites a file)')
    .argument('[folder]', 'where to write them', '.')
    .action(
      action(async (folder: string) => {
        const [{ copyFile, mkdir, readdir, stat }, { join, relative }, { EXAMPLE_CONFIG }] = await Promise.all([
          import('node:fs/promises'),
          import('node:path'),
          import('./sim.js'),
        ]);
        const { fileURLToPath } = await import('node:url');
        const pkg = fileURLToPath(new URL('../../../', import.meta.url));
        const examples = join(pkg, 'runbooks');
        const copies: Array<[from: string, to: string]> = [
          ...(await readdir(examples)).filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => [join(examples, n), join(folder, 'runbooks', n)] as [string, string]),
          [join(pkg, 'schema', 'runbook.schema.json'), join(folder, 'schema', 'runbook.schema.json')],
          [fileURLToPath(EXAMPLE_CONFIG), join(folder, 'runwarden.yaml')],
        ];
        const exists = (p: string) => stat(p).then(() => true, () => false);
        const lines: string[] = [];
        for (const [from, to] of copies) {
          const shown = relative(process.cwd(), to) || to;
          if (await exists(to)) {
            lines.push(`  kept   ${shown} (it exists)`);
            continue;
          }
          await mkdir(join(to, '..'), { recursive: true });
          await copyFile(from, to);
          lines.push(`  wrote  ${shown}`);
        }
        const at = folder === '.' ? '' : ` in ${folder}`;
        process.stdout.write(
          `${lines.join('\n')}\n\nNext${at}: runwarden validate runbooks/ checks the runbooks; runwarden sim starts the simulated API they call.\n`,
        );
      }),
    );
}
