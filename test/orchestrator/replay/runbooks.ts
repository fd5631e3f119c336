/**
 * The runbooks the recorded scenarios run (their YAML text is stored in each fixture, so a later
 * edit here or in runbooks/ never changes what a recorded fixture replays).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ORDER_ONBOARDING = readFileSync(fileURLToPath(new URL('../../../runbooks/order-onboarding.yaml', import.meta.url)), 'utf8');

const head = (id: string, extra = '') => `runbook: ${id}
version: 1
title: ${id} (replay)
owner: platform-oncall
taskClasses: [replay.${id}]
systems:
  ops:
    baseUrl: \${env.OPS_API_URL}
    headers: { Authorization: "Bearer \${secrets.OPS_API_TOKEN}" }
    timeout: 5s
${extra}`;

/** Health check, a keyed restart with refresh and a polled verification. */
export const RESTART = `${head('restart')}input: { type: object, required: [service], properties: { service: { type: string } } }
policy: { deadline: 10m, retryBudget: 6 }
steps:
  - id: check-health
    action: http
    with: { system: ops, method: GET, path: "/services/\${input.service}/health" }
    capture: { status: "result.body.status" }
  - id: restart
    action: http
    with: { system: ops, method: POST, path: "/services/\${input.service}/restart", idempotencyKey: "\${task.id}:restart" }
    repeat: keyed
    when: "steps['check-health'].status != 'healthy'"
    retry:
      transient: { attempts: 3, delay: 1s, refresh: true }
      verification: { attempts: 2, delay: 2s }
    classify:
      - { when: "result.status == 409", as: business }
    capture: { restartId: "result.body.id" }
    ids: [restartId]
    verify:
      - id: healthy
        action: http
        with: { system: ops, method: GET, path: "/services/\${input.service}/health" }
        expect: "result.body.status == 'healthy'"
        poll: { every: 1s, within: 3s }
`;

/** One keyed step under the runbook's retry policies (exponential with jitter, timeouts). */
export const DEPLOY = `${head('deploy')}input: { type: object, required: [version], properties: { version: { type: string } } }
policy: { deadline: 10m, retryBudget: 4 }
retry:
  transient: { attempts: 4, backoff: exponential, delay: 1s, maxDelay: 8s, jitter: true }
  timeout: { attempts: 2, delay: 2s }
steps:
  - id: deploy
    action: http
    with: { system: ops, method: POST, path: /deployments, body: { version: "\${input.version}" } }
    repeat: keyed
    capture: { deploymentId: "result.body.id" }
  - id: announce
    action: http
    with: { system: ops, method: POST, path: /announcements, body: { text: "deployed \${input.version}" } }
    repeat: keyed
`;

/** A short deadline: retries and entries run into it. */
export const HURRY = `${head('hurry')}input: { type: object }
policy: { deadline: 3s, retryBudget: 10 }
retry:
  transient: { attempts: 5, backoff: fixed, delay: 1s }
steps:
  - id: first
    action: http
    with: { system: ops, method: POST, path: /first }
    repeat: keyed
  - id: second
    action: http
    with: { system: ops, method: POST, path: /second }
    repeat: keyed
`;

/** A once step without a probe, then a safe read. */
export const NOTIFY = `${head('notify')}input: { type: object, required: [to], properties: { to: { type: string } } }
policy: { deadline: 10m, retryBudget: 4 }
steps:
  - id: notify
    action: http
    with: { system: ops, method: POST, path: /email/messages, body: { to: "\${input.to}" } }
    repeat: once
    capture: { messageId: "result.body.id" }
  - id: read-back
    action: http
    with: { system: ops, method: GET, path: "/email/messages/\${steps.notify.messageId}" }
`;

/** A reservation undone by a compensation that cannot be replayed. */
export const RESERVE = `${head('reserve')}input: { type: object }
policy: { deadline: 10m, retryBudget: 4 }
steps:
  - id: reserve
    action: http
    with: { system: ops, method: POST, path: /reservations }
    repeat: keyed
    capture: { reservationId: "result.body.id" }
    compensate:
      action: http
      with: { system: ops, method: POST, path: "/reservations/\${steps.reserve.reservationId}/release" }
      repeat: once
  - id: confirm
    action: http
    with: { system: ops, method: POST, path: /confirmations }
    repeat: keyed
    retry: {}
    onFailure: rollback
`;

