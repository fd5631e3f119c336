/**
 * The cross-field checks, each with the exact line and column it reports. Every runbook here is
 * valid but for the one mistake under test, so each test also proves there is no false alarm.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Problem } from '../errors.js';
import type { PluginRegistry } from './action-schema.js';
import { compileRunbookText } from './load.js';

// Seven lines, so a body's first line is line 8.
const HEADER = `runbook: demo
version: 1
title: Demo
owner: team
taskClasses: [demo.run]
systems:
  api: { baseUrl: "http://api.test" }
`;

function problems(body: string, plugins?: PluginRegistry): Problem[] {
  return compileRunbookText(HEADER + body, 'rb.yaml', plugins ? { plugins } : {}).problems;
}

function where(ps: Problem[]): string[] {
  return ps.map((p) => `${p.line}:${p.col} ${p.path}: ${p.message}`);
}

/** The one problem there must be. */
function one(body: string, plugins?: PluginRegistry): Problem {
  const ps = problems(body, plugins);
  expect(where(ps)).toHaveLength(1);
  return ps[0]!;
}

function none(body: string, plugins?: PluginRegistry): void {
  expect(where(problems(body, plugins))).toEqual([]);
}

describe('step ids and flow', () => {
  it('refuses duplicate step ids, at the second', () => {
    expect(one(`steps:
  - { id: a, action: set, with: { x: "1" } }
  - { id: a, action: set, with: { y: "2" } }
`)).toMatchObject({ line: 10, col: 11, path: 'steps[1].id', message: 'duplicate step id `a`: steps[0] has it already; step ids must be unique' });
  });

  it('refuses a goto to a missing step, with a suggestion', () => {
    expect(one(`steps:
  - id: check
    action: set
    with: { x: "1" }
    next: [{ goto: restat }]
  - { id: restart, action: set, with: { y: "2" } }
`)).toMatchObject({ line: 12, col: 20, path: 'steps[0].next[0].goto', message: 'goto names no step `restat` (did you mean `restart`?)' });
  });

  it('refuses a goto back to an earlier step or the same one: runbooks have no loops', () => {
    const ps = problems(`steps:
  - { id: a, action: set, with: { x: "1" } }
  - id: b
    action: set
    with: { y: "2" }
    next: [{ when: "true", goto: a }]
    onFailure: "goto:b"
`);
    expect(where(ps)).toEqual([
      '13:34 steps[1].next[0].goto: goto `a` goes back to an earlier step (steps[0]): a goto may only name a later step or `end`, runbooks have no loops',
      '14:22 steps[1].onFailure: goto `b` goes back to this same step: a goto may only name a later step or `end`, runbooks have no loops',
    ]);
  });

  it('allows gotos to later steps and to end', () => {
    none(`steps:
  - id: a
    action: set
    with: { x: "1" }
    next: [{ when: "steps.a.x == 1", goto: c }, { goto: end }]
    onFailure: goto:c
  - { id: b, action: set, with: { y: "2" } }
  - { id: c, action: set, with: { z: "3" } }
`);
  });

  it('checks decide options: goto, duplicates, goto with escalate, fallback', () => {
    const ps = problems(`steps:
  - { id: a, action: set, with: { x: "1" } }
  - id: choose
    action: decide
    with:
      question: Which?
      options:
        - { id: back, goto: a }
        - { id: out, escalate: true }
        - { id: out, goto: end, escalate: true }
    fallback: ot
`);
    expect(where(ps)).toEqual([
      '15:29 steps[1].with.options[0].goto: goto `a` goes back to an earlier step (steps[0]): a goto may only name a later step or `end`, runbooks have no loops',
      '17:11 steps[1].with.options[2]: an option either goes to a step (`goto`) or escalates, not both',
      '17:17 steps[1].with.options[2].id: duplicate option id `out`',
      '18:15 steps[1].fallback: `ot` is neither `escalate` nor an option id (did you mean `out`?)',
    ]);
    expect(one(`steps:
  - { id: a, action: set, with: { x: "1" }, fallback: escalate }
`)).toMatchObject({ line: 9, col: 55, path: 'steps[0].fallback', message: '`fallback` only applies to `decide` steps' });
  });
});

