/**
 * An approval cannot outlive the task's deadline: a worker takes the task up at its deadline and
 * hands it over as deadline_exceeded; an approval given after the deadline renews it, as resume does.
 */
import { expect, it } from 'vitest';
import { describeBackends } from '../helpers/backends.js';
import { harness, shiftedClock } from '../helpers/harness.js';
import { useSim } from '../helpers/sim.js';
import { approve } from '../../src/orchestrator/operator.js';
import { openPackets } from '../../src/store/packets.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { createMasker } from '../../src/secrets/mask.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sinkConfig } from '../escalation/sink-mock.js';

const sim = useSim();

describeBackends('approvals and the deadline', ({ db }) => {
  it('an approval nobody gives is handed over as deadline_exceeded at the deadline', async () => {
    const clock = shiftedClock();
    const h = await harness(db(), sim(), clock);
    const config = sinkConfig(join(await mkdtemp(join(tmpdir(), 'rw-approval-')), 'p.jsonl'), { secrets: h.secrets, routes: { default: ['archive'] } });
    const { hooks } = escalationHooks({ config, runbooks: h.runbooks, masker: createMasker(config.secretValues()) });
    const t = await h.submit('t.approval', { order: 'ord_dl1', amount: 5000 });
    await h.work({ hooks });
    expect((await openPackets(db(), t.id)).map((p) => p.reason)).toEqual(['approval_required']);
    const waiting = await h.task(t.id);
    expect(waiting.state).toBe('awaiting_approval');
    expect(waiting.nextAttemptAt).toEqual(waiting.deadlineAt);
    clock.advance(61_000);
    await h.work({ hooks });
    const late = await h.task(t.id);
    expect(late.state).toBe('escalated');
    expect(late.escalation).toMatchObject({ kind: 'deadline_exceeded', step: 'invoice' });
    expect(sim().count('billing.invoice.create')).toBe(0);
    // The approval request is closed by the hand-over; the deadline's packet is the open one.
    expect((await openPackets(db(), t.id)).map((p) => p.reason)).toEqual(['deadline_exceeded']);
  });

  it('an approval given after the deadline renews it, so the approved step runs', async () => {
    const clock = shiftedClock();
    const h = await harness(db(), sim(), clock);
    const t = await h.submit('t.approval', { order: 'ord_dl2', amount: 5000 });
    await h.work();
    clock.advance(61_000);
    await approve({ db: db(), runbooks: h.runbooks, now: clock.now() }, t.id, { operator: 'ana', reason: 'amount confirmed' });
    const approved = await h.task(t.id);
    expect(approved.deadlineAt!.getTime()).toBeGreaterThan(clock.now().getTime());
    const action = (await h.events(t.id)).find((e) => e.type === 'operator.action');
    expect(action?.data).toMatchObject({ action: 'approve', deadlineExtendedTo: approved.deadlineAt!.toISOString() });
    await h.work();
    expect((await h.task(t.id)).state).toBe('completed');
    expect(sim().count('billing.invoice.create')).toBe(1);
  });
});
