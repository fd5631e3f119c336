/**
 * The demo's story: five tasks from the example runbooks, each arranged on the simulated
 * operations API so it ends the way it is meant to, and together showing every way a task can
 * end (done, refused, handed over, undone, waiting for a person).
 */
import type { TaskState } from '../lifecycle/vocabulary.js';
import type { TaskRequest } from '../orchestrator/intake.js';
import type { Sim } from '../sim/index.js';

/** One demo task: what it shows, how the simulated API is set up for it, and how it should end. */
export interface DemoScenario {
  /** Short stable name, used in external references and the plain progress lines. */
  key: string;
  /** What the task shows, in one line for a new user. */
  title: string;
  /** The state the task should be in when the worker goes idle. */
  expect: TaskState;
  /** The intake request; `runTag` makes the external reference fresh on every run. */
  request(runTag: string): TaskRequest;
  /** Scripts the simulated API (state, faults) before the task is submitted. */
  arrange?(sim: Sim): void;
  /**
   * With `--keep`: sets the simulated API right after the demo's run, so an operator who hands
   * the task back (resume) sees it finish instead of stopping again. What it changes is named in
   * `recovered`, which the demo prints.
   */
  recover?(sim: Sim): void;
  /** What `recover` changed, in words for the printed hints. */
  recovered?: string;
}

const ref = (runTag: string, key: string) => `demo-${runTag}-${key}`;

/** The scenarios in the order they are submitted and shown. */
export const DEMO_SCENARIOS: readonly DemoScenario[] = [
  {
    key: 'restart',
    title: 'restart rides out two 503s, then proves it worked',
    expect: 'completed',
    arrange(sim) {
      sim.setService('billing-api', { status: 'degraded' });
      // Two transient refusals: the keyed restart is retried with backoff and applied once.
      sim.fault({ method: 'POST', path: '/services/billing-api/restart', times: 2, status: 503, body: { error: 'scheduler busy' } });
    },
    request: (runTag) => ({
      taskClass: 'service.restart',
      externalRef: ref(runTag, 'restart'),
      requestedBy: 'demo',
      input: { service: 'billing-api', environment: 'production', reason: 'billing-api reports degraded' },
      priority: 0,
    }),
  },
  {
    key: 'refused',
    title: 'refused at intake: a downgrade while on hold',
    expect: 'rejected',
    request: (runTag) => ({
      taskClass: 'entitlement.fix',
      externalRef: ref(runTag, 'refused'),
      requestedBy: 'demo',
      input: { customer: 'cus_held', plan: 'free', features: [], accountFlags: ['on-hold'] },
      priority: 0,
    }),
  },
  {
    key: 'unhealthy',
    title: 'restarted, never healthy: hands over a packet',
    expect: 'escalated',
    arrange(sim) {
      // Restarts are applied but change nothing: the end-state check cannot pass.
      sim.setService('search-api', { status: 'degraded', stayDegraded: true });
    },
    recover(sim) {
      // A resume re-enters the restart with its same idempotency key, so the simulated API
      // replays the first answer and applies nothing: only a service that is healthy by then
      // passes the check.
      sim.setService('search-api', { status: 'healthy' });
    },
    recovered: 'the simulated API now reports search-api healthy',
    request: (runTag) => ({
      taskClass: 'service.restart',
      externalRef: ref(runTag, 'unhealthy'),
      requestedBy: 'demo',
      input: { service: 'search-api', environment: 'production', reason: 'search-api reports degraded' },
      priority: 0,
    }),
  },
  {
    key: 'rollback',
    title: 'provisioning fails: the order is undone',
    expect: 'rolled_back',
    arrange(sim) {
      // A business refusal (409) is not retried; the step's onFailure is rollback.
      sim.fault({ method: 'POST', path: '/provisioning/tenants', times: 1, status: 409, body: { error: 'no capacity left in the region' } });
    },
    request: (runTag) => ({
      taskClass: 'order.onboard',
      externalRef: ref(runTag, 'rollback'),
      requestedBy: 'demo',
      input: { order: `ord_${runTag.replace(/[^A-Za-z0-9]/g, '')}`, customer: 'cus_globex', plan: 'pro', amount: 490, email: 'ops@globex.example' },
      priority: 0,
    }),
  },
  {
    key: 'approval',
    title: 'a move to enterprise waits for approval',
    expect: 'awaiting_approval',
    arrange(sim) {
      sim.setEntitlement('cus_initech', { plan: 'pro', features: ['sso', 'audit-log'] });
    },
    request: (runTag) => ({
      taskClass: 'entitlement.fix',
      externalRef: ref(runTag, 'approval'),
      requestedBy: 'demo',
      input: { customer: 'cus_initech', plan: 'enterprise', features: ['sso', 'audit-log', 'data-residency'] },
      priority: 0,
    }),
  },
];
