/**
 * The `exec` action: runs a program from `policy.allowExec` with an argv list (never a shell
 * string) and returns `exitCode`, `stdout`, `stderr`. The allow list is checked at load and again
 * here, so a runbook changed under a running worker still cannot run anything else.
 */
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import type { ExecWith } from '../runbook/plan.js';
import type { RawOutcome } from '../orchestrator/outcome.js';
import { DEFAULT_TIMEOUT_MS, deadlineSignal, type ExecuteContext } from './executor.js';
import { renderRecord, renderString } from './render.js';
import { runIdEnv } from './run-id.js';

/** Output kept per stream, in characters (the tail matters most). */
export const MAX_OUTPUT = 64_000;

export async function runExec(w: ExecWith, ctx: ExecuteContext): Promise<RawOutcome> {
  const allowed = ctx.runbook.policy.allowExec;
  if (!allowed.includes(w.program) && !allowed.includes(basename(w.program))) {
    return { kind: 'error', code: 'OFF_POLICY', failureClass: 'off_policy', message: `program ${w.program} is not in policy.allowExec (${allowed.join(', ') || 'empty'})`, maybeApplied: false };
  }
  let args: string[];
  let env: Record<string, string>;
  let cwd: string | undefined;
  try {
    args = w.args.map((a) => renderString(a, ctx.expr));
    env = renderRecord(w.env, ctx.expr);
    cwd = w.cwd ? renderString(w.cwd, ctx.expr) : undefined;
  } catch (err) {
    return { kind: 'error', message: `command could not be built: ${(err as Error).message}`, failureClass: 'internal', maybeApplied: false };
  }
  const ms = ctx.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (ctx.signal.aborted) {
    return { kind: 'error', code: 'ABORTED', message: `${w.program} not started: the worker stopped`, maybeApplied: false, failureClass: 'transient' };
  }
  // The step's time runs from when the program has started (the `spawn` event), not from when
  // runwarden got round to starting it.
  let finished = false;
  const dl = deadlineSignal(ctx.signal, ms, { deferStart: true, done: () => finished });
  try {
    return await new Promise<RawOutcome>((resolve) => {
      let stdout = '';
      let stderr = '';
      let started = false;
      const child = spawn(w.program, args, {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env, ...runIdEnv(ctx.expr.task.id) },
        ...(cwd ? { cwd } : {}),
        stdio: ['ignore', 'pipe', 'pipe'],
        signal: dl.signal,
      });
      child.once('spawn', () => {
        started = true;
        dl.start();
      });
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        stdout = (stdout + c).slice(-MAX_OUTPUT);
      });
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        stderr = (stderr + c).slice(-MAX_OUTPUT);
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (dl.timedOut()) resolve({ kind: 'error', code: 'TIMEOUT', message: `${w.program} timed out after ${ms}ms`, maybeApplied: true });
        else if (ctx.signal.aborted) resolve({ kind: 'error', code: 'ABORTED', message: `${w.program} aborted: the worker stopped`, maybeApplied: started, failureClass: 'transient' });
        else resolve({ kind: 'error', ...(err.code ? { code: err.code } : {}), message: `${w.program}: ${err.message}`, failureClass: err.code === 'EACCES' ? 'permission' : 'internal', maybeApplied: false });
      });
      child.on('close', (code, sig) => {
        finished = true;
        if (dl.timedOut() || ctx.signal.aborted) return; // reported by 'error'
        resolve({ kind: 'result', result: { exitCode: code ?? (sig ? 128 : 1), stdout, stderr } });
      });
    });
  } finally {
    dl.dispose();
  }
}
