/**
 * The report over a seeded ledger whose figures are known by hand: every rate, the retry
 * success, time to recovery, failure classes and the systems that cause the pauses, per runbook
 * and per step; `--since` and `--runbook` narrow the window; `report --json` prints the same.
 */
import { beforeAll, expect, it } from 'vitest';
import { buildReport, type Report } from '../../src/store/report.js';
import type { Db } from '../../src/store/db.js';
import { describeBackends } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';

const T0 = Date.parse('2026-06-01T10:00:00Z');
const at = (task: number, s: number) => new Date(T0 + task * 3_600_000 + s * 1000);

type Ev = [type: string, step: string | null, s: number, data?: Record<string, unknown>];
const ok = (step: string, s: number): Ev[] => [
  ['step.started', step, s],
  ['attempt.finished', step, s + 0.5, { kind: 'action', outcome: 'succeeded', failureClass: null }],
  ['step.succeeded', step, s + 0.6],
];
const failed = (step: string, s: number, failureClass: string): Ev => ['attempt.finished', step, s, { kind: 'action', outcome: 'failed', failureClass }];
const to = (state: string, s: number): Ev => ['state.changed', null, s, { to: state }];

const SOURCE = `runbook: rb-a
version: 1
steps:
  - id: s1
    action: http
    with: { system: ops, method: POST, path: /x }
  - id: s2
    action: http
    with: { system: billing, method: POST, path: /y }
`;

async function seed(db: Db): Promise<void> {
  await db.query(`INSERT INTO runbook_versions (hash, runbook_id, version, file, source, created_at) VALUES ('h-a', 'rb-a', 1, 'rb-a.yaml', $1, $2)`, [SOURCE, new Date(T0)]);
  const tasks: Array<{ n: number; runbook: string | null; state: string; events: Ev[] }> = [
    // 1: clean run
    { n: 1, runbook: 'rb-a', state: 'completed', events: [...ok('s1', 0), ...ok('s2', 5), to('completed', 10)] },
    // 2: s1 fails once (transient) at 1s, the retry succeeds; completed at 21s: recovery 20s, retry success
    { n: 2, runbook: 'rb-a', state: 'completed', events: [['step.started', 's1', 0], failed('s1', 1, 'transient'), ['attempt.finished', 's1', 2, { kind: 'action', outcome: 'succeeded' }], ['step.succeeded', 's1', 3], ...ok('s2', 10), to('completed', 21)] },
    // 3: s1 fails at 1s, escalates at 2s, succeeds after a person's resume; completed at 61s: recovery 60s, no retry success
    { n: 3, runbook: 'rb-a', state: 'completed', events: [['step.started', 's1', 0], failed('s1', 1, 'transient'), ['escalated', 's1', 2, { kind: 'retries_exhausted' }], ['step.succeeded', 's1', 5], ...ok('s2', 30), to('completed', 61)] },
    // 4: waits for an approval at s2 (open)
    { n: 4, runbook: 'rb-a', state: 'awaiting_approval', events: [...ok('s1', 0), ['step.started', 's2', 5], ['approval.requested', 's2', 6]] },
    // 5: s2 refused (permission) and escalated (open)
    { n: 5, runbook: 'rb-a', state: 'escalated', events: [...ok('s1', 0), ['step.started', 's2', 5], failed('s2', 6, 'permission'), ['escalated', 's2', 7, { kind: 'non_retryable' }]] },
    // 6: rolled back after s1
    { n: 6, runbook: 'rb-a', state: 'rolled_back', events: [...ok('s1', 0), to('rolled_back', 9)] },
    // 7: rejected at intake
    { n: 7, runbook: 'rb-a', state: 'rejected', events: [['intake.rejected', null, 0]] },
    // 0: another runbook, an hour before the others (outside --since)
    { n: 0, runbook: 'rb-b', state: 'completed', events: [...ok('only', 0), to('completed', 1)] },
  ];
  for (const t of tasks) {
    const id = `tsk_report${t.n}`;
    await db.query(
      `INSERT INTO tasks (id, task_class, runbook_id, runbook_version, runbook_hash, state, event_seq, created_at, updated_at) VALUES ($1, 'c', $2, 1, $3, $4, $5, $6, $6)`,
      [id, t.runbook, t.runbook === 'rb-a' ? 'h-a' : null, t.state, t.events.length, at(t.n, 0)],
    );
    let seq = 0;
    for (const [type, step, s, data] of t.events) {
      seq += 1;
      await db.query('INSERT INTO events (task_id, seq, at, type, step, actor, data) VALUES ($1, $2, $3, $4, $5, $6, $7)', [id, seq, at(t.n, s), type, step, 'worker:w', JSON.stringify(data ?? {})]);
    }
  }
}

