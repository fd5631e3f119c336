/**
 * Audit sampling, review records and the figures the report shows, on a seeded ledger (both
 * backends): coverage and findings over the finished tasks in scope, and the share of
 * escalations an operator closed or resumed saying the packet was enough.
 */
import { expect, it } from 'vitest';
import { complete, fail } from '../../src/orchestrator/operator.js';
import type { RunbookSet } from '../../src/runbook/plan.js';
import { auditFigures, recordAudit, sampleFinished } from '../../src/store/audit.js';
import { listEvents } from '../../src/store/tasks.js';
import { describeBackends } from '../helpers/backends.js';
import { seedTask } from '../helpers/seed.js';

const NO_RUNBOOKS: RunbookSet = { runbooks: [], byId: new Map(), byTaskClass: new Map() };
const at = (m: number) => new Date(Date.UTC(2026, 10, 1, 10, m));

describeBackends('audit', (b) => {
  it('samples finished tasks, records reviews and counts coverage, findings and helpful packets', async () => {
    const db = b.db();
    const old = await seedTask(db, { state: 'completed', now: at(0), runbookId: 'restart' });
    const done: Awaited<ReturnType<typeof seedTask>>[] = [];
    for (let i = 0; i < 4; i++) done.push(await seedTask(db, { state: 'completed', now: at(10 + i), runbookId: 'restart' }));
    const other = await seedTask(db, { state: 'rolled_back', now: at(20), runbookId: 'deploy' });
    const running = await seedTask(db, { state: 'running', now: at(21), runbookId: 'restart' });
    // Two escalations handled by operators, one saying the packet was enough, one not.
    const esc1 = await seedTask(db, { state: 'escalated', now: at(22), runbookId: 'restart' });
    const esc2 = await seedTask(db, { state: 'escalated', now: at(23), runbookId: 'deploy' });
    const ctx = { db, runbooks: NO_RUNBOOKS, now: at(30) };
    await complete(ctx, esc1.id, { operator: 'ana', reason: 'restarted by hand', packetHelpful: true });
    await fail(ctx, esc2.id, { operator: 'bo', reason: 'had to start over', packetHelpful: false });

    // The sample: finished tasks only, in scope, at most `size`.
    const sample = await sampleFinished(db, { size: 3, since: at(5), runbook: 'restart' });
    expect(sample).toHaveLength(3);
    for (const t of sample) expect([...done, esc1].map((d) => d.id)).toContain(t.id);
    const all = await sampleFinished(db, { size: 50 });
    expect(all.map((t) => t.id).sort()).toEqual([old, ...done, other, esc1, esc2].map((t) => t.id).sort());
    expect(all.map((t) => t.id)).not.toContain(running.id);

    await recordAudit(db, { taskId: done[0]!.id, verdict: 'ok', note: '', auditor: 'cy', now: at(40) });
    await recordAudit(db, { taskId: done[1]!.id, verdict: 'issue', note: 'restarted a healthy service', auditor: 'cy', now: at(41) });
    await recordAudit(db, { taskId: other.id, verdict: 'issue', note: 'rollback left a tag behind', auditor: 'cy', now: at(42) });
    const ev = (await listEvents(db, done[1]!.id)).at(-1)!;
    expect(ev).toMatchObject({ type: 'audit.recorded', actor: 'auditor:cy', data: { verdict: 'issue', note: 'restarted a healthy service' } });
    // A task still running is not reviewed, and an issue needs a note.
    await expect(recordAudit(db, { taskId: running.id, verdict: 'ok', note: '', auditor: 'cy', now: at(43) })).rejects.toThrow(/running/);
    await expect(recordAudit(db, { taskId: done[2]!.id, verdict: 'issue', note: ' ', auditor: 'cy', now: at(43) })).rejects.toThrow(/note/);
    // Reviewed tasks come last in the next sample.
    const next = await sampleFinished(db, { size: 2, runbook: 'restart', since: at(5) });
    expect(next.map((t) => t.id).some((id) => id === done[0]!.id || id === done[1]!.id)).toBe(false);

    const figures = await auditFigures(db, {});
    // Finished: old, 4 done, other, esc1 (completed by hand), esc2 (failed by hand).
    expect(figures.finished).toBe(8);
    expect(figures.audited).toBe(3);
    expect(figures.coverage).toBeCloseTo(3 / 8);
    expect(figures.verdicts).toEqual({ ok: 1, issue: 2 });
    expect(figures.findings.map((f) => [f.taskId, f.note])).toEqual([
      [other.id, 'rollback left a tag behind'],
      [done[1]!.id, 'restarted a healthy service'],
    ]);
    expect(figures.packets).toEqual({ answered: 2, helpful: 1, share: 0.5 });

    const restart = await auditFigures(db, { runbook: 'restart', since: at(5) });
    expect(restart).toMatchObject({ finished: 5, audited: 2, verdicts: { ok: 1, issue: 1 }, packets: { answered: 1, helpful: 1, share: 1 } });
    expect(restart.findings).toHaveLength(1);
  });
});
