/**
 * The loader's problems: YAML syntax, schema shape, and where each one is reported. Line and
 * column are asserted exactly, because "naming the right line" is the point of the loader.
 */
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Problem } from '../errors.js';
import { compileRunbookText, loadRunbookFiles, loadRunbookSet } from './load.js';

// Seven lines, so a body's first line is line 8.
const HEADER = `runbook: demo
version: 1
title: Demo
owner: team
taskClasses: [demo.run]
systems:
  api: { baseUrl: "http://api.test" }
`;

function problems(body: string, header = HEADER): Problem[] {
  return compileRunbookText(header + body, 'rb.yaml').problems;
}

/** The one problem there must be. */
function one(body: string): Problem {
  const ps = problems(body);
  expect(ps.map((p) => `${p.line}:${p.col} ${p.path}: ${p.message}`)).toHaveLength(1);
  return ps[0]!;
}

const GET_STEP = `steps:
  - id: first
    action: http
    with: { system: api, path: /a }
`;

describe('a valid runbook', () => {
  it('compiles with no problems', () => {
    const r = compileRunbookText(HEADER + GET_STEP, 'rb.yaml');
    expect(r.problems).toEqual([]);
    expect(r.runbook?.id).toBe('demo');
  });
});

describe('YAML problems', () => {
  it('reports a syntax error where it is', () => {
    const p = one(`steps:
  - id: first
    action: http
    with: { system: api, path: /a
`);
    expect(p).toMatchObject({ file: 'rb.yaml', line: 12, col: 1 });
    expect(p.message).toMatch(/^YAML: /);
  });

  it('reports a duplicate key at the second occurrence', () => {
    const p = one(`steps:
  - id: first
    action: http
    action: exec
    with: { system: api, path: /a }
`);
    expect(p).toMatchObject({ line: 11, col: 5, path: 'steps[0].action', message: 'duplicate key: a key may appear only once in a mapping' });
  });

  it('refuses a document that is not a mapping', () => {
    expect(compileRunbookText('- a\n- b\n', 'rb.yaml').problems).toEqual([
      { file: 'rb.yaml', line: 1, col: 1, path: '', message: 'a runbook is a YAML mapping (runbook:, version:, steps:, ...); got a list' },
    ]);
    expect(compileRunbookText('', 'rb.yaml').problems[0]?.message).toContain('got nothing');
  });
});

