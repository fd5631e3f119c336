/** Escalation packets: the v1 schema, the builder, the Markdown rendering, the sinks and the outbox delivery. */
export { PacketSchema, PACKET_VERSION, PACKET_SEVERITIES, packetJsonSchema, readPacket, type Packet, type PacketSeverity } from './packet-schema.js';
export { buildPacket, routeOf, severityOf, maskSensitive, DEFAULT_MAX_ATTEMPTS, type BuildPacketInput } from './build-packet.js';
export type { PacketTask, LedgerEvent, AttemptRecord } from './packet-input.js';
export { recommend, ownerNote, type RecommendInput } from './recommend.js';
export { renderPacketMarkdown, REASON_TITLES } from './render-markdown.js';
export { webhookRequest, pagerdutyRequest, slackRequest, fileLine, RESOLVE_SINK_TYPES, type Delivery } from './sink-payloads.js';
export { signWebhook, verifyWebhook, webhookKey, webhookHeaders } from './webhook-signature.js';
export { sendToSink, type SendResult } from './sink-send.js';
export { deliverDue, createDeliverer, defaultBackoffMs, DELIVERY_BACKOFF_MS, DEFAULT_MAX_DELIVERY_ATTEMPTS, type DeliverOptions, type DeliveryStats } from './outbox-delivery.js';
export { emitPacket, resolveOpen, refreshOpen, sinksOf, type EmitContext } from './emit.js';
export { escalationHooks, type EscalationHooks, type EscalationHookOptions } from './hooks.js';