/** A reservation, then a gated confirmation that rolls back when it fails or is denied. */
export const GATED_ROLLBACK = `${head('gated-rollback')}input: { type: object }
policy: { deadline: 10m }
steps:
  - id: reserve
    action: http
    with: { system: ops, method: POST, path: /reservations }
    repeat: keyed
    capture: { reservationId: "result.body.id" }
    compensate:
      action: http
      with: { system: ops, method: POST, path: "/reservations/\${steps.reserve.reservationId}/release" }
      repeat: keyed
  - id: confirm
    action: http
    with: { system: ops, method: POST, path: /confirmations }
    repeat: keyed
    approval: { route: finance }
    onFailure: rollback
`;

const decideSteps = (fallback: string) => `steps:
  - id: check-health
    action: http
    with: { system: ops, method: GET, path: "/services/\${input.service}/health" }
    capture: { status: "result.body.status" }
  - id: choose
    action: decide
    timeout: 2s
    with:
      question: Which remediation fits the observed state?
      show: [input, "steps['check-health']"]
      options:
        - { id: restart, goto: restart, when: "steps['check-health'].status == 'degraded'" }
        - { id: failover, goto: failover, when: "input.environment == 'production'" }
        - { id: hand-to-human, escalate: true }
      minConfidence: 0.7
    fallback: ${fallback}
  - id: failover
    action: http
    with: { system: ops, method: POST, path: "/services/\${input.service}/failover" }
    repeat: keyed
    next: [{ goto: end }]
  - id: restart
    action: http
    with: { system: ops, method: POST, path: "/services/\${input.service}/restart" }
    repeat: keyed
`;

const decideHead = (id: string) => `${head(id)}input: { type: object, required: [service, environment], properties: { service: { type: string }, environment: { type: string } } }
policy: { deadline: 10m, retryBudget: 6 }
retry:
  transient: { attempts: 2, delay: 1s }
  timeout: { attempts: 2, delay: 1s }
`;

/** A model decides between remediations; without one, the task escalates. */
export const DECIDE = `${decideHead('decide')}${decideSteps('escalate')}`;
/** The same, falling back to `restart` without a model. */
export const DECIDE_FALLBACK = `${decideHead('decide-fallback')}${decideSteps('restart')}`;

/** A decision none of whose options can be offered. */
export const DECIDE_NONE = `${head('decide-none')}input: { type: object }
policy: { deadline: 10m }
steps:
  - id: choose
    action: decide
    with:
      question: Which?
      options:
        - { id: left, goto: left, when: "false" }
        - { id: right, goto: right, when: "1 == 2" }
  - id: left
    action: http
    with: { system: ops, method: POST, path: /left }
    repeat: keyed
  - id: right
    action: http
    with: { system: ops, method: POST, path: /right }
    repeat: keyed
`;

/** An order whose system calls back; the wait's token is handed out by the first step. */
export const CALLBACK = `${head('callback')}input: { type: object, required: [order], properties: { order: { type: string } } }
policy: { deadline: 10m }
steps:
  - id: place-order
    action: http
    with: { system: ops, method: POST, path: /orders, body: { order: "\${input.order}", callback: "\${task.callbackToken}" } }
    repeat: keyed
    capture: { orderId: "result.body.id" }
  - id: wait-shipped
    action: wait
    with: { within: 1m }
    capture: { tracking: "result.tracking" }
  - id: summary
    action: set
    with: { line: "steps['place-order'].orderId + ' ' + steps['wait-shipped'].tracking" }
`;

/** A wait that may time out without stopping the task. */
export const OPTIONAL_WAIT = `${head('optional-wait')}input: { type: object }
policy: { deadline: 10m }
steps:
  - id: wait-ack
    action: wait
    with: { within: 30s }
    critical: false
  - id: finish
    action: http
    with: { system: ops, method: POST, path: /finish }
    repeat: keyed
`;

