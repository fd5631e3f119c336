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
import { action, commonOptions, ExitCode, printJson, runtimeFor, withCommon, type CommonOptions } from '../common.js';

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
      .command('submit [file]')
      .description('submit one task request (JSON; `-` reads stdin); prints the task id and state, exits 1 when rejected; --jsonl takes one request per line')
      .option('--jsonl <file>', 'one task request per line (`-` reads stdin): a result per line and a summary; bad lines are reported and skipped')
      .option('--batch <n>', 'lines per transaction with --jsonl (default 200)')
      .addHelpText('after', submitHelp),
  ).action(
    action(async (file: string | undefined, opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      if (typeof opts.jsonl === 'string') return submitJsonl(opts.jsonl, common, opts);
      if (file === undefined) {
        const { RunwardenError } = await import('../../errors.js');
        throw new RunwardenError('USAGE', 'give the request file (or - for stdin), or --jsonl <file> for one request per line');
      }
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

/**
 * `submit --jsonl`: every line through bulk intake, a result per line (`--json`: one JSON object
 * per line, then the summary as the last line), progress on stderr when it is a terminal, and
 * exit 1 when any line was rejected or refused.
 */
async function submitJsonl(path: string, common: CommonOptions, opts: Record<string, unknown>): Promise<void> {
  const [{ createReadStream }, { createInterface }, { submitLines }, { loadDeploymentConfig }, { RunwardenError }] = await Promise.all([
    import('node:fs'),
    import('node:readline'),
    import('../../intake/bulk.js'),
    import('../../runtime.js'),
    import('../../errors.js'),
  ]);
  const batch = opts.batch === undefined ? undefined : Number(opts.batch);
  if (batch !== undefined && (!Number.isInteger(batch) || batch < 1 || batch > 10_000)) throw new RunwardenError('USAGE', `--batch must be a whole number from 1 to 10000, got ${String(opts.batch)}`);
  const limits = (await loadDeploymentConfig(common.config, 'read')).intake;
  const stream = path === '-' ? process.stdin : createReadStream(path);
  const opened = new Promise<void>((resolve, reject) => {
    if (path === '-') return resolve();
    stream.once('open', () => resolve());
    stream.once('error', (err: Error) => reject(new RunwardenError('REQUEST_INVALID', `cannot read ${path}: ${err.message}`, { cause: err })));
  });
  await opened;
  const rt = await runtimeFor(common, 'read', { checkEnv: true });
  const tty = Boolean(process.stderr.isTTY) && !common.json;
  const started = Date.now();
  let done = 0;
  let lastDraw = 0;
  const draw = (final = false) => {
    if (!tty) return;
    const now = Date.now();
    if (!final && now - lastDraw < 200) return;
    lastDraw = now;
    const rate = Math.round(done / Math.max(0.001, (now - started) / 1000));
    process.stderr.write(`\r${done} lines submitted (${rate}/s)${final ? '\n' : ''}`);
  };
  let bad = false;
  try {
    const summary = await submitLines(rt.db, { ...rt.runbooks, unavailable: rt.unavailable }, createInterface({ input: stream, crlfDelay: Infinity }), {
      now: () => new Date(),
      env: { ...rt.config.env },
      secrets: { ...rt.config.secrets },
      limits,
      ...(batch ? { batchSize: batch } : {}),
      onResult: (r) => {
        done += 1;
        if (r.result === 'rejected' || r.result === 'refused') bad = true;
        if (common.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else if (r.result === 'created' || r.result === 'deduplicated') {
          if (!tty) process.stdout.write(`line ${r.line}: ${r.taskId} ${r.state}${r.result === 'deduplicated' ? ` (existing task for externalRef ${r.externalRef})` : ''}\n`);
        } else {
          if (tty) process.stderr.write('\r\x1b[K');
          process.stdout.write(`line ${r.line}: ${r.result}${r.taskId ? ` ${r.taskId}` : ''}: ${r.reason}\n`);
        }
        draw();
      },
    });
    draw(true);
    const seconds = (Date.now() - started) / 1000;
    if (common.json) process.stdout.write(`${JSON.stringify({ summary: { ...summary, seconds: Number(seconds.toFixed(3)) } })}\n`);
    else {
      process.stdout.write(
        `${summary.lines - summary.blank} requests: ${summary.created} created, ${summary.deduplicated} deduplicated, ${summary.rejected} rejected, ${summary.refused} refused` +
          ` (${seconds.toFixed(1)}s)\n`,
      );
    }
  } finally {
    await rt.close();
  }
  if (bad) throw new ExitCode(1);
}
