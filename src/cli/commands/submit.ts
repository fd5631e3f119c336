/**
 * `runwarden submit <file|->`: intake one task request (interfaces.md, "Task request"). Prints
 * the task id and state; a rejection is stored as a `rejected` task, printed with every reason,
 * and exits 1. Refused before anything is stored: malformed JSON, a request over the intake
 * limits, a different request under an externalRef already taken, a class whose runbook does not
 * load. Reads only: the worker's secrets need not be set here.
 */
import type { Command } from 'commander';
import type { IntakeLimits } from '../../config/index.js';
import { taskRequestFields } from '../../orchestrator/intake.js';
import { action, commonOptions, ExitCode, printJson, runtimeFor, withCommon } from '../common.js';

/** The example `submit --help` and the README show. */
export const SUBMIT_EXAMPLE =
  `echo '{ "taskClass": "service.restart", "externalRef": "INC-4211", "requestedBy": "queue:ops",\n` +
  `        "input": { "service": "billing-api", "environment": "production" } }' | runwarden submit -`;

/** What `submit --help` prints after the options: an example, then every field of a request. */
export function submitHelp(): string {
  const fields = taskRequestFields();
  const width = Math.max(...fields.map((f) => f.name.length));
  const rows = fields.map((f) => `  ${f.name.padEnd(width)}  ${f.required ? 'required' : 'optional'}  ${f.description}`);
  return ['', 'Example:', ...SUBMIT_EXAMPLE.split('\n').map((l) => `  ${l}`), '', 'The task request is one JSON object:', ...rows, ''].join('\n');
}

/** The request text from a file or stdin, refused unread (or read no further) when over the limit. */
async function readRequest(file: string, source: string, limits: IntakeLimits): Promise<string> {
  const [{ RunwardenError }, { readFile, stat }, { readCapped, requestTooLarge }] = await Promise.all([
    import('../../errors.js'),
    import('node:fs/promises'),
    import('../../orchestrator/intake-limits.js'),
  ]);
  if (file === '-') return readCapped(process.stdin, limits, source);
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    throw new RunwardenError('REQUEST_INVALID', `cannot read the task request ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (size > limits.maxRequestBytes) throw requestTooLarge(size, limits, source);
  return readFile(file, 'utf8');
}

export function register(program: Command): void {
  withCommon(
    program
      .command('submit <file>')
      .description('submit one task request (JSON; `-` reads stdin); prints the task id and state, exits 1 when rejected')
      .addHelpText('after', submitHelp),
  ).action(
    action(async (file: string, opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const [{ parseRequestText, submitTask }, { listEvents }, { taskView }, { formatRejection }, { loadDeploymentConfig }] = await Promise.all([
        import('../../orchestrator/intake.js'),
        import('../../store/events.js'),
        import('../../store/task-view.js'),
        import('../task-format.js'),
        import('../../runtime.js'),
      ]);
      // The limits come from the config, and a request over them is refused before the database opens.
      const limits = (await loadDeploymentConfig(common.config, 'read')).intake;
      const source = file === '-' ? 'the request on stdin' : file;
      const request = parseRequestText(await readRequest(file, source, limits), source, limits);
      // The env check: a task class whose runbook reads a variable the config does not list is
      // refused here, with that problem, rather than accepted to fail at its first expression.
      const rt = await runtimeFor(common, 'read', { checkEnv: true });
      let rejected = false;
      try {
        const { task, created } = await submitTask(rt.db, { ...rt.runbooks, unavailable: rt.unavailable }, request, {
          now: new Date(),
          env: { ...rt.config.env },
          secrets: { ...rt.config.secrets },
          actor: 'intake',
          limits,
        });
        rejected = task.state === 'rejected';
        const view = taskView(task, await listEvents(rt.db, task.id), task.runbookId ? rt.runbooks.byId.get(task.runbookId) : undefined, { masker: rt.masker });
        if (common.json) {
          printJson({ ...view, created });
        } else {
          const existing = created ? '' : ` (existing task for externalRef ${task.externalRef}: the same request again; nothing created)`;
          process.stdout.write(`${task.id} ${task.state}${existing}\n`);
          if (rejected) process.stdout.write(`${formatRejection(view)}\n`);
        }
      } finally {
        await rt.close();
      }
      if (rejected) throw new ExitCode(1);
    }),
  );
}
