/**
 * Runbook versions are pinned: a task runs on the version it started with to the end, whatever
 * the runbooks folder holds by then; an operator may move a stopped task to the version loaded
 * now, explicitly (`resume --upgrade-runbook`), shown and recorded, and is refused when the step
 * the task is at no longer exists there.
 */
import { expect, it } from 'vitest';
import { createExecutor } from '../../src/agents/index.js';
import { silentLogger } from '../../src/log.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { approve, resume } from '../../src/orchestrator/operator.js';
import { Worker } from '../../src/orchestrator/worker.js';
import { buildRunbookSet, compileRunbookText } from '../../src/runbook/load.js';
import type { RunbookSet } from '../../src/runbook/plan.js';
import { readTaskView } from '../../src/store/task-view.js';
import { getTask, listEvents } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { useSim } from '../helpers/sim.js';

const sim = useSim();
const who = { operator: 'ana', reason: 'checked' };

function set(version: number, steps: string): RunbookSet {
  const text = `runbook: pinned
version: ${version}
title: Pinned (test)
owner: ops
taskClasses: [t.pinned]
input: { type: object }
systems:
  ops: { baseUrl: "\${env.OPS_API_URL}" }
policy: { deadline: 1m }
steps:
${steps}`;
  const { runbook, problems } = compileRunbookText(text, `pinned-v${version}.yaml`);
  if (!runbook) throw new Error(problems.map((p) => p.message).join('\n'));
  return buildRunbookSet([runbook]);
}

const V1 = set(
  1,
  `  - id: invoice
    action: http
    with: { system: ops, method: POST, path: /billing/invoices, body: { account: acc_1, amount: 10 } }
    repeat: keyed
    approval: { route: finance }
  - id: account
    action: http
    with: { system: ops, method: POST, path: /crm/accounts, body: { customer: c1, plan: pro } }
    repeat: keyed
`,
);
// The owner's edit: a step inserted before, the account step gone, an email at the end.
const V2 = set(
  2,
  `  - id: lookup
    action: http
    with: { system: ops, method: GET, path: /entitlements/c1 }
  - id: invoice
    action: http
    with: { system: ops, method: POST, path: /billing/invoices, body: { account: acc_2, amount: 20 } }
    repeat: keyed
  - id: email
    action: http
    with: { system: ops, method: POST, path: /email/messages, body: { to: c1, template: welcome, ref: r1 } }
    repeat: once
`,
);

describeBackends('pinned runbook versions', ({ db }) => {
  const work = (runbooks: RunbookSet) =>
    new Worker({ db: db(), runbooks, executor: createExecutor(), logger: silentLogger, env: { OPS_API_URL: sim().url }, pollMs: 20 }).runUntilIdle();
  const submit = async (ref: string) =>
    (await submitTask(db(), V1, { taskClass: 't.pinned', externalRef: ref, input: {} }, { now: new Date(), env: { OPS_API_URL: sim().url }, secrets: {} })).task;

  it('a task runs on the version it started with, to the end, after the runbook was edited', async () => {
    const t = await submit('PIN-1');
    expect(t.runbookHash).toBe(V1.runbooks[0]!.hash);
    await work(V1);
    expect((await getTask(db(), t.id))!.state).toBe('awaiting_approval');
    // The folder now holds version 2; the approval and the rest of the run happen under it.
    await approve({ db: db(), runbooks: V2, now: new Date() }, t.id, who);
    await work(V2);
    const done = (await getTask(db(), t.id))!;
    expect(done.state).toBe('completed');
    expect(done.runbookVersion).toBe(1);
    const calls = sim().requests().map((r) => `${r.method} ${r.path}`);
    expect(calls).toEqual(['POST /billing/invoices', 'POST /crm/accounts']);
    expect(sim().requests()[0]!.body).toMatchObject({ account: 'acc_1', amount: 10 });
  });

  it('resume --upgrade-runbook moves a stopped task to the version loaded now, recorded and shown', async () => {
    sim().fault({ method: 'POST', path: '/billing/invoices', status: 403 });
    const t = await submit('PIN-2');
    await work(V1);
    await approve({ db: db(), runbooks: V1, now: new Date() }, t.id, who);
    await work(V1);
    expect((await getTask(db(), t.id))!.state).toBe('escalated');
    const r = await resume({ db: db(), runbooks: V2, now: new Date() }, t.id, { ...who, upgradeRunbook: true });
    expect(r.runbookUpgrade).toEqual({ from: { version: 1, hash: V1.runbooks[0]!.hash }, to: { version: 2, hash: V2.runbooks[0]!.hash } });
    const ev = (await listEvents(db(), t.id)).filter((e) => e.type === 'operator.action').at(-1);
    expect(ev?.data).toMatchObject({ action: 'resume', runbookUpgrade: { to: { version: 2 } } });
    await work(V2);
    const done = (await getTask(db(), t.id))!;
    expect(done).toMatchObject({ state: 'completed', runbookVersion: 2, runbookHash: V2.runbooks[0]!.hash });
    expect(sim().requests().filter((r) => r.method === 'POST' && r.path === '/billing/invoices').at(-1)!.body).toMatchObject({ account: 'acc_2' });
    expect(sim().count('email.message.send')).toBe(1);
    const shown = await readTaskView(db(), t.id);
    expect(shown?.runbook).toEqual({ id: 'pinned', version: 2, hash: V2.runbooks[0]!.hash });
  });

  it('is refused, naming the step, when the step the task is at is not in the version loaded now', async () => {
    sim().fault({ method: 'POST', path: '/crm/accounts', status: 403 });
    const t = await submit('PIN-3');
    await work(V1);
    await approve({ db: db(), runbooks: V1, now: new Date() }, t.id, who);
    await work(V1);
    expect((await getTask(db(), t.id))!).toMatchObject({ state: 'escalated', currentStep: 'account' });
    await expect(resume({ db: db(), runbooks: V2, now: new Date() }, t.id, { ...who, upgradeRunbook: true })).rejects.toMatchObject({
      code: 'REQUEST_INVALID',
      message: expect.stringMatching(/version 2 .* has no step account.*steps: lookup, invoice, email/),
    });
    expect((await getTask(db(), t.id))!).toMatchObject({ state: 'escalated', runbookVersion: 1 });
  });
});