describe('repeat safety', () => {
  it('refuses an http step that changes state without repeat, at the step', () => {
    const p = one(`steps:
  - id: restart
    action: http
    with: { system: api, method: POST, path: /restart }
`);
    expect(p).toMatchObject({ line: 9, col: 5, path: 'steps[0].repeat' });
    expect(p.message).toBe(
      'step `restart` changes state (http POST) but has no `repeat`: say `keyed` (deduplicated by an idempotency key), `once` (cannot be deduplicated; give it a `probe`) or `safe` (naturally idempotent)',
    );
  });

  it('takes GET, HEAD, OPTIONS and the built-in gates as changing nothing', () => {
    none(`steps:
  - { id: a, action: http, with: { system: api, path: /a } }
  - { id: b, action: http, with: { system: api, method: HEAD, path: /a } }
  - { id: c, action: approve, with: { prompt: ok? } }
  - { id: d, action: wait, with: { within: 1m } }
  - { id: e, action: set, with: { x: "1" } }
`);
  });

  it('refuses exec and unregistered plugins without repeat', () => {
    const ps = problems(`policy: { allowExec: [systemctl] }
steps:
  - { id: a, action: exec, with: { program: systemctl, args: [restart, x] } }
  - { id: b, action: htp, with: { url: "http://x" } }
`);
    expect(ps.map((p) => `${p.line}:${p.col} ${p.path}`)).toEqual(['10:5 steps[0].repeat', '11:5 steps[1].repeat']);
    expect(ps[0]?.message).toContain('changes state (exec)');
    expect(ps[1]?.message).toContain('`htp` is not a built-in action, so it is taken as a plugin that changes state (did you mean `http`?)');
  });

  it('uses what a registered plugin says about itself', () => {
    const plugins: PluginRegistry = new Map([
      ['lookup-user', { schema: z.object({ email: z.string() }), changes: false }],
      ['open-ticket', { schema: z.object({ title: z.string() }) }],
    ]);
    none(`steps:
  - { id: a, action: lookup-user, with: { email: "\${input.email}" } }
  - { id: b, action: open-ticket, with: { title: t }, repeat: keyed }
`, plugins);
    expect(one(`steps:
  - { id: b, action: open-ticket, with: { title: t } }
`, plugins)).toMatchObject({ line: 9, col: 5, path: 'steps[0].repeat' });
  });

  it('refuses a compensation that changes state without repeat', () => {
    expect(one(`steps:
  - id: create
    action: http
    with: { system: api, method: POST, path: /things }
    repeat: keyed
    compensate:
      action: http
      with: { system: api, method: DELETE, path: /things/1 }
`)).toMatchObject({ line: 14, col: 7, path: 'steps[0].compensate.repeat' });
  });

  it('refuses a probe without present or absent', () => {
    const p = one(`steps:
  - id: charge
    action: http
    with: { system: api, method: POST, path: /charges }
    repeat: once
    probe:
      action: http
      with: { system: api, path: /charges }
      present: "size(result.body.items) > 0"
`);
    expect(p).toMatchObject({ line: 14, col: 7, path: 'steps[0].probe' });
    expect(p.message).toBe('the probe needs `absent`: without both, a replay of this `once` step cannot be decided');
  });

  it('refuses an unattended action that is a gate', () => {
    expect(one(`steps:
  - id: a
    action: http
    with: { system: api, path: /a }
    verify:
      - { id: ok, action: approve, expect: "true" }
`)).toMatchObject({ line: 13, col: 27, path: 'steps[0].verify[0].action' });
  });
});

