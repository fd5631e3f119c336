/**
 * The escalation packet v1 (escalation-packet.md) as a zod schema: the one definition that the
 * builder's output is checked against, that consumers can import, and that `runwarden schema
 * packet` prints as JSON Schema. Objects are strict so the published schema and the parser agree
 * on what a v1 packet may hold; a new field is a schema change, seen in review.
 */
import { z } from 'zod';
import {
  ATTEMPT_KINDS,
  ATTEMPT_OUTCOMES,
  ESCALATION_REASONS,
  FAILURE_CLASSES,
  OPERATOR_ACTIONS,
  REPEAT_MODES,
  STEP_STATUSES,
  TASK_STATES,
} from '../lifecycle/vocabulary.js';

/** The packet format version this module writes. */
export const PACKET_VERSION = 1;

/** Severities a runbook may give its escalations (runbook-format.md, `escalation.severity`). */
export const PACKET_SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type PacketSeverity = (typeof PACKET_SEVERITIES)[number];

/** What a side effect amounts to now. */
export const SIDE_EFFECT_STATES = ['applied', 'maybe', 'undone', 'undo_failed'] as const;

// One definition in the JSON Schema (`#/definitions/PacketTime`) rather than its long pattern at every time field.
const Iso = z.iso.datetime({ offset: true }).meta({ id: 'PacketTime', description: 'an ISO 8601 time' });

const TaskPart = z
  .strictObject({
    id: z.string(),
    externalRef: z.string().nullable(),
    taskClass: z.string(),
    requestedBy: z.string().nullable(),
    input: z.record(z.string(), z.unknown()).describe('the task input; fields the runbook marks sensitive are masked'),
  })
  .describe('what was asked');

const RunbookPart = z
  .strictObject({
    id: z.string().nullable(),
    version: z.number().int().nullable(),
    owner: z.string().nullable(),
  })
  .describe('the runbook and version the task ran (null parts when it is no longer loaded)');

const Reason = z
  .strictObject({
    kind: z.enum(ESCALATION_REASONS),
    failureClass: z.enum(FAILURE_CLASSES).nullable(),
    step: z.string().nullable(),
    message: z.string(),
  })
  .describe('why automation stopped');

const Progress = z
  .strictObject({
    done: z.array(z.string()),
    current: z.string().nullable(),
    pending: z.array(z.string()),
    skipped: z.array(z.string()),
    failed: z.array(z.string()),
    inDoubt: z.array(z.string()).describe('started, outcome unknown: may have taken effect'),
    compensated: z.array(z.string()),
  })
  .describe('steps by status, in runbook order');

const SideEffect = z
  .strictObject({
    step: z.string(),
    system: z.string().nullable().describe('the system it changed (http system, exec program or plugin)'),
    repeat: z.enum(REPEAT_MODES),
    status: z.enum(STEP_STATUSES),
    effect: z.enum(SIDE_EFFECT_STATES).describe('applied, maybe applied (outcome unknown), undone, or undo failed'),
    ids: z.record(z.string(), z.unknown()).describe('external ids the step captured'),
    at: Iso.nullable(),
  })
  .describe('a step that changed something outside, or may have');

const Attempt = z
  .strictObject({
    step: z.string(),
    kind: z.enum(ATTEMPT_KINDS),
    attempt: z.number().int(),
    startedAt: Iso,
    durationMs: z.number().int().nullable(),
    outcome: z.enum(ATTEMPT_OUTCOMES).nullable().describe('null: started, no recorded outcome'),
    failureClass: z.enum(FAILURE_CLASSES).nullable(),
    error: z.string().nullable(),
  })
  .describe('one attempt of an action, probe, verification, compensation or refresh');

const Evidence = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('verification'),
      step: z.string().nullable(),
      check: z.string(),
      passed: z.boolean(),
      expected: z.string(),
      observed: z.unknown(),
      polls: z.number().int().describe('how many times the check ran'),
      error: z.string().nullable(),
      at: Iso,
    }),
    z.strictObject({
      kind: z.literal('probe'),
      step: z.string().nullable(),
      verdict: z.enum(['present', 'absent', 'unknown']),
      present: z.string().nullable(),
      absent: z.string().nullable(),
      observed: z.unknown(),
      error: z.string().nullable(),
      at: Iso,
    }),
    z.strictObject({
      kind: z.literal('error'),
      step: z.string(),
      attempt: z.number().int(),
      attemptKind: z.enum(ATTEMPT_KINDS),
      error: z.string().nullable().describe('null: the attempt has no recorded outcome (it may have taken effect)'),
      observed: z.unknown().describe('the answer that came with the failure, trimmed'),
      at: Iso,
    }),
    z.strictObject({
      kind: z.literal('guard'),
      step: z.string().nullable(),
      denied: z.array(z.string()),
      at: Iso,
    }),
  ])
  .describe('what was observed: the end state against what was expected, probe verdicts, failure answers');

