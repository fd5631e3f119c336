/**
 * The factual parts of a packet, each read from the stored task, its ledger and attempts: the
 * progress, what changed where, every attempt, the evidence and the agent's part. Pure.
 */
import type { AttemptKind, AttemptOutcome, FailureClass } from '../lifecycle/vocabulary.js';
import type { CompiledRunbook, CompiledStep } from '../runbook/plan.js';
import { clipText, clipValue, iso, isoOrNull, type AttemptRecord, type LedgerEvent, type PacketStepRecord } from './packet-input.js';
import type { Packet, PacketAgent, PacketAttempt, PacketEvidence, PacketSideEffect } from './packet-schema.js';

/** Longest error text kept per attempt or evidence item. */
export const ERROR_TEXT_LIMIT = 500;
/** Longest JSON excerpt of an observed answer kept as evidence. */
export const OBSERVED_LIMIT = 1500;

/** Step ids in runbook order, then any the record has that the plan does not (an older version). */
function stepOrder(plan: CompiledRunbook | undefined, steps: Record<string, PacketStepRecord>): string[] {
  const ids = plan ? plan.steps.map((s) => s.id) : [];
  return [...ids, ...Object.keys(steps).filter((id) => !ids.includes(id))];
}

export function progressOf(plan: CompiledRunbook | undefined, steps: Record<string, PacketStepRecord>, current: string | null): Packet['progress'] {
  const p: Packet['progress'] = { done: [], current, pending: [], skipped: [], failed: [], inDoubt: [], compensated: [] };
  for (const id of stepOrder(plan, steps)) {
    const status = steps[id]?.status ?? 'pending';
    if (status === 'succeeded') p.done.push(id);
    else if (status === 'skipped') p.skipped.push(id);
    else if (status === 'failed' || status === 'compensation_failed') p.failed.push(id);
    else if (status === 'in_doubt') p.inDoubt.push(id);
    else if (status === 'compensated') p.compensated.push(id);
    else if (id !== current) p.pending.push(id);
  }
  return p;
}

/** The system a step acts on, as a responder would look for it. */
export function systemOf(step: CompiledStep): string | null {
  const spec = step.spec;
  switch (spec.action) {
    case 'http':
      return spec.with.system ?? spec.with.url?.source ?? null;
    case 'exec':
      return `exec:${spec.with.program}`;
    case 'plugin':
      return spec.plugin;
    default:
      return null;
  }
}

/** Failure classes after which an action may have taken effect anyway (no answer came). */
const MAYBE_APPLIED = new Set(['timeout', 'ambiguous']);

/**
 * What a changing step did outside, judged from its status and its action attempts: a step can
 * fail after its action took effect (its verification failed), or time out with the effect made.
 */
function effectOf(status: string, attempts: AttemptRecord[]): PacketSideEffect['effect'] | null {
  if (status === 'succeeded') return 'applied';
  if (status === 'in_doubt') return 'maybe';
  if (status === 'compensated') return 'undone';
  if (status === 'compensation_failed') return 'undo_failed';
  const actions = attempts.filter((a) => a.kind === 'action');
  if (actions.some((a) => a.outcome === 'succeeded')) return 'applied';
  if (actions.some((a) => a.outcome === null || MAYBE_APPLIED.has(a.failureClass ?? ''))) return 'maybe';
  return null;
}

export function sideEffectsOf(plan: CompiledRunbook | undefined, steps: Record<string, PacketStepRecord>, attempts: AttemptRecord[]): PacketSideEffect[] {
  if (!plan) return [];
  const out: PacketSideEffect[] = [];
  for (const step of plan.steps) {
    const rec = steps[step.id];
    if (!step.changes || !rec) continue;
    const effect = effectOf(rec.status, attempts.filter((a) => a.step === step.id));
    if (!effect) continue;
    const ids = Object.fromEntries(step.ids.filter((k) => rec.captures?.[k] !== undefined).map((k) => [k, rec.captures[k]]));
    out.push({
      step: step.id,
      system: systemOf(step),
      repeat: step.repeat,
      status: rec.status,
      effect,
      ids,
      at: isoOrNull(rec.finishedAt ?? rec.startedAt),
    });
  }
  return out;
}

