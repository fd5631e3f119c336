/**
 * Operator actions on the command line: `runwarden <action> <task> --operator --reason [...]`,
 * and `runwarden callback <token>`. Thin adapters over src/orchestrator/operator.ts.
 */
import type { Command } from 'commander';
import { RunwardenError } from '../../errors.js';
import { OPERATOR_ACTIONS, type OperatorAction } from '../../lifecycle/vocabulary.js';
import type { ActionResult } from '../../orchestrator/operator.js';
import { action, commonOptions, printJson, runtimeFor, withCommon } from '../common.js';

const HELP: Record<OperatorAction, string> = {
  approve: 'approve a task waiting at an approval gate; automation continues',
  deny: 'deny an approval; the task escalates (or rolls back if its step says so)',
  takeover: 'take an escalated, retrying or waiting task over: automation pauses until you act',
  resume: 'continue automation from the current step (or --from an earlier one)',
  retry: 'run the current step again now (a once step still probes first)',
  skip: 'mark the current step done by hand and continue',
  rollback: 'undo the completed steps, newest first',
  complete: 'close the task as finished by hand',
  fail: 'close the task as failed',
  cancel: 'stop the task now',
};

function yesNo(v: string): boolean {
  if (v === 'yes') return true;
  if (v === 'no') return false;
  throw new RunwardenError('USAGE', `--packet-helpful takes yes or no, got ${v}`);
}

/** `k=v` pairs for `skip --capture`; values that parse as JSON are taken as JSON. */
function parseCaptures(pairs: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new RunwardenError('USAGE', `--capture takes key=value, got ${p}`);
    const raw = p.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    out[p.slice(0, eq)] = value;
  }
  return out;
}

function describeResult(name: OperatorAction, r: ActionResult): string {
  const lines: string[] = [];
  if (r.plan && (r.dryRun || name === 'resume')) {
    lines.push(`plan: from ${r.plan.from || '(current step)'} run again: ${r.plan.rerun.join(', ') || 'nothing'}`);
    if (r.plan.changed.length) lines.push(`steps that changed something and would run again: ${r.plan.changed.join(', ')}`);
  }
  if (r.runbookUpgrade) {
    const { from, to } = r.runbookUpgrade;
    lines.push(`runbook: version ${from.version ?? '?'} (${from.hash?.slice(0, 12) ?? 'unpinned'}) -> version ${to.version} (${to.hash.slice(0, 12)})`);
  }
  if (r.dryRun) lines.push('dry run: nothing changed');
  else if (r.pending) lines.push(`${r.task.id} ${r.task.state}: cancel requested; the worker stops it at its next checkpoint`);
  else lines.push(`${r.task.id} ${r.task.state}`);
  return lines.join('\n');
}

export function register(program: Command): void {
  for (const name of OPERATOR_ACTIONS) {
    const cmd = withCommon(
      program
        .command(`${name} <task>`)
        .description(HELP[name])
        .requiredOption('--operator <name>', 'who is acting (recorded in the ledger)')
        .requiredOption('--reason <text>', 'why (recorded in the ledger)'),
    );
    if (name === 'resume') {
      cmd
        .option('--from <step>', 'restart from this earlier step')
        .option('--reset-budget', 'give the task a fresh retry budget')
        .option('--force', 'resume a failed task (resets the retry budget)')
        .option('--yes', 'confirm re-running steps that changed something')
        .option('--dry-run', 'show what would run again; change nothing')
        .option('--upgrade-runbook', "move the task to the runbook version loaded now (recorded); refused when it lacks the task's step");
    }
    if (name === 'retry') cmd.option('--yes', 'confirm running a once step that has no probe again');
    if (name === 'skip') cmd.option('--capture <k=v...>', 'values the step would have captured', []);
    if (name === 'complete') cmd.option('--partial', 'close as partially_completed');
    if (name === 'resume' || name === 'complete' || name === 'fail') {
      cmd.option('--packet-helpful <yes|no>', 'was the escalation packet enough to act without redoing discovery (recorded for the audit figures)');
    }
    cmd.action(
      action(async (ref: string, opts: Record<string, unknown>) => {
        const common = commonOptions(opts);
        const [{ OPERATOR_ACTION_FUNCTIONS }, { escalationHooks }] = await Promise.all([import('../../orchestrator/operator.js'), import('../../escalation/hooks.js')]);
        // Operator actions record and queue packets; they run no step and send nothing, so the
        // worker's secrets need not be set here.
        const rt = await runtimeFor(common, 'read');
        try {
          const ctx = { db: rt.db, runbooks: rt.runbooks, now: new Date(), ...escalationHooks(rt) };
          const input = {
            operator: String(opts.operator),
            reason: String(opts.reason),
            ...(opts.from ? { from: String(opts.from) } : {}),
            ...(opts.resetBudget ? { resetBudget: true } : {}),
            ...(opts.force ? { force: true } : {}),
            ...(opts.yes ? { yes: true } : {}),
            ...(opts.dryRun ? { dryRun: true } : {}),
            ...(opts.upgradeRunbook ? { upgradeRunbook: true } : {}),
            ...(opts.partial ? { partial: true } : {}),
            ...(name === 'skip' ? { capture: parseCaptures((opts.capture as string[]) ?? []) } : {}),
            ...(opts.packetHelpful !== undefined ? { packetHelpful: yesNo(String(opts.packetHelpful)) } : {}),
          };
          const fn = OPERATOR_ACTION_FUNCTIONS[name] as (c: typeof ctx, r: string, i: typeof input) => Promise<ActionResult>;
          const result = await fn(ctx, ref, input);
          if (common.json) printJson({ id: result.task.id, state: result.task.state, ...(result.plan ? { plan: result.plan } : {}), ...(result.pending ? { pending: true } : {}), ...(result.dryRun ? { dryRun: true } : {}), ...(result.runbookUpgrade ? { runbookUpgrade: result.runbookUpgrade } : {}) });
          else process.stdout.write(`${describeResult(name, result)}\n`);
        } finally {
          await rt.close();
        }
      }),
    );
  }

  withCommon(
    program
      .command('callback <token>')
      .description('deliver a callback to the task waiting on this token')
      .option('--data <json>', 'the callback body (JSON); @file reads it from a file', '{}'),
  ).action(
    action(async (token: string, opts: Record<string, unknown>) => {
      const common = commonOptions(opts);
      const [{ readFile }, { deliverCallback }] = await Promise.all([import('node:fs/promises'), import('../../orchestrator/operator.js')]);
      let text = String(opts.data ?? '{}');
      if (text.startsWith('@')) text = await readFile(text.slice(1), 'utf8');
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch (err) {
        throw new RunwardenError('REQUEST_INVALID', `--data is not valid JSON: ${(err as Error).message}`);
      }
      const rt = await runtimeFor(common, 'read');
      try {
        const task = await deliverCallback({ db: rt.db, now: new Date() }, token, data);
        if (common.json) printJson({ id: task.id, state: task.state });
        else process.stdout.write(`${task.id} ${task.state}\n`);
      } finally {
        await rt.close();
      }
    }),
  );
}
