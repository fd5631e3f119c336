/**
 * The deployment config the intake tests run with: one source of each type, written as YAML and
 * loaded through loadConfig (so the CEL mappings go through the load-time checks), and each
 * vendor's way of signing a body.
 */
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type DeploymentConfig } from '../../src/config/index.js';
import { webhookHeaders } from '../../src/escalation/webhook-signature.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/intake/', import.meta.url));
export const fixture = (name: string) => readFile(join(FIXTURES, name), 'utf8');

export const SECRETS = {
  PD_WEBHOOK_SECRET: 'pd-signing-secret-0b1c2d3e',
  JIRA_WEBHOOK_SECRET: 'jira-shared-secret-77aa',
  GH_WEBHOOK_SECRET: 'gh-hook-secret-19f0',
  HOOK_SECRET: `whsec_${Buffer.from('intake-webhook-key-0123456').toString('base64')}`,
  OUT_SECRET: `whsec_${Buffer.from('writeback-webhook-key-9876').toString('base64')}`,
  PD_API_TOKEN: 'pd-rest-api-key-u+abc123',
  JIRA_API_TOKEN: 'jira-api-token-ATATT3x',
  GH_API_TOKEN: 'ghp_writebacktoken0123456789',
};

export const JIRA_SITE = 'https://acme.atlassian.test';
export const OUT_URL = 'https://hooks.example.test/outcomes';
export const GH_API = 'https://api.github.test';
export const PD_API = 'https://api.pagerduty.test';

export const CONFIG_YAML = `
env: [OPS_API_URL]
secrets: { OPS_API_TOKEN: { env: OPS_API_TOKEN } }
publicUrl: https://runwarden.example.test
intake:
  sources:
    alerts:
      type: alertmanager
      onResolved: cancel
      mapping:
        when: "event.status == 'firing' && event.labels.env == 'production'"
        taskClass: "'t.restart'"
        input: "{'service': event.labels.service}"
        requestedBy: "'alertmanager:' + payload.receiver"
        priority: "event.labels.severity == 'critical' ? 10 : 0"
    pd:
      type: pagerduty
      secret: { env: PD_WEBHOOK_SECRET }
      mapping:
        taskClass: "'t.restart'"
        input: "{'service': payload.event.data.service.summary}"
      writeBack: { url: ${PD_API}, token: { env: PD_API_TOKEN }, from: oncall@acme.test, resolve: true }
    jira:
      type: jira
      secret: { env: JIRA_WEBHOOK_SECRET }
      mapping:
        when: "payload.webhookEvent == 'jira:issue_created' && 'runwarden' in payload.issue.fields.labels"
        taskClass: "'t.restart'"
        input: "{'service': payload.issue.fields.components[0].name}"
        requestedBy: "'jira:' + payload.user.displayName"
      writeBack: { url: ${JIRA_SITE}, user: ops-bot@acme.test, token: { env: JIRA_API_TOKEN }, transition: "31" }
    gh:
      type: github
      secret: { env: GH_WEBHOOK_SECRET }
      mapping:
        when: "headers['x-github-event'] == 'issues' && payload.action == 'opened' && payload.issue.labels.exists(l, l.name == 'runwarden:restart')"
        taskClass: "'t.restart'"
        input: "{'service': payload.issue.body.split(': ')[1]}"
      writeBack: { url: ${GH_API}, token: { env: GH_API_TOKEN } }
    hook:
      type: webhook
      secret: { env: HOOK_SECRET }
      mapping:
        when: "payload.type == 'restart.requested'"
        taskClass: "'t.restart'"
        externalRef: "payload.ticket"
        input: "{'service': payload.service}"
        requestedBy: "payload.requester"
      writeBack: { url: ${OUT_URL}, secret: { env: OUT_SECRET } }
`;

export async function intakeConfig(opsUrl: string, yaml = CONFIG_YAML): Promise<DeploymentConfig> {
  const dir = await mkdtemp(join(tmpdir(), 'rw-intake-'));
  const path = join(dir, 'runwarden.yaml');
  await writeFile(path, yaml);
  return loadConfig({ path, env: { ...SECRETS, OPS_API_URL: opsUrl, OPS_API_TOKEN: 'ops-token-3f9a1c7e5b' } });
}

const hex = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex');

export const sign = {
  pagerduty: (body: string, secret = SECRETS.PD_WEBHOOK_SECRET) => ({ 'x-pagerduty-signature': `v1=${hex(secret, body)}`, 'x-webhook-id': 'f1a2b3c4-pd' }),
  jira: (body: string, secret = SECRETS.JIRA_WEBHOOK_SECRET) => ({ 'x-hub-signature': `sha256=${hex(secret, body)}`, 'x-atlassian-webhook-identifier': '3f5e1a' }),
  github: (body: string, secret = SECRETS.GH_WEBHOOK_SECRET, event = 'issues') => ({
    'x-hub-signature-256': `sha256=${hex(secret, body)}`,
    'x-github-event': event,
    'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
  }),
  webhook: (body: string, id = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', secret = SECRETS.HOOK_SECRET) => webhookHeaders({ id, timestamp: Math.floor(Date.now() / 1000), body, secret }),
};
