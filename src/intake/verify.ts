/**
 * Signature checks of the intake sources, each over the raw request body as received (a body
 * parsed and serialised again is not the bytes that were signed):
 *
 * - pagerduty: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>`, several
 *   comma-separated while a secret is rotated (PagerDuty v3 webhooks).
 * - jira: `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>` (Jira Cloud webhooks with a secret).
 * - github: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
 * - webhook: Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), within 5 minutes.
 *
 * Comparisons are constant-time. Alertmanager does not sign; its credential is a bearer token.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IntakeSourceType } from '../config/intake-sources.js';
import { verifyWebhook } from '../escalation/webhook-signature.js';

export type Headers = Record<string, string | undefined>;

function hmacHex(secret: string, body: Buffer): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest();
}

function sameHex(expected: Buffer, hex: string): boolean {
  if (!/^[0-9a-f]+$/i.test(hex)) return false;
  const got = Buffer.from(hex, 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** The header that carries each type's signature (for messages). */
export const SIGNATURE_HEADER: Record<IntakeSourceType, string> = {
  alertmanager: 'authorization',
  pagerduty: 'x-pagerduty-signature',
  jira: 'x-hub-signature',
  github: 'x-hub-signature-256',
  webhook: 'webhook-signature',
};

/** Why a signed request is refused, or undefined when its signature is good. */
export function signatureProblem(type: IntakeSourceType, secret: string, body: Buffer, headers: Headers, now: Date): string | undefined {
  const header = SIGNATURE_HEADER[type];
  const value = headers[header];
  if (!value) return `no ${header} header: the request is not signed`;
  switch (type) {
    case 'pagerduty': {
      const expected = hmacHex(secret, body);
      const ok = value.split(',').map((s) => s.trim()).some((s) => s.startsWith('v1=') && sameHex(expected, s.slice(3)));
      return ok ? undefined : `${header} matches no signature of the body with the configured secret`;
    }
    case 'jira':
    case 'github': {
      const ok = value.startsWith('sha256=') && sameHex(hmacHex(secret, body), value.slice(7));
      return ok ? undefined : `${header} does not match the body signed with the configured secret`;
    }
    case 'webhook': {
      const ok = verifyWebhook({ headers, body: body.toString('utf8'), secret, now });
      return ok ? undefined : 'webhook-signature does not match (Standard Webhooks: id.timestamp.body, timestamp within 5 minutes)';
    }
    case 'alertmanager':
      return 'Alertmanager requests are not signed';
  }
}

/** The sender's id of a delivery, when its type gives one. */
export function deliveryIdOf(type: IntakeSourceType, headers: Headers): string | null {
  switch (type) {
    case 'github':
      return headers['x-github-delivery'] ?? null;
    case 'jira':
      return headers['x-atlassian-webhook-identifier'] ?? null;
    case 'webhook':
      return headers['webhook-id'] ?? null;
    case 'pagerduty':
      return headers['x-webhook-id'] ?? null;
    case 'alertmanager':
      return null;
  }
}
