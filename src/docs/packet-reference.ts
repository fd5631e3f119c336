/**
 * The field list of docs/packet-reference.md, generated from PacketSchema: a field the packet
 * gains or loses reaches the page with `npm run docs:write`, and a test fails until it has.
 *
 * Where the schema has no description of its own, the text comes from PACKET_FIELD_NOTES (taken
 * from escalation-packet.md and the builder). A test keeps the notes honest: each must name a
 * field that exists and has no schema description, so a description added to the schema later
 * replaces its note instead of being hidden by it.
 */
import { PacketSchema } from '../escalation/packet-schema.js';
import { generatedNotice } from './markdown.js';
import { renderSection, ZodTables } from './zod-tables.js';

/** Descriptions of packet fields the schema leaves undescribed, by field path. */
export const PACKET_FIELD_NOTES: Readonly<Record<string, string>> = {
  packetVersion: 'Format version of the packet; a reader refuses a version it does not know.',
  packetId: 'Unique id of this packet (`pkt_...`). Deliveries are deduplicated by it, and webhooks send it as `webhook-id`.',
  createdAt: 'When the packet was written.',
  severity: "The runbook's `escalation.severity` (default `high`).",
  route: "Where the packet goes: the runbook's `escalation.routes` entry for the reason, then for the failure class, then the approval's or the step's route, then `escalation.route`, then the owner. The deployment config maps routes to sinks.",
  sideEffects: 'Steps that changed something outside, or may have, with the external ids they captured (`ids`). This is what a rollback or a person may have to undo.',
  attempts: 'The attempts, oldest first: actions, probes, verifications, compensations and refreshes.',
  retryBudget: 'Retries used across all steps of the task, and the limit (`policy.retryBudget`).',
  deadline: "The task's deadline, or null when it has none.",
  evidence: 'What was observed: each verification (expected against observed), each probe verdict, the answers that came with failures, guard denials.',
  links: 'Links for people, such as `task`: the task in the console when a public URL is configured. Empty otherwise.',
  'task.id': 'The task id (`tsk_...`).',
  'task.externalRef': "The requester's reference (a ticket, a work order), or null.",
  'task.taskClass': 'The task class that chose the runbook.',
  'task.requestedBy': 'Who asked, as intake recorded it, or null.',
  'runbook.id': 'The runbook id.',
  'runbook.version': 'The runbook version the task ran.',
  'runbook.owner': "The runbook's owning team.",
  'reason.kind': 'Why automation stopped; the reasons are explained [below](#reasons).',
  'reason.failureClass': 'The failure class of the failure that stopped it, or null when no failure did (an approval, a deadline).',
  'reason.step': 'The step it stopped at, or null.',
  'reason.message': 'What happened, in words, with the observed values.',
  'progress.done': 'Steps that succeeded.',
  'progress.current': 'The step the task stopped at, or null.',
  'progress.pending': 'Steps not started yet.',
  'progress.skipped': 'Steps skipped: their `when` was false, a `goto` jumped over them, or an operator skipped them.',
  'progress.failed': 'Steps that failed.',
  'progress.compensated': 'Steps a rollback has undone.',
  'sideEffects[].step': 'The step.',
  'sideEffects[].repeat': "The step's repeat safety: how it may be run again.",
  'sideEffects[].status': "The step's status now.",
  'sideEffects[].at': 'When the step finished, or null.',
  'attempts[].step': 'The step.',
  'attempts[].kind': 'What was attempted: the action, a probe, a verification, a compensation or a refresh.',
  'attempts[].attempt': 'Attempt number of that kind for that step, from 1.',
  'attempts[].startedAt': 'When the attempt started.',
  'attempts[].durationMs': 'How long it took, or null without an outcome.',
  'attempts[].failureClass': 'Failure class of a failed attempt, else null.',
  'attempts[].error': 'What went wrong, trimmed and masked, else null.',
  'retryBudget.used': 'Retries used.',
  'retryBudget.limit': 'Retries allowed.',
  'evidence[]{kind=verification}.kind': 'A verification check ran.',
  'evidence[]{kind=verification}.step': 'The step it checked.',
  'evidence[]{kind=verification}.check': 'The check id.',
  'evidence[]{kind=verification}.passed': 'Whether it passed.',
  'evidence[]{kind=verification}.expected': 'The `expect` expression.',
  'evidence[]{kind=verification}.observed': 'What the check saw last (masked).',
  'evidence[]{kind=verification}.error': 'Why the check could not be evaluated, else null.',
  'evidence[]{kind=verification}.at': 'When the check ran last.',
  'evidence[]{kind=probe}.kind': 'A probe ran (a `once` step: did the first try take effect?).',
  'evidence[]{kind=probe}.step': 'The step it probed.',
  'evidence[]{kind=probe}.verdict': '`present`: it took effect; `absent`: it did not; `unknown`: the probe proved nothing.',
  'evidence[]{kind=probe}.present': 'The `present` expression.',
  'evidence[]{kind=probe}.absent': 'The `absent` expression.',
  'evidence[]{kind=probe}.observed': 'What the probe saw (masked).',
  'evidence[]{kind=probe}.error': 'Why the probe could not decide, else null.',
  'evidence[]{kind=probe}.at': 'When the probe ran.',
  'evidence[]{kind=error}.kind': 'An attempt failed with an answer worth reading.',
  'evidence[]{kind=error}.step': 'The step.',
  'evidence[]{kind=error}.attempt': 'The attempt number.',
  'evidence[]{kind=error}.attemptKind': 'What was attempted.',
  'evidence[]{kind=error}.at': 'When it failed.',
  'evidence[]{kind=guard}.kind': 'A guard denied the task.',
  'evidence[]{kind=guard}.step': 'The step it was about to run, or null at intake.',
  'evidence[]{kind=guard}.denied': 'The names of the guards that denied it.',
  'evidence[]{kind=guard}.at': 'When the guards were checked.',
  'agent.step': 'The `decide` step.',
  'agent.model': 'The model that answered, or null when the step took its `fallback` without one.',
  'agent.option': 'The option it chose.',
  'agent.rationale': 'Its reason, as it gave it.',
  'agent.confidence': 'Its confidence, 0 to 1.',
  'agent.offered': 'The options it was offered (those whose `when` held).',
  'agent.accepted': 'Whether the guard accepted the proposal.',
  'agent.verdict': "The guard's verdict: `accepted`, `off_policy` (not an offered option) or `ambiguous` (confidence under `minConfidence`).",
  'agent.at': 'When it answered.',
  'recommendation.advice.at': 'When the model wrote it.',
  'recommendation.why': 'Why this action, in words, including what already changed and what a rollback cannot undo.',
};

/** The packet's sections and every field path in them. */
export function packetSections() {
  const tables = new ZodTables({ rootAnchor: 'packet', anchorPrefix: 'packet-', sentences: true, fallbackDescription: (path) => PACKET_FIELD_NOTES[path] });
  return { sections: tables.walk(PacketSchema, '', 'The packet'), fieldPaths: tables.fieldPaths };
}

/**
 * The generated block of docs/packet-reference.md: one table per object of the packet (the
 * packet, then task, runbook, reason, progress, ...), each row a field with its type, whether it
 * is required, and its meaning. Ends with a newline.
 */
export function packetFieldsReference(): string {
  const { sections } = packetSections();
  const contents = sections.map((s) => `- [${s.heading}](#${s.anchor})`).join('\n');
  const body = sections.map((s) => renderSection(s, '###')).join('\n');
  return `${generatedNotice('PacketSchema in src/escalation/packet-schema.ts')}\n\n${contents}\n\n${body}`.replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}