describe('CEL', () => {
  it('reports a parse error at its column inside the string', () => {
    expect(one(`${'steps:\n  - id: a\n    action: set\n    with: { x: "1" }\n'}    when: "input.x == 1 &&"
`)).toMatchObject({ line: 12, col: 27, path: 'steps[0].when', message: 'CEL: Unexpected token: EOF' });
  });

  it('reports type errors and unknown variables', () => {
    expect(one(`steps:
  - { id: a, action: set, with: { x: "env.A + 1" } }
`)).toMatchObject({ line: 9, col: 39, path: 'steps[0].with.x', message: 'CEL: no such overload: string + int' });
    expect(one(`steps:
  - { id: a, action: set, with: { x: "1 + nope" } }
`)).toMatchObject({ line: 9, col: 43, path: 'steps[0].with.x', message: 'CEL: Unknown variable: nope' });
  });

  it('refuses result outside classify, capture, expect and probe', () => {
    const p = one(`steps:
  - id: a
    action: http
    with: { system: api, path: /a }
    when: "result.status == 200"
    classify: [{ when: "result.status == 409", as: business }]
    capture: { id: "result.body.id" }
`);
    expect(p).toMatchObject({ line: 12, col: 12, path: 'steps[0].when' });
    expect(p.message).toContain('`result` is only visible in classify, capture, verify `expect`');
  });

  it('checks CEL inside ${} at its column, and in guards', () => {
    expect(one(`steps:
  - id: a
    action: http
    with: { system: api, path: "/x/\${input.x +}" }
`)).toMatchObject({ line: 11, col: 47, path: 'steps[0].with.path', message: 'CEL in `${}`: Unexpected token: EOF' });
    expect(one(`policy:
  guards:
    - { name: freeze, deny: "env.FREEZE = 'true'" }
${'steps:\n  - { id: a, action: set, with: { x: "1" } }\n'}`)).toMatchObject({ line: 10, col: 41, path: 'policy.guards[0].deny', message: 'CEL: Unexpected character: =' });
  });

  it('points into a literal block', () => {
    expect(one(`steps:
  - id: a
    action: set
    with: { x: "1" }
    when: |
      input.a == 1 &&
        nope == 2
`)).toMatchObject({ line: 14, col: 9, path: 'steps[0].when', message: 'CEL: Unknown variable: nope' });
  });

  it('refuses steps.<id> that names no step, a later step, or itself too early', () => {
    const ps = problems(`steps:
  - id: a
    action: set
    with: { x: "steps.b.y", z: "steps['nope'].x", w: "steps.a.x" }
    verify:
      - { id: own, action: http, with: { system: api, path: "/\${steps.a.x}" }, expect: "true" }
  - { id: b, action: set, with: { y: "steps.a.x" } }
`);
    expect(where(ps)).toEqual([
      '11:17 steps[0].with.x: `steps.b` is not known yet here: step `b` runs later',
      '11:33 steps[0].with.z: `steps.nope`: no step `nope`',
      '11:55 steps[0].with.w: `steps.a` is not known yet here: a step\'s own captures are known only in its verify, next and compensate',
    ]);
  });

  it('refuses input.<name> the input schema does not declare', () => {
    expect(one(`input:
  type: object
  properties: { service: { type: string } }
steps:
  - { id: a, action: http, with: { system: api, path: "/s/\${input.servce}" } }
`)).toMatchObject({ line: 12, col: 61, path: 'steps[0].with.path', message: '`input.servce`: the input schema has no property `servce` (did you mean `service`?)' });
    none(`input:
  type: object
  properties: { service: { type: string } }
  additionalProperties: true
steps:
  - { id: a, action: http, with: { system: api, path: "/s/\${input.other}" } }
`);
  });
});

