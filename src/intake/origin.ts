/**
 * The ticket a source-made task writes its outcome back to, read from the payload when the task
 * is made: the PagerDuty incident, the Jira issue, the GitHub repository and issue. A webhook
 * source's target is its configured URL, so it needs nothing from the payload.
 */
import type { ResolvedIntakeSource } from '../config/intake-sources.js';
import type { IntakeVars } from '../runbook/cel.js';

function at(v: unknown, ...path: string[]): unknown {
  let cur = v;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined);

/** What identifies the ticket in its system; `{}` when the payload names none. */
export function originTarget(source: ResolvedIntakeSource, vars: IntakeVars): Record<string, unknown> {
  const p = vars.payload;
  const pick = (o: Record<string, string | undefined>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  switch (source.type) {
    case 'pagerduty':
      return pick({ incidentId: text(at(p, 'event', 'data', 'id')), url: text(at(p, 'event', 'data', 'html_url')) });
    case 'jira':
      return pick({ issueKey: text(at(p, 'issue', 'key')) });
    case 'github':
      return pick({
        repository: text(at(p, 'repository', 'full_name')),
        issue: text(at(p, 'issue', 'number')) ?? text(at(p, 'pull_request', 'number')),
        workflowRun: text(at(p, 'workflow_run', 'id')),
      });
    case 'alertmanager':
      return pick({ fingerprint: text(at(vars.event, 'fingerprint')), generatorURL: text(at(vars.event, 'generatorURL')) });
    case 'webhook':
      return {};
  }
}