/** Every attempt, oldest first; past `max`, the oldest are left out and counted. */
export function attemptsOf(attempts: AttemptRecord[], max: number): { attempts: PacketAttempt[]; omitted: number } {
  const all = [...attempts]
    .sort((a, b) => Date.parse(iso(a.startedAt)) - Date.parse(iso(b.startedAt)))
    .map((a) => ({
      step: a.step,
      kind: a.kind as AttemptKind,
      attempt: a.attempt,
      startedAt: iso(a.startedAt),
      durationMs: a.durationMs === null || a.durationMs === undefined ? null : Math.round(a.durationMs),
      outcome: (a.outcome ?? null) as AttemptOutcome | null,
      failureClass: (a.failureClass ?? null) as FailureClass | null,
      error: a.error ? clipText(a.error, ERROR_TEXT_LIMIT) : null,
    }));
  const omitted = Math.max(0, all.length - max);
  return { attempts: all.slice(omitted), omitted };
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * The evidence: the last result of each verification check that failed or belongs to the
 * escalated step (with how often it ran), every probe verdict, the answer of the last failed
 * attempt of each step that failed or is in doubt, and guard denials.
 */
export function evidenceOf(events: LedgerEvent[], attempts: AttemptRecord[], focus: { step: string | null; failedSteps: string[] }): PacketEvidence[] {
  const out: PacketEvidence[] = [];
  const checks = new Map<string, { e: LedgerEvent; polls: number }>();
  for (const e of events) {
    if (e.type !== 'verification.result') continue;
    const key = `${e.step ?? ''}\u0000${String(e.data.check)}`;
    checks.set(key, { e, polls: (checks.get(key)?.polls ?? 0) + 1 });
  }
  for (const { e, polls } of checks.values()) {
    const passed = e.data.passed === true;
    if (passed && e.step !== focus.step) continue;
    out.push({
      kind: 'verification',
      step: e.step,
      check: String(e.data.check ?? ''),
      passed,
      expected: String(e.data.expected ?? ''),
      observed: clipValue(e.data.observed ?? null, OBSERVED_LIMIT),
      polls,
      error: str(e.data.error) ? clipText(str(e.data.error)!, ERROR_TEXT_LIMIT) : null,
      at: iso(e.at),
    });
  }
  for (const e of events) {
    if (e.type === 'probe.result') {
      const verdict = e.data.verdict === 'present' || e.data.verdict === 'absent' ? e.data.verdict : 'unknown';
      out.push({
        kind: 'probe',
        step: e.step,
        verdict,
        present: str(e.data.present),
        absent: str(e.data.absent),
        observed: clipValue(e.data.observed ?? null, OBSERVED_LIMIT),
        error: str(e.data.error) ? clipText(str(e.data.error)!, ERROR_TEXT_LIMIT) : null,
        at: iso(e.at),
      });
    } else if (e.type === 'guard.checked' && e.data.verdict === 'denied') {
      const guards = Array.isArray(e.data.guards) ? (e.data.guards as { name?: unknown; denied?: unknown }[]) : [];
      out.push({ kind: 'guard', step: e.step, denied: guards.filter((g) => g.denied === true).map((g) => String(g.name)), at: iso(e.at) });
    }
  }
  const steps = new Set([...(focus.step ? [focus.step] : []), ...focus.failedSteps]);
  for (const id of steps) {
    const last = [...attempts]
      .filter((a) => a.step === id && a.kind !== 'verify' && a.kind !== 'probe' && a.outcome !== 'succeeded')
      .sort((a, b) => Date.parse(iso(b.startedAt)) - Date.parse(iso(a.startedAt)))[0];
    if (!last) continue;
    out.push({
      kind: 'error',
      step: id,
      attempt: last.attempt,
      attemptKind: last.kind as AttemptKind,
      // null: the attempt has no recorded outcome (in doubt); a failure always has its error.
      error: last.error ? clipText(last.error, ERROR_TEXT_LIMIT) : null,
      observed: clipValue(last.result ?? null, OBSERVED_LIMIT),
      at: iso(last.finishedAt ?? last.startedAt),
    });
  }
  return out;
}

/**
 * The agent's part: the last refused proposal if any (a refusal is always shown), else the last
 * proposal. Null when no model took part (a `decide` fallback without a model is not an agent).
 */
export function agentOf(events: LedgerEvent[]): PacketAgent | null {
  const proposals = events.filter((e) => e.type === 'agent.proposal' && typeof e.data.option === 'string');
  const pick = [...proposals].reverse().find((e) => e.data.accepted === false) ?? proposals[proposals.length - 1];
  if (!pick) return null;
  const d = pick.data;
  return {
    step: pick.step,
    model: str(d.model),
    option: String(d.option),
    rationale: str(d.rationale) ? clipText(str(d.rationale)!, ERROR_TEXT_LIMIT) : null,
    confidence: typeof d.confidence === 'number' && Number.isFinite(d.confidence) ? d.confidence : null,
    offered: Array.isArray(d.offered) ? d.offered.map(String) : [],
    accepted: d.accepted === true,
    verdict: str(d.verdict),
    why: str(d.why),
    at: iso(pick.at),
  };
}