describe('schema problems', () => {
  it('names a misspelt key at the key, with the closest known key', () => {
    const p = one(`${GET_STEP}    reapeat: safe
`);
    expect(p).toEqual({ file: 'rb.yaml', line: 12, col: 5, path: 'steps[0].reapeat', message: 'unknown key `reapeat` (did you mean `repeat`?)' });
  });

  it('lists the allowed keys when nothing is close', () => {
    const p = one(`${GET_STEP}escalation: { zzz: 1 }
`);
    expect(p).toMatchObject({ line: 12, col: 15, path: 'escalation.zzz' });
    expect(p.message).toBe('unknown key `zzz`; allowed here: route, routes, severity, recommend, ackWithin, then');
  });

  it('names a wrong type at the value', () => {
    expect(one(`${GET_STEP}    critical: "yes"
`)).toMatchObject({ line: 12, col: 15, path: 'steps[0].critical', message: 'expected a boolean; got "yes"' });
  });

  it('names a missing field at the mapping that lacks it', () => {
    expect(one(`steps:
  - id: first
    with: { system: api, path: /a }
`)).toMatchObject({ line: 9, col: 5, path: 'steps[0].action', message: 'missing required field `action`' });
  });

  it('lists enum values and suggests the closest', () => {
    expect(one(`${GET_STEP}    repeat: safely
`)).toMatchObject({ line: 12, col: 13, path: 'steps[0].repeat', message: 'expected one of safe, keyed, once; got "safely" (did you mean `safe`?)' });
  });

  it('refuses an id that is not kebab-case', () => {
    expect(one(`steps:
  - id: checkHealth
    action: http
    with: { system: api, path: /a }
`)).toMatchObject({ line: 9, col: 9, path: 'steps[0].id' });
    expect(problems(GET_STEP, HEADER.replace('runbook: demo', 'runbook: Demo_Book'))[0]).toMatchObject({ line: 1, col: 10, path: 'runbook' });
  });

  it('refuses invalid durations', () => {
    const p = one(`${GET_STEP}    timeout: 10 seconds
`);
    expect(p).toMatchObject({ line: 12, col: 14, path: 'steps[0].timeout' });
    expect(p.message).toBe('expected a duration: a whole number and a unit: 500ms, 10s, 2m, 1h or 1d; got "10 seconds"');
    expect(one(`${GET_STEP}policy: { deadline: 1h30m }
`)).toMatchObject({ line: 12, col: 21, path: 'policy.deadline' });
  });

  it('checks the `with` of each built-in action, at its own keys', () => {
    expect(one(`steps:
  - id: first
    action: http
    with: { system: api, path: /a, methd: GET }
`)).toMatchObject({ line: 11, col: 36, path: 'steps[0].with.methd', message: 'unknown key `methd` (did you mean `method`?)' });
    expect(one(`steps:
  - id: first
    action: http
    with: { system: api, method: FETCH }
`)).toMatchObject({ line: 11, col: 34, path: 'steps[0].with.method' });
  });

  it('reports every problem, not the first', () => {
    const ps = problems(`steps:
  - id: first
    action: http
    with: { system: nope, path: "/\${input.x +}" }
    reapeat: safe
  - id: first
    action: exec
    with: { program: rm }
    critical: maybe
`);
    expect(ps.map((p) => `${p.line}:${p.col} ${p.path}`)).toEqual([
      '11:21 steps[0].with.system',
      '11:46 steps[0].with.path',
      '12:5 steps[0].reapeat',
      '13:5 steps[1].repeat',
      '13:9 steps[1].id',
      '15:22 steps[1].with.program',
      '16:15 steps[1].critical',
    ]);
  });

  it('checks the input schema subset, and compiles it with ajv', () => {
    expect(one(`${GET_STEP}input:
  type: object
  properties:
    env: { type: string, enm: [a, b] }
`)).toMatchObject({ line: 15, col: 26, path: 'input.properties.env.enm', message: 'unknown key `enm` (did you mean `enum`?)' });
    expect(one(`${GET_STEP}input:
  type: object
  properties:
    env: { type: string, pattern: "([" }
`)).toMatchObject({ line: 15, col: 35, path: 'input.properties.env.pattern' });
    const p = one(`${GET_STEP}input:
  type: object
  properties:
    email: { type: string, format: emial }
`);
    expect(p).toMatchObject({ line: 15, col: 36, path: 'input.properties.email.format' });
    expect(p.message).toMatch(/^unknown format `emial` \(did you mean `email`\?\); known: date, /);
    expect(one(`${GET_STEP}input:
  type: object
  required: [servce]
  properties:
    service: { type: string }
`)).toMatchObject({ line: 14, col: 14, path: 'input.required[0]', message: 'required property `servce` is not under `properties` (did you mean `service`?)' });
    expect(one(`${GET_STEP}input: { type: array }
`)).toMatchObject({ line: 12, col: 16, path: 'input.type' });
  });
});

describe('runbook sets', () => {
  async function folder(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'rw-runbooks-'));
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return dir;
  }

  it('loads a folder of runbooks, indexed by id and task class', async () => {
    const dir = await folder({
      'a.yaml': HEADER + GET_STEP,
      'b.yml': HEADER.replace('runbook: demo', 'runbook: other').replace('[demo.run]', '[other.run, other.fix]') + GET_STEP,
      'notes.txt': 'not a runbook',
    });
    const { set, problems: ps } = await loadRunbookSet(dir);
    expect(ps).toEqual([]);
    expect(set.runbooks.map((r) => r.id)).toEqual(['demo', 'other']);
    expect(set.byTaskClass.get('other.fix')?.id).toBe('other');
    expect(set.byId.get('demo')?.file).toBe(join(dir, 'a.yaml'));
  });

  it('refuses two runbooks claiming one task class, at the later one', async () => {
    const dir = await folder({
      'a.yaml': HEADER + GET_STEP,
      'b.yaml': HEADER.replace('runbook: demo', 'runbook: other').replace('[demo.run]', '[other.run, demo.run]') + GET_STEP,
    });
    const { set, problems: ps } = await loadRunbookSet(dir);
    expect(ps).toEqual([
      {
        file: join(dir, 'b.yaml'),
        line: 5,
        col: 26,
        path: 'taskClasses[1]',
        message: `task class \`demo.run\` is already handled by runbook \`demo\` (${join(dir, 'a.yaml')}); each task class maps to one runbook`,
      },
    ]);
    expect(set.byTaskClass.get('demo.run')?.id).toBe('demo');
  });

  it('refuses a duplicate runbook id, even in a file with other problems', async () => {
    const dir = await folder({ 'a.yaml': HEADER + GET_STEP, 'b.yaml': `${HEADER.replace('[demo.run]', '[demo.other]')}${GET_STEP}    reapeat: safe\n` });
    const { set, problems: ps } = await loadRunbookSet(dir);
    expect(ps.map((p) => `${p.file}:${p.line}:${p.col} ${p.path}`)).toEqual([`${join(dir, 'b.yaml')}:12:5 steps[0].reapeat`, `${join(dir, 'b.yaml')}:1:10 runbook`]);
    expect(ps[1]?.message).toContain('runbook id `demo` is also used by');
    expect(set.runbooks).toHaveLength(1);
  });

  it('takes files and folders, and reports what it cannot read', async () => {
    const dir = await folder({ 'a.yaml': HEADER + GET_STEP });
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'x.yaml'), HEADER.replace('runbook: demo', 'runbook: x').replace('[demo.run]', '[x.run]') + GET_STEP);
    const { set, problems: ps } = await loadRunbookFiles([join(dir, 'a.yaml'), join(dir, 'sub'), join(dir, 'missing.yaml')]);
    expect(set.runbooks.map((r) => r.id)).toEqual(['demo', 'x']);
    expect(ps).toEqual([{ file: join(dir, 'missing.yaml'), path: '', message: 'cannot read: no such file or folder (ENOENT)' }]);
  });
});