/** Guards: one reads a capture, one cannot be evaluated once a capture is missing. */
export const GUARDED = `${head('guarded')}input: { type: object, required: [customer], properties: { customer: { type: string } } }
policy:
  deadline: 10m
  guards:
    - name: account-on-hold
      deny: "'plan' in steps.lookup && steps.lookup.plan == 'on-hold'"
      message: the account is on hold; entitlements must not change
steps:
  - id: lookup
    action: http
    with: { system: ops, method: GET, path: "/entitlements/\${input.customer}" }
    capture: { plan: "result.body.plan" }
  - id: update
    action: http
    with: { system: ops, method: PUT, path: "/entitlements/\${input.customer}", body: { plan: pro } }
    repeat: keyed
`;

/** A guard that cannot be evaluated denies. */
export const BROKEN_GUARD = `${head('broken-guard')}input: { type: object }
policy:
  deadline: 10m
  guards:
    - name: needs-ticket
      deny: "input.ticket.priority == 'low'"
      message: low-priority tickets are not automated
steps:
  - id: act
    action: http
    with: { system: ops, method: POST, path: /act }
    repeat: keyed
`;

/** A planned approval with a prompt, then the refund it approves. */
export const REFUND = `${head('refund')}input: { type: object, required: [amount], properties: { amount: { type: number } } }
policy: { deadline: 10m }
steps:
  - id: confirm
    action: approve
    with: { route: finance, prompt: "Refund \${input.amount}?" }
  - id: refund
    action: http
    with: { system: ops, method: POST, path: /refunds, body: { amount: "\${input.amount}" } }
    repeat: keyed
`;

/** Branching: set, next rules, onFailure goto and continue, goto end. */
export const BRANCHES = `${head('branches')}input: { type: object, required: [amount], properties: { amount: { type: number } } }
policy: { deadline: 10m, allowExec: ["true"] }
retry: {}
steps:
  - id: size
    action: set
    with: { big: "input.amount > 100" }
  - id: route
    action: http
    with: { system: ops, method: GET, path: /routes }
    next: [{ when: "steps.size.big", goto: big }]
  - id: small
    action: http
    with: { system: ops, method: POST, path: /small }
    repeat: keyed
    next: [{ goto: end }]
  - id: big
    action: http
    with: { system: ops, method: POST, path: /big }
    repeat: keyed
    onFailure: goto:cleanup
  - id: optional
    action: http
    with: { system: ops, method: POST, path: /optional }
    repeat: keyed
    onFailure: continue
  - id: cleanup
    action: http
    with: { system: ops, method: POST, path: /cleanup }
    repeat: keyed
    capture: { id: "result.body.id" }
  - id: check
    action: exec
    with: { program: "true", args: ["--id", "\${steps.cleanup.id}"] }
    repeat: keyed
`;

/** Expressions that fail at run time: a `when` and a capture. */
export const BROKEN_EXPRESSIONS = `${head('broken-expressions')}input: { type: object }
policy: { deadline: 10m }
steps:
  - id: fetch
    action: http
    with: { system: ops, method: GET, path: /things }
    capture: { first: "result.body.items[0].id" }
  - id: maybe
    action: http
    with: { system: ops, method: POST, path: /maybe }
    repeat: keyed
    when: "steps.fetch.first.startsWith('x')"
`;

/** A charge that cannot be deduplicated, undone by a refund when provisioning fails. */
export const CHARGE_ROLLBACK = `${head('charge-rollback')}input: { type: object, required: [order], properties: { order: { type: string } } }
policy: { deadline: 10m, retryBudget: 4 }
steps:
  - id: account
    action: http
    with: { system: ops, method: POST, path: /crm/accounts }
    repeat: keyed
    capture: { accountId: "result.body.id" }
    compensate:
      action: http
      with: { system: ops, method: DELETE, path: "/crm/accounts/\${steps.account.accountId}" }
      repeat: keyed
  - id: charge
    action: http
    with: { system: ops, method: POST, path: /billing/charges, body: { order: "\${input.order}" } }
    repeat: once
    retry: { timeout: { attempts: 1 } }
    onFailure: rollback
    probe:
      action: http
      with: { system: ops, method: GET, path: /billing/charges, query: { order: "\${input.order}" } }
      present: "size(result.body.items) > 0"
      absent: "size(result.body.items) == 0"
      capture: { chargeId: "result.body.items[0].id" }
    capture: { chargeId: "result.body.id" }
    compensate:
      action: http
      with: { system: ops, method: POST, path: "/billing/charges/\${steps.charge.chargeId}/refund" }
      repeat: keyed
`;
