/**
 * What a chaos run must show, judged from the database and from the simulated API's own record
 * (its applied effects and its state), never from what the workers said about themselves:
 *
 * - no task lost (every submitted task is there) and none stuck (every one at rest);
 * - a gap-free ledger per task (seq 1..event_seq), its times never running backwards, and no
 *   attempt left open on a task at rest;
 * - at most one effect of a `once` step (a charge per order, a welcome email per order);
 * - one idempotency key per keyed step (and each keyed effect sent with its key);
 * - the simulated systems' end state matching each task's state (a completed restart left the
 *   service healthy, a completed order has its account, open invoice, live charge, ready tenant
 *   and one email, a rolled-back order has none of them standing, a completed entitlement fix
 *   reads back as asked);
 * - every packet delivered to the sink once, none given up.
 */
import { readFile } from 'node:fs/promises';
import { EFFECT_KINDS, type Effect, type Sim } from '../../src/sim/index.js';
import type { Db } from '../../src/store/db.js';

export interface Submitted {
  id: string;
  tag: string;
  taskClass: string;
  input: Record<string, unknown>;
}

export interface RunOutcome {
  violations: string[];
  byState: Record<string, number>;
  byReason: Record<string, number>;
}

const REST = new Set(['completed', 'partially_completed', 'rolled_back', 'escalated', 'awaiting_approval', 'rejected', 'cancelled', 'failed', 'in_handover']);
/** Effects of routes that honour Idempotency-Key: every one but the charge and the email (*no key*). */
const ONCE_KINDS = new Set<string>(['billing.charge.create', 'email.message.send']);
const KEYED_KINDS = new Set<string>(EFFECT_KINDS.filter((k) => !ONCE_KINDS.has(k)));

interface SimState {
  services: Record<string, { status: string }>;
  entitlements: Record<string, { plan: string; features: string[] }>;
  accounts: Array<{ id: string; customer: string }>;
  invoices: Array<{ id: string; account: string; status: string }>;
  charges: Array<{ id: string; order: string; refunded: boolean }>;
  tenants: Array<{ id: string; account: string; status: string }>;
  messages: Array<{ id: string; ref: string }>;
}

export async function checkRun(o: { db: Db; sim: Sim; submitted: Submitted[]; packetsFile: string; timedOut: boolean }): Promise<RunOutcome> {
  const v: string[] = [];
  const tasks = await o.db.query<{ id: string; state: string; current_step: string | null; event_seq: number; escalation: { kind?: string } | null }>(
    'SELECT id, state, current_step, event_seq, escalation FROM tasks',
  );
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const byState: Record<string, number> = {};
  const byReason: Record<string, number> = {};
  for (const t of tasks) {
    byState[t.state] = (byState[t.state] ?? 0) + 1;
    if (t.state === 'escalated' && t.escalation?.kind) byReason[t.escalation.kind] = (byReason[t.escalation.kind] ?? 0) + 1;
  }

  // Lost or stuck.
  for (const s of o.submitted) {
    const t = byId.get(s.id);
    if (!t) v.push(`task ${s.id} (${s.tag}) lost: not in the database`);
    else if (!REST.has(t.state)) v.push(`task ${s.id} (${s.tag}) stuck ${t.state} at ${t.current_step ?? '-'}${o.timedOut ? ' when the run timed out' : ''}`);
  }

  // The ledger: 1..event_seq with no gap, times forward, nothing left open.
  const ledgers = await o.db.query<{ task_id: string; n: number; lo: number; hi: number }>(
    'SELECT task_id, count(*)::int AS n, min(seq) AS lo, max(seq) AS hi FROM events GROUP BY task_id',
  );
  const ledgerOf = new Map(ledgers.map((l) => [l.task_id, l]));
  for (const t of tasks) {
    const l = ledgerOf.get(t.id);
    const seq = Number(t.event_seq);
    if (!l || Number(l.n) !== seq || Number(l.lo) !== 1 || Number(l.hi) !== seq) {
      v.push(`task ${t.id}: ledger is not 1..${seq} without gaps (${l ? `${l.n} events, ${l.lo}..${l.hi}` : 'no events'})`);
    }
  }
  const backwards = await o.db.query<{ task_id: string; seq: number }>(
    `SELECT task_id, seq FROM (SELECT task_id, seq, at < lag(at) OVER (PARTITION BY task_id ORDER BY seq) AS back FROM events) x WHERE back`,
  );
  for (const b of backwards) v.push(`task ${b.task_id}: ledger time runs backwards at event ${b.seq}`);
  const open = await o.db.query<{ task_id: string; step: string; kind: string; attempt: number }>(
    'SELECT a.task_id, a.step, a.kind, a.attempt FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE a.finished_at IS NULL',
  );
  for (const a of open) {
    if (REST.has(byId.get(a.task_id)?.state ?? '')) v.push(`task ${a.task_id}: attempt ${a.kind} ${a.step}#${a.attempt} left open on a task at rest`);
  }

  // Effects as the API applied them.
  const effects = o.sim.effects();
  const once = new Map<string, number>();
  for (const e of effects) {
    const body = (e.body ?? {}) as Record<string, unknown>;
    if (e.kind === 'billing.charge.create') once.set(`charge for ${String(body.order)}`, (once.get(`charge for ${String(body.order)}`) ?? 0) + 1);
    if (e.kind === 'email.message.send') once.set(`email for ${String(body.ref)}`, (once.get(`email for ${String(body.ref)}`) ?? 0) + 1);
  }
  for (const [what, n] of once) if (n > 1) v.push(`once effect applied ${n} times: ${what}`);
  const keysByStep = new Map<string, Set<string>>();
  for (const e of effects) {
    if (!KEYED_KINDS.has(e.kind)) continue;
    if (!e.idempotencyKey) {
      v.push(`keyed effect ${e.kind} ${e.path} applied without an idempotency key`);
      continue;
    }
    const task = e.idempotencyKey.split(':')[0]!;
    const slot = `${task} ${e.kind}`;
    const keys = keysByStep.get(slot) ?? new Set<string>();
    keys.add(e.idempotencyKey);
    keysByStep.set(slot, keys);
  }
  for (const [slot, keys] of keysByStep) if (keys.size > 1) v.push(`keyed step ${slot} applied under ${keys.size} keys: ${[...keys].join(', ')}`);
  const perKey = new Map<string, number>();
  for (const e of effects) if (e.idempotencyKey && KEYED_KINDS.has(e.kind)) perKey.set(`${e.kind} ${e.idempotencyKey}`, (perKey.get(`${e.kind} ${e.idempotencyKey}`) ?? 0) + 1);
  for (const [k, n] of perKey) if (n > 1) v.push(`keyed effect applied ${n} times: ${k}`);

  // The simulated systems' end state, task by task.
  const state = (await (await fetch(new URL('/_sim/state', o.sim.url))).json()) as SimState;
  for (const s of o.submitted) {
    const t = byId.get(s.id);
    if (t) v.push(...endState(s, t.state, state, effects));
  }

  // Packets: each delivered once, none given up.
  const rows = await o.db.query<{ packet_id: string; kind: string; state: string }>('SELECT packet_id, kind, state FROM outbox');
  for (const r of rows) if (r.state !== 'delivered') v.push(`packet ${r.packet_id} (${r.kind}) not delivered: ${r.state}`);
  const text = await readFile(o.packetsFile, 'utf8').catch(() => '');
  const lines = new Map<string, number>();
  for (const line of text.split('\n').filter(Boolean)) {
    const id = (JSON.parse(line) as { packetId: string }).packetId;
    lines.set(id, (lines.get(id) ?? 0) + 1);
  }
  for (const [id, n] of lines) if (n > 1) v.push(`packet ${id} written to the sink ${n} times`);
  const packets = await o.db.query<{ id: string }>('SELECT id FROM packets');
  for (const p of packets) if (!lines.has(p.id)) v.push(`packet ${p.id} never reached the sink`);

  return { violations: v, byState, byReason };
}

