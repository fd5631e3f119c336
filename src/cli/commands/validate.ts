/**
 * `runwarden validate [paths...]`: loads and checks runbooks without touching the database.
 * Each problem as `file:line:col: path: message` on stderr (editors jump to it), a one-line
 * summary, exit 1 when there is any problem. With `--json`, one document on stdout.
 *
 * When there is a deployment config (`--config`, or ./runwarden.yaml), each runbook's `env.NAME`
 * reads are checked against the names it lists: an unlisted one could never be read.
 */
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import type { Command } from 'commander';
import type { WorkRole } from '../../lifecycle/vocabulary.js';
import type { Problem } from '../../errors.js';
import { action, commonOptions, ExitCode, printJson, withCommon } from '../common.js';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Paths relative to the working directory, as a person typed them. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel === '' ? '.' : rel.startsWith('..') ? file : rel;
}

export function register(program: Command): void {
  withCommon(
    program
      .command('validate')
      .description('load and check runbooks; each problem as file:line:col: message; exit 1 if any')
      .argument('[paths...]', 'runbook files or folders (default: the runbooks folder)'),
  ).action(
    action(async (paths: string[], opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const [{ formatProblem, isRunwardenError }, { loadRunbookFiles }, { loadDeploymentConfig }] = await Promise.all([
        import('../../errors.js'),
        import('../../runbook/load.js'),
        import('../../runtime.js'),
      ]);
      const targets = paths.length ? paths : [common.runbooks];
      const problems: Problem[] = [];
      let env: { listed: readonly string[]; configFile: string } | undefined;
      let secrets: { grants: Readonly<Record<string, readonly WorkRole[]>>; configFile: string } | undefined;
      if (common.config || existsSync('runwarden.yaml')) {
        try {
          const config = await loadDeploymentConfig(common.config, 'read');
          if (config.source) env = { listed: config.envNames, configFile: shown(config.source) };
          if (config.source && Object.keys(config.secretGrants).length) secrets = { grants: config.secretGrants, configFile: shown(config.source) };
        } catch (err) {
          if (!isRunwardenError(err)) throw err;
          problems.push(...(err.problems.length ? err.problems : [{ path: '', message: err.message }]));
        }
      }
      const loaded = await loadRunbookFiles(targets, { ...(env ? { env } : {}), ...(secrets ? { secrets } : {}) });
      const missingDefault = !paths.length && !existsSync(common.runbooks);
      problems.push(
        ...loaded.problems.map((p) =>
          missingDefault && p.file === common.runbooks
            ? { ...p, message: `${p.message}; without arguments validate reads ${common.runbooks} (or --runbooks, RUNWARDEN_RUNBOOKS): name folders or files to check, or run runwarden init for an example folder` }
            : p,
        ),
      );
      const located: Problem[] = problems.map((p) => (p.file ? { ...p, file: shown(p.file) } : p));
      const set = loaded.set;
      if (common.json) {
        printJson({
          ok: located.length === 0,
          runbooks: set.runbooks.map((r) => ({ id: r.id, version: r.version, file: shown(r.file), taskClasses: r.taskClasses })),
          problems: located,
        });
      } else {
        for (const p of located) process.stderr.write(`${formatProblem(p)}\n`);
        const files = new Set(located.map((p) => p.file)).size;
        const summary = `${plural(set.runbooks.length, 'runbook')}, ${plural(located.length, 'problem')}`;
        if (located.length) process.stderr.write(`${summary}${files > 1 ? ` in ${files} files` : ''}\n`);
        else process.stdout.write(`${summary}\n`);
      }
      if (located.length) throw new ExitCode(1);
    }),
  );
}
