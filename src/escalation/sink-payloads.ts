/**
 * What each sink receives, as pure functions of the packet: a signed Standard Webhooks POST, a
 * PagerDuty Events API v2 event, a Slack incoming-webhook Block Kit message, a JSON line. Kept
 * apart from the sending so tests can read a payload without a network.
 */
import type { ResolvedSink } from '../config/index.js';
import type { Packet } from './packet-schema.js';
import { REASON_TITLES } from './render-markdown.js';
import { webhookHeaders } from './webhook-signature.js';

/** One delivery: the packet itself, or the news that its task left the escalation. */
export type Delivery =
  | { kind: 'trigger'; packet: Packet }
  | { kind: 'resolve'; packet: Packet; state: string; resolvedAt: string };

/** Sink types that are told when a task leaves its escalation; a file archive only keeps packets. */
export const RESOLVE_SINK_TYPES: ReadonlySet<ResolvedSink['type']> = new Set(['pagerduty', 'webhook', 'slack']);

export interface HttpRequestSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The Standard Webhooks message id: the packet id, and a distinct one for its resolve (receivers dedupe by id). */
export function webhookMessageId(d: Delivery): string {
  return d.kind === 'trigger' ? d.packet.packetId : `${d.packet.packetId}_resolve`;
}

/**
 * The webhook POST: the Standard Webhooks envelope `{ type, timestamp, data }` with the packet
 * (or the resolve notice) as `data`, signed over the exact body sent.
 */
export function webhookRequest(sink: Extract<ResolvedSink, { type: 'webhook' }>, d: Delivery, now: Date): HttpRequestSpec {
  const data =
    d.kind === 'trigger'
      ? d.packet
      : { packetId: d.packet.packetId, taskId: d.packet.task.id, externalRef: d.packet.task.externalRef, state: d.state, resolvedAt: d.resolvedAt };
  const body = JSON.stringify({ type: d.kind === 'trigger' ? 'escalation.packet' : 'escalation.resolved', timestamp: now.toISOString(), data });
  const id = webhookMessageId(d);
  return {
    url: sink.url,
    headers: { 'content-type': 'application/json', ...webhookHeaders({ id, timestamp: Math.floor(now.getTime() / 1000), body, secret: sink.secret }) },
    body,
  };
}

/** Packet severity -> PagerDuty's four. */
export const PAGERDUTY_SEVERITY = { critical: 'critical', high: 'error', medium: 'warning', low: 'warning', info: 'info' } as const;

const clip = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

/**
 * PagerDuty's `dedup_key` of a packet: the task id, so every packet of one task lands on one
 * alert and the resolve closes it; for a schedule's silent-failure packet `schedule:<runbook>`,
 * the schedule's own alert, apart from the incident of the run it hangs on.
 */
export function dedupKey(p: Packet): string {
  return p.reason.kind === 'silent_failure' && p.runbook.id ? `schedule:${p.runbook.id}` : p.task.id;
}

/** The PagerDuty Events API v2 event (`dedup_key`: see dedupKey). */
export function pagerdutyRequest(sink: Extract<ResolvedSink, { type: 'pagerduty' }>, d: Delivery): HttpRequestSpec {
  const p = d.packet;
  const event =
    d.kind === 'resolve'
      ? { routing_key: sink.routingKey, event_action: 'resolve', dedup_key: dedupKey(p) }
      : {
          routing_key: sink.routingKey,
          event_action: 'trigger',
          dedup_key: dedupKey(p),
          client: 'runwarden',
          ...(p.links.task ? { client_url: p.links.task } : {}),
          payload: {
            summary: clip(`${REASON_TITLES[p.reason.kind]}: ${p.summary}`, 1024),
            source: p.runbook.id ?? p.task.taskClass,
            severity: PAGERDUTY_SEVERITY[p.severity],
            timestamp: p.createdAt,
            ...(p.reason.step ? { component: p.reason.step } : {}),
            group: p.route,
            class: p.reason.kind,
            custom_details: {
              packet_id: p.packetId,
              task: p.task.id,
              external_ref: p.task.externalRef,
              reason: p.reason.message,
              failure_class: p.reason.failureClass,
              changed: p.sideEffects.map((s) => ({ step: s.step, system: s.system, effect: s.effect, ids: s.ids })),
              next_action: p.recommendation.action,
              why: p.recommendation.why,
              ...(p.recommendation.advice ? { model_advice: { text: p.recommendation.advice.text, model: p.recommendation.advice.model } } : {}),
              commands: p.recommendation.commands,
              allowed_actions: p.allowedActions,
            },
          },
          ...(p.links.task ? { links: [{ href: p.links.task, text: 'Task in runwarden' }] } : {}),
        };
  return { url: sink.url, headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) };
}

/** Slack mrkdwn escaping: only `&`, `<` and `>` are control characters there. */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const SLACK_EFFECT = { applied: 'done', maybe: '*maybe done* (outcome unknown)', undone: 'undone', undo_failed: 'done, *undo failed*' } as const;

const mrkdwn = (text: string) => ({ type: 'mrkdwn', text: clip(text, 3000) });