/** What the simulated systems must hold for one task in its end state. */
function endState(s: Submitted, taskState: string, st: SimState, effects: readonly Effect[]): string[] {
  const out: string[] = [];
  const bad = (what: string) => out.push(`task ${s.id} (${s.tag}) ${taskState}, but ${what}`);
  if (s.taskClass === 'service.restart') {
    const svc = String(s.input.service);
    const restarts = effects.filter((e) => e.kind === 'service.restart' && e.path === `/services/${svc}/restart`).length;
    if (restarts > 1) bad(`${svc} was restarted ${restarts} times`);
    if (taskState === 'completed') {
      if (st.services[svc]?.status !== 'healthy') bad(`${svc} is ${st.services[svc]?.status ?? 'unknown'}`);
      if (restarts !== 1) bad(`${svc} was restarted ${restarts} times, not once`);
    }
  } else if (s.taskClass === 'order.onboard') {
    const order = String(s.input.order);
    const customer = String(s.input.customer);
    const created = effects.filter((e) => e.kind === 'crm.account.create' && (e.body as { customer?: string })?.customer === customer).map((e) => e.id!);
    const accounts = st.accounts.filter((a) => a.customer === customer);
    const invoices = st.invoices.filter((i) => created.includes(i.account));
    const charges = st.charges.filter((c) => c.order === order);
    const tenants = st.tenants.filter((x) => created.includes(x.account));
    const emails = st.messages.filter((m) => m.ref === order);
    if (created.length > 1) bad(`${created.length} CRM accounts were created for ${customer}`);
    if (taskState === 'completed' || taskState === 'partially_completed') {
      if (accounts.length !== 1) bad(`${customer} has ${accounts.length} accounts`);
      if (invoices.length !== 1 || invoices[0]!.status !== 'open') bad(`its invoices are ${JSON.stringify(invoices.map((i) => i.status))}`);
      if (charges.filter((c) => !c.refunded).length !== 1) bad(`${order} has ${charges.filter((c) => !c.refunded).length} live charges`);
      if (tenants.length !== 1 || tenants[0]!.status !== 'ready') bad(`its tenants are ${JSON.stringify(tenants.map((x) => x.status))}`);
      if (taskState === 'completed' ? emails.length !== 1 : emails.length > 1) bad(`${emails.length} welcome emails were sent`);
    } else if (taskState === 'rolled_back') {
      if (accounts.length) bad(`${customer} still has ${accounts.length} account(s)`);
      if (invoices.some((i) => i.status !== 'void')) bad(`an invoice is still ${invoices.find((i) => i.status !== 'void')!.status}`);
      if (charges.some((c) => !c.refunded)) bad(`a charge for ${order} stands unrefunded`);
      if (tenants.length) bad(`${tenants.length} tenant(s) still stand`);
      if (emails.length) bad(`a welcome email was sent`);
    }
  } else if (s.taskClass === 'entitlement.fix' && taskState === 'completed') {
    const customer = String(s.input.customer);
    const e = st.entitlements[customer];
    if (!e || e.plan !== s.input.plan || JSON.stringify(e.features) !== JSON.stringify(s.input.features)) bad(`${customer}'s entitlement reads ${JSON.stringify(e)}`);
  }
  return out;
}
