/**
 * A step's timeout measures the action, not runwarden: for `http` it runs from when the request
 * is written, for `exec` from when the program has started. A busy process (here: the event
 * loop blocked right after the step began) does not make a step time out, and a request that
 * never went out is reported as not applied, so a `once` step is tried again, not escalated.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecuteContext } from '../../src/agents/executor.js';
import { runExec } from '../../src/agents/exec-action.js';
import { runHttp } from '../../src/agents/http-action.js';
import { silentLogger } from '../../src/log.js';
import type { ExecWith, HttpWith } from '../../src/runbook/plan.js';
import { httpStep, plan, tpl } from '../helpers/plan-builder.js';

/** Keeps the thread busy for `ms`: what a long synchronous piece of work does to the event loop. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

function context(timeoutMs: number, over: { allowExec?: string[] } = {}): ExecuteContext {
  const runbook = plan([httpStep('call')], { policy: { deadlineMs: 60_000, retryBudget: 1, guards: [], allowExec: over.allowExec ?? [] } });
  return {
    expr: { input: {}, steps: {}, env: {}, secrets: {}, task: { id: 'tsk_t' } } as unknown as ExecuteContext['expr'],
    runbook,
    step: runbook.steps[0]!,
    attempt: { step: 'call', kind: 'action', attempt: 1, idempotencyKey: null } as ExecuteContext['attempt'],
    signal: new AbortController().signal,
    timeoutMs,
    logger: silentLogger,
  };
}

const get = (url: string): HttpWith => ({ url: tpl(url), method: 'GET', headers: {}, query: {} });

let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    }, 50);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('http step timeout', () => {
  it('runs from when the request is written: a busy loop before that is not the action\'s time', async () => {
    // A connection to reuse, so the request is written as soon as the loop is free again.
    expect(await runHttp(get(`${base}/warm`), context(1000))).toMatchObject({ kind: 'result' });
    const pending = runHttp(get(`${base}/slow-start`), context(300));
    block(400); // longer than the timeout, before the request could be written
    expect(await pending).toMatchObject({ kind: 'result', result: { status: 200, body: { ok: true } } });
  });

  it('still times out an answer that takes longer than the timeout, as possibly applied', async () => {
    const r = await runHttp(get(`${base}/x`), context(20));
    expect(r).toMatchObject({ kind: 'error', code: 'TIMEOUT', maybeApplied: true });
  });

  it('reports a refused connection as not applied', async () => {
    // A port nothing listens on: one that was free a moment ago.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = await runHttp(get(`http://127.0.0.1:${port}/nothing-here`), context(1000));
    expect(r).toMatchObject({ kind: 'error', maybeApplied: false });
  });

  describe('against a server whose connection queue is full', () => {
    // A listener (in another process) that never accepts, with its backlog taken: the kernel
    // drops further connection attempts, so a request to it can never be written.
    let holder: ChildProcess;
    const fillers: Socket[] = [];
    let port = 0;
    beforeAll(async () => {
      holder = spawn(
        process.execPath,
        ['-e', "const s = require('net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => { process.stdout.write(String(s.address().port) + '\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); });"],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      port = await new Promise<number>((resolve) => holder.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      // backlog + 1 connections complete in the kernel; they fill the queue.
      for (let i = 0; i < 4; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => undefined));
    });
    afterAll(() => {
      for (const f of fillers) f.destroy();
      holder.kill('SIGKILL');
    });

    it('reports a request that could not be written within the timeout as a timeout that did not take effect', async () => {
      const r = await runHttp({ ...get(`http://127.0.0.1:${port}/charges`), method: 'POST' }, context(300));
      expect(r).toMatchObject({ kind: 'error', code: 'TIMEOUT', maybeApplied: false });
      expect(r.kind === 'error' && r.message).toMatch(/could not be sent within 300ms/);
    });
  });
});

describe('exec step timeout', () => {
  const sleep: ExecWith = { program: 'sleep', args: [tpl('0.05')], env: {} };

  it('runs from when the program has started, as runwarden sees it start', async () => {
    // Half a second of work, a 400ms timeout, and the loop busy for 400ms right after the start:
    // timed from the call, the program would be killed at 400ms, before it could finish.
    const pending = runExec({ ...sleep, args: [tpl('0.5')] }, context(400, { allowExec: ['sleep'] }));
    block(400);
    expect(await pending).toMatchObject({ kind: 'result', result: { exitCode: 0 } });
  });

  it('still times out a program that runs longer than the timeout, as possibly applied', async () => {
    const r = await runExec({ ...sleep, args: [tpl('5')] }, context(50, { allowExec: ['sleep'] }));
    expect(r).toMatchObject({ kind: 'error', code: 'TIMEOUT', maybeApplied: true });
  });

  it('does not start a program once the worker has stopped, and says it did not take effect', async () => {
    const ctl = new AbortController();
    ctl.abort();
    const r = await runExec(sleep, { ...context(300, { allowExec: ['sleep'] }), signal: ctl.signal });
    expect(r).toMatchObject({ kind: 'error', code: 'ABORTED', maybeApplied: false });
  });
});