/**
 * The Slack message: a header, the summary and reason, the facts, what changed, the next action
 * with its commands in a code block, and links (no buttons: an incoming webhook cannot receive
 * their clicks, and a button that does nothing is worse than a link).
 */
export function slackRequest(sink: Extract<ResolvedSink, { type: 'slack' }>, d: Delivery): HttpRequestSpec {
  const p = d.packet;
  const ref = p.task.externalRef ?? p.task.id;
  if (d.kind === 'resolve' && p.reason.kind === 'silent_failure') {
    // The schedule recovered: a run completed again (the run the packet hung on may still be escalated).
    const what = p.runbook.id ?? p.task.taskClass;
    const text = `Resolved: ${what} has a completed run again (${p.summary})`;
    return {
      url: sink.url,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text, blocks: [{ type: 'section', text: mrkdwn(`:white_check_mark: *Resolved*: ${slackEscape(what)} has a completed run again\n${slackEscape(p.summary)}`) }] }),
    };
  }
  if (d.kind === 'resolve') {
    const text = `Resolved: ${ref} is now ${d.state} (${p.summary})`;
    return {
      url: sink.url,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text, blocks: [{ type: 'section', text: mrkdwn(`:white_check_mark: *Resolved*: ${slackEscape(ref)} is now *${d.state}*\n${slackEscape(p.summary)}`) }] }),
    };
  }
  const e = slackEscape;
  const changed = p.sideEffects.length
    ? p.sideEffects.map((s) => `• *${e(s.step)}* in ${e(s.system ?? 'an external system')}: ${SLACK_EFFECT[s.effect]}${Object.keys(s.ids).length ? ` (${Object.entries(s.ids).map(([k, v]) => `${e(k)} \`${e(String(v))}\``).join(', ')})` : ''}`).join('\n')
    : 'Nothing outside has changed.';
  const r = p.recommendation;
  const advice = r.advice ? `\n_Suggested wording by the model ${e(r.advice.model)}:_ ${e(r.advice.text)}` : '';
  const next = `*Next: ${r.action ?? 'no action left'}*\n${e(r.why)}${advice}${r.ownerNote ? `\n_Runbook owner:_ ${e(r.ownerNote)}` : ''}`;
  const links = [p.links.task ? `<${p.links.task}|Open task>` : '', `packet \`${p.packetId}\``, p.runbook.id ? `runbook ${e(p.runbook.id)}${p.runbook.version !== null ? ` v${p.runbook.version}` : ''}` : ''].filter(Boolean);
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(`${REASON_TITLES[p.reason.kind]}: ${ref}`, 150), emoji: true } },
    { type: 'section', text: mrkdwn(`*${e(p.summary)}*\n${e(p.reason.message)}`) },
    {
      type: 'section',
      fields: [
        mrkdwn(`*Severity*\n${p.severity}`),
        mrkdwn(`*Route*\n${e(p.route)}`),
        mrkdwn(`*Step*\n${e(p.reason.step ?? '—')}${p.reason.failureClass ? ` (${p.reason.failureClass})` : ''}`),
        mrkdwn(`*Retries*\n${p.retryBudget.used} of ${p.retryBudget.limit}`),
      ],
    },
    { type: 'section', text: mrkdwn(`*What changed*\n${changed}`) },
    { type: 'section', text: mrkdwn(next) },
  ];
  if (r.commands.length) blocks.push({ type: 'section', text: mrkdwn(`\`\`\`${r.commands.map(e).join('\n')}\`\`\``) });
  blocks.push({ type: 'context', elements: [mrkdwn(links.join(' · '))] });
  return {
    url: sink.url,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: `${REASON_TITLES[p.reason.kind]}: ${p.summary}`, blocks }),
  };
}

/** The JSON line a file sink appends: the packet. */
export function fileLine(d: Delivery): string {
  return `${JSON.stringify(d.packet)}\n`;
}

/** The sink types whose payload `runwarden packet --format <type>` prints. */
export const PAYLOAD_FORMATS = ['slack', 'pagerduty', 'webhook'] as const;
export type PayloadFormat = (typeof PAYLOAD_FORMATS)[number];

/** Stands in for credentials a printed payload must not carry. */
const HIDDEN = '***';

/**
 * The body a sink of this type receives for the packet's trigger, byte for byte, built by the
 * same functions delivery uses. The one credential a body carries (PagerDuty's routing key) is
 * shown as `***`; URLs and the webhook signature are not part of a body.
 */
export function payloadFor(format: PayloadFormat, packet: Packet, now: Date): string {
  const d: Delivery = { kind: 'trigger', packet };
  switch (format) {
    case 'slack':
      return slackRequest({ name: 'slack', type: 'slack', url: HIDDEN }, d).body;
    case 'pagerduty':
      return pagerdutyRequest({ name: 'pagerduty', type: 'pagerduty', routingKey: HIDDEN, url: HIDDEN }, d).body;
    case 'webhook':
      return webhookRequest({ name: 'webhook', type: 'webhook', url: HIDDEN, secret: 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, d, now).body;
  }
}