describe('references to the rest of the runbook', () => {
  it('refuses a system not defined under systems', () => {
    expect(one(`steps:
  - { id: a, action: http, with: { system: apx, path: /a } }
`)).toMatchObject({ line: 9, col: 44, path: 'steps[0].with.system', message: 'no system `apx` under `systems` (did you mean `api`?); defined: api' });
    expect(one(`steps:
  - { id: a, action: http, with: { path: /a } }
`)).toMatchObject({ line: 9, col: 34, path: 'steps[0].with', message: 'an http action needs `system` (with `path`) or `url`' });
  });

  it('refuses an exec program not in policy.allowExec', () => {
    expect(one(`policy: { allowExec: [kubectl] }
steps:
  - { id: a, action: exec, with: { program: rm, args: [-rf, /] }, repeat: once }
`)).toMatchObject({ line: 10, col: 45, path: 'steps[0].with.program', message: 'program `rm` is not in `policy.allowExec` (allowed: kubectl)' });
  });

  it('refuses ids that the step does not capture', () => {
    expect(one(`steps:
  - id: a
    action: http
    with: { system: api, path: /a }
    capture: { restartId: "result.body.id" }
    ids: [restartId, resartId]
`)).toMatchObject({ line: 13, col: 22, path: 'steps[0].ids[1]', message: '`resartId` is not captured by this step (did you mean `restartId`?): `ids` lists captured names' });
  });

  it('refuses refresh lists naming steps that are not earlier safe steps', () => {
    const ps = problems(`retry:
  dependency: { attempts: 2, refresh: [chek] }
steps:
  - { id: check, action: http, with: { system: api, path: /a } }
  - { id: write, action: http, with: { system: api, method: PUT, path: /a }, repeat: keyed }
  - id: last
    action: http
    with: { system: api, path: /b }
    retry:
      dependency: { attempts: 2, refresh: [check, write, last] }
`);
    expect(where(ps)).toEqual([
      '9:40 retry.dependency.refresh[0]: refresh names no step `chek` (did you mean `check`?)',
      '17:51 steps[2].retry.dependency.refresh[1]: refresh may only re-run `safe` steps; `write` is `keyed`',
      '17:58 steps[2].retry.dependency.refresh[2]: refresh may only re-run earlier steps; `last` is this step',
    ]);
  });

  it('refuses a maxDelay shorter than the delay', () => {
    expect(one(`retry:
  transient: { attempts: 3, delay: 10s, maxDelay: 1s }
${'steps:\n  - { id: a, action: set, with: { x: "1" } }\n'}`)).toMatchObject({ line: 9, col: 51, path: 'retry.transient.maxDelay', message: 'maxDelay (1s) cannot be less than delay (10s)' });
  });

  it('checks escalation keys against reasons, classes and step ids', () => {
    const ps = problems(`escalation:
  routes: { busines: finance }
  recommend: { chek: look first, verification_failed: x, a: y }
steps:
  - { id: a, action: set, with: { x: "1" } }
`);
    expect(where(ps)).toEqual([
      '9:13 escalation.routes.busines: `busines` is neither an escalation reason nor a failure class (did you mean `business`?)',
      '10:16 escalation.recommend.chek: `chek` is not an escalation reason, a failure class or a step id',
    ]);
  });
});

describe('schedule', () => {
  it('refuses an invalid cron expression and an unknown time zone', () => {
    const ps = problems(`schedule: { cron: "61 * * * *", timezone: Mars/Base }
steps:
  - { id: a, action: set, with: { x: "1" } }
`);
    expect(where(ps)).toEqual([
      '8:19 schedule.cron: invalid cron expression: Invalid value for minute: 61',
      '8:43 schedule.timezone: unknown time zone "Mars/Base": expected an IANA name such as UTC or Europe/Berlin',
    ]);
  });

  it('refuses a cron that never fires and an unknown overlap policy', () => {
    const ps = problems(`schedule: { cron: "0 0 30 2 *", overlap: queued }
steps:
  - { id: a, action: set, with: { x: "1" } }
`);
    expect(where(ps)).toEqual([
      '8:19 schedule.cron: the cron expression "0 0 30 2 *" never fires',
      expect.stringMatching(/^8:42 schedule\.overlap: .*skip.*allow.*queue/),
    ]);
  });

  it('checks the scheduled input against the input schema', () => {
    expect(one(`input:
  type: object
  properties: { env: { enum: [staging, production] } }
schedule:
  cron: "*/15 * * * *"
  input: { env: prod }
steps:
  - { id: a, action: set, with: { x: "1" } }
`)).toMatchObject({ line: 13, col: 17, path: 'schedule.input.env', message: 'scheduled input input.env must be one of "staging", "production"; got "prod"' });
  });
});

describe('plugins', () => {
  const plugins: PluginRegistry = { 'open-ticket': { schema: z.strictObject({ title: z.string(), priority: z.number().optional() }) } };

  it('refuses an unknown action when the plugins are known', () => {
    const ps = problems(`steps:
  - { id: a, action: open-tikcet, with: { title: t }, repeat: keyed }
`, plugins);
    expect(where(ps)).toEqual([
      '9:22 steps[0].action: unknown action `open-tikcet` (did you mean `open-ticket`?): built-in actions are http, exec, wait, approve, decide, set; plugins: open-ticket',
    ]);
  });

  it("validates a plugin's with, leaving interpolated values to run time", () => {
    expect(one(`steps:
  - { id: a, action: open-ticket, with: { title: t, prio: 1 }, repeat: keyed }
`, plugins)).toMatchObject({ line: 9, col: 53, path: 'steps[0].with.prio', message: 'unknown key `prio`; allowed here: title, priority' });
    none(`steps:
  - { id: a, action: open-ticket, with: { title: t, priority: "\${input.p}" }, repeat: keyed }
`, plugins);
  });
});