describeBackends('report', (b) => {
  let report: Report;
  beforeAll(async () => {
    await seed(b.db());
    report = await buildReport(b.db(), { now: new Date(), since: new Date(T0 + 30 * 60_000) });
  });

  it('computes per-runbook figures from the ledger', () => {
    expect(report.rejected).toBe(1);
    expect(report.runbooks.map((r) => r.runbook)).toEqual(['rb-a']); // rb-b is before --since
    const [a] = report.runbooks;
    expect(a).toMatchObject({
      tasks: 6,
      completed: 3,
      partiallyCompleted: 0,
      rolledBack: 1,
      open: 2,
      escalated: 2,
      paused: 3,
      completionRate: 0.5,
      rollbackRate: 0.1667,
      escalationRate: 0.3333,
      pauseRate: 0.5,
      retry: { firstFailures: 3, recoveredByRetry: 1, rate: 0.3333 },
      recovery: { recovered: 2, p50Seconds: 40, p90Seconds: 56 },
      failureClasses: { transient: 2, permission: 1 },
      pausesBySystem: [
        { system: 'billing', pauses: 2 },
        { system: 'ops', pauses: 1 },
      ],
    });
  });

  it('computes per-step figures', () => {
    const steps = Object.fromEntries(report.runbooks[0]!.steps.map((s) => [s.step, s]));
    expect(steps.s1).toMatchObject({ tasks: 6, pauses: 1, pauseRate: 0.1667, retry: { firstFailures: 2, recoveredByRetry: 1, rate: 0.5 }, recovery: { recovered: 2, p50Seconds: 40, p90Seconds: 56 }, failureClasses: { transient: 2 } });
    expect(steps.s2).toMatchObject({ tasks: 5, pauses: 2, pauseRate: 0.4, retry: { firstFailures: 1, recoveredByRetry: 0, rate: 0 }, recovery: { recovered: 0, p50Seconds: null, p90Seconds: null }, failureClasses: { permission: 1 } });
  });

  it('narrows to one runbook, and to all time without --since', async () => {
    const all = await buildReport(b.db(), { now: new Date() });
    expect(all.runbooks.map((r) => [r.runbook, r.tasks])).toEqual([
      ['rb-a', 6],
      ['rb-b', 1],
    ]);
    expect(all.totals).toMatchObject({ tasks: 7, completed: 4, recovery: { recovered: 2, p50Seconds: 40 } });
    const onlyB = await buildReport(b.db(), { now: new Date(), runbook: 'rb-b' });
    expect(onlyB.runbooks.map((r) => r.runbook)).toEqual(['rb-b']);
    expect(onlyB.rejected).toBe(0);
  });

  it('prints the same figures with report --json', async () => {
    const r = await b.handOff(() => runCli(['report', '--json', '--runbook', 'rb-a', '--db', b.url()]));
    expect(r.code, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout) as Report;
    const direct = await buildReport(b.db(), { now: new Date(), runbook: 'rb-a' });
    expect({ ...printed, generatedAt: '' }).toEqual({ ...direct, generatedAt: '' });
    expect(printed.runbooks[0]).toMatchObject({ tasks: 6, retry: { rate: 0.3333 } });
  });
});