describe('idempotencyKey', () => {
  it('on a step that is not repeat: keyed is a problem at the key, since it would never be sent', () => {
    const p = one(`steps:
  - id: charge
    action: http
    with:
      system: api
      method: POST
      path: /charges
      idempotencyKey: "\${task.id}:charge"
    repeat: once
`);
    expect(p).toMatchObject({ file: 'rb.yaml', line: 15, col: 23, path: 'steps[0].with.idempotencyKey' });
    expect(p.message).toMatch(/only sent by `repeat: keyed` steps.*once/);
  });

  it('on a keyed step is what the key is made of', () => {
    expect(
      problems(`steps:
  - id: charge
    action: http
    with: { system: api, method: POST, path: /charges, idempotencyKey: "\${task.id}:c" }
    repeat: keyed
`),
    ).toEqual([]);
  });
});

describe('the v1.1 fields', () => {
  it('compile: a concurrency key, confirm after retry, acknowledgement deadlines', () => {
    const { runbook, problems: ps } = compileRunbookText(
      `${HEADER}policy: { concurrency: { key: "'svc:' + input.service", limit: 2 } }
retry: { transient: { attempts: 3, confirm: true } }
escalation: { ackWithin: 15m, then: [lead, manager] }
${GET_STEP}`,
      'rb.yaml',
    );
    expect(ps).toEqual([]);
    expect(runbook!.policy.concurrency!.limit).toBe(2);
    expect(runbook!.policy.concurrency!.key.evaluate({ input: { service: 'api' }, task: { id: 't', externalRef: null, taskClass: 'demo.run', attempt: 0, requestedBy: null }, steps: {}, env: {}, secrets: {} })).toBe('svc:api');
    expect(runbook!.steps[0]!.retry.transient!.confirm).toBe(true);
    expect(runbook!.steps[0]!.retry.timeout!.confirm).toBe(false);
    expect(runbook!.escalation).toMatchObject({ ackWithinMs: 900_000, then: ['lead', 'manager'] });
  });

  it('refuse a key that reads steps, ackWithin without then, and then without ackWithin', () => {
    expect(one(`policy: { concurrency: { key: "steps.first.status", limit: 1 } }\n${GET_STEP}`)).toMatchObject({
      path: 'policy.concurrency.key',
      message: expect.stringMatching(/evaluated at intake, before any step ran/),
    });
    expect(one(`escalation: { ackWithin: 15m }\n${GET_STEP}`)).toMatchObject({ path: 'escalation.ackWithin', message: expect.stringMatching(/needs `then`/) });
    expect(one(`escalation: { then: [lead] }\n${GET_STEP}`)).toMatchObject({ path: 'escalation.then', message: expect.stringMatching(/needs `ackWithin`/) });
    expect(one(`policy: { concurrency: { key: "input.service", limit: 0 } }\n${GET_STEP}`)).toMatchObject({ path: 'policy.concurrency.limit' });
  });
});