const Agent = z
  .strictObject({
    step: z.string().nullable(),
    model: z.string().nullable(),
    option: z.string(),
    rationale: z.string().nullable(),
    confidence: z.number().nullable(),
    offered: z.array(z.string()),
    accepted: z.boolean(),
    verdict: z.string().nullable(),
    why: z.string().nullable().describe('why the guard accepted or refused it'),
    at: Iso,
  })
  .describe('the agent proposal that took part (a refused one is always shown)');

const Advice = z
  .strictObject({
    text: z.string().describe("the model's wording: why the recommended action fits the evidence"),
    model: z.string().describe('the model that wrote it'),
    at: Iso,
  })
  .describe("a configured model's wording of `why`, shown beside the rule text and never replacing it");

const Recommendation = z
  .strictObject({
    action: z.enum(OPERATOR_ACTIONS).nullable().describe('null when no action is left (a final state)'),
    why: z.string(),
    ownerNote: z.string().nullable().describe("the runbook owner's `escalation.recommend` text for this case"),
    commands: z.array(z.string()).describe('exact commands, with <you> for the operator'),
    // Absent and null differ: absent, the model was never asked (none configured, or the packet
    // predates it); null, it was asked once and gave nothing usable, so it is not asked again.
    advice: Advice.nullable()
      .optional()
      .describe('the model\'s wording of `why` (a model may never change the action, commands or allowed actions); absent when no model was asked, null when one was asked and gave nothing'),
  })
  .describe('the recommended next action');

/** The packet v1. */
export const PacketSchema = z
  .strictObject({
    packetVersion: z.literal(PACKET_VERSION),
    packetId: z.string().regex(/^pkt_[a-z2-7]+$/),
    createdAt: Iso,
    task: TaskPart,
    runbook: RunbookPart,
    state: z.enum(TASK_STATES).describe('the task state when the packet was written'),
    reason: Reason,
    summary: z.string().max(300).describe('one line'),
    severity: z.enum(PACKET_SEVERITIES),
    route: z.string(),
    progress: Progress,
    sideEffects: z.array(SideEffect),
    attempts: z.array(Attempt),
    attemptsOmitted: z.number().int().min(0).describe('older attempts left out to keep the packet small'),
    retryBudget: z.strictObject({ used: z.number().int(), limit: z.number().int() }),
    deadline: Iso.nullable(),
    evidence: z.array(Evidence),
    agent: Agent.nullable(),
    recommendation: Recommendation,
    allowedActions: z.array(z.enum(OPERATOR_ACTIONS)).describe('what the current state allows (lifecycle.md)'),
    links: z.record(z.string(), z.string()),
  })
  .describe('runwarden escalation packet v1');

export type Packet = z.infer<typeof PacketSchema>;
export type PacketEvidence = Packet['evidence'][number];
export type PacketAttempt = Packet['attempts'][number];
export type PacketSideEffect = Packet['sideEffects'][number];
export type PacketAgent = NonNullable<Packet['agent']>;
export type PacketRecommendation = Packet['recommendation'];
export type PacketAdvice = NonNullable<PacketRecommendation['advice']>;

/** The packet JSON Schema (draft-07), generated from PacketSchema so the two cannot disagree. */
export function packetJsonSchema(): Record<string, unknown> {
  const out = z.toJSONSchema(PacketSchema, { target: 'draft-07', io: 'output', unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  // A stable name for the document, not a place to fetch it from.
  return { $schema: 'http://json-schema.org/draft-07/schema#', $id: 'urn:runwarden:schema:packet:v1', title: 'runwarden escalation packet (v1)', ...out };
}

/**
 * A stored packet body as a Packet with its fields in schema order (jsonb keeps keys sorted by
 * length, which reads badly); a body that does not parse (a newer version) is returned as it is.
 */
export function readPacket(body: unknown): Packet {
  const parsed = PacketSchema.safeParse(body);
  return parsed.success ? parsed.data : (body as Packet);
}
