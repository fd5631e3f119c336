/**
 * A runbooks folder with one broken file: the others load and serve their task classes, the
 * broken one's classes are listed as unavailable with its problems, and the deployment config
 * beside the runbooks is not read as one. Runbooks that read an `env.NAME` the config does not
 * list are reported where they read it; the errors a runbook author meets most say how to fix them.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../src/errors.js';
import { compileExpr } from '../../src/runbook/cel.js';
import { compileTemplate } from '../../src/runbook/template.js';
import { compileRunbookText, loadRunbookSet } from '../../src/runbook/load.js';
import { deploymentConfig } from '../../src/config/index.js';

const runbook = (id: string, cls: string, extra = '') => `runbook: ${id}
version: 1
title: ${id}
owner: team
taskClasses: [${cls}]
systems:
  api: { baseUrl: "\${env.API_URL}" }
steps:
  - id: check-health
    action: http
    with: { system: api, path: /a }
${extra}`;

async function folder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rw-isolation-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

describe('one broken runbook among good ones', () => {
  it('leaves only itself out: the others load, its classes are unavailable with its problems', async () => {
    const dir = await folder({
      'a.yaml': runbook('a', 'a.run'),
      'b.yaml': runbook('b', 'b.run, b.fix').replace('action: http', 'action: htp'),
      'c.yaml': runbook('c', 'c.run'),
      // The deployment config beside the runbooks is a common layout, not a runbook.
      'runwarden.yaml': 'env: [API_URL]\nsinks: {}\n',
    });
    const { set, problems, unavailable } = await loadRunbookSet(dir);
    expect(set.runbooks.map((r) => r.id).sort()).toEqual(['a', 'c']);
    expect([...set.byTaskClass.keys()].sort()).toEqual(['a.run', 'c.run']);
    expect([...new Set(problems.map((p) => p.file))]).toEqual([join(dir, 'b.yaml')]);
    expect([...unavailable.keys()].sort()).toEqual(['b.fix', 'b.run']);
    expect(unavailable.get('b.run')).toMatchObject({ id: 'b', file: join(dir, 'b.yaml'), problems });
  });

  it('does not list a class as unavailable when a loaded runbook serves it', async () => {
    const dir = await folder({ 'a.yaml': runbook('a', 'x.run'), 'b.yaml': runbook('b', 'x.run').replace('owner: team', 'owner: [') });
    const { unavailable, set } = await loadRunbookSet(dir);
    expect(set.byTaskClass.get('x.run')?.id).toBe('a');
    expect(unavailable.size).toBe(0);
  });
});

describe('env.NAME the deployment config does not list', () => {
  const text = runbook('a', 'a.run', `    when: "has(env.FREEZE) && env['FREEZE'] != 'true'"\n`);

  it('is a problem at the expression that reads it, saying to list it, when a config is given', () => {
    const { problems } = compileRunbookText(text, 'a.yaml', { env: { listed: ['API_URL'], configFile: 'runwarden.yaml' } });
    expect(problems.map(formatProblem)).toEqual([
      expect.stringMatching(/^a\.yaml:12:\d+: steps\[0\]\.when: env\.FREEZE: FREEZE is not listed under `env:` in runwarden\.yaml, .*add it \(env: \[API_URL, FREEZE\]\)$/),
    ]);
    expect(problems[0]!.col).toBeGreaterThan(11);
  });

  it('is no problem once listed, nor without a config to check against', () => {
    expect(compileRunbookText(text, 'a.yaml', { env: { listed: ['API_URL', 'FREEZE'], configFile: 'runwarden.yaml' } }).problems).toEqual([]);
    expect(compileRunbookText(text, 'a.yaml').problems).toEqual([]);
  });
});

describe('messages that say how to fix', () => {
  const ctx = (env: Record<string, string>) => ({ input: {}, task: { id: 't', externalRef: null, taskClass: 'x', attempt: 1, requestedBy: null }, steps: {}, env, secrets: {} });

  it('a hyphenated step id after a dot points to steps[...]', () => {
    const e = compileExpr("steps.chek-health.x == 1", 'task');
    expect('error' in e && e.error.message).toMatch(/write steps\['chek-health'\]/);
    const t = compileTemplate('/a/${steps.check-health.id}');
    expect('errors' in t && t.errors[0]!.message).toMatch(/write steps\['check-health'\]/);
  });

  it('an env.NAME missing at run time says whether it is unlisted or unset, and how to fix it', () => {
    const expr = (s: string) => {
      const c = compileExpr(s, 'task');
      if ('error' in c) throw new Error(c.error.message);
      return c.expr;
    };
    const listed = deploymentConfig({ env: { API_URL: 'http://x' }, envNames: ['API_URL', 'FREEZE'] }).env;
    expect(() => expr('env.OPS_URL == "x"').evaluate(ctx(listed))).toThrow(/env\.OPS_URL is not listed under `env:` in runwarden\.yaml.*Add it \(env: \[API_URL, FREEZE, OPS_URL\]\)/);
    expect(() => expr("env['FREEZE'] == 'true'").evaluate(ctx(listed))).toThrow(/env\.FREEZE is listed under `env:` in runwarden\.yaml but not set where the worker runs/);
    // A copy has no list to tell by: the message says both.
    expect(() => expr('env.OPS_URL == "x"').evaluate(ctx({ ...listed }))).toThrow(/runbooks see only the environment variables runwarden\.yaml lists under `env:` that are set/);
    expect(expr('env.API_URL').evaluate(ctx(listed))).toBe('http://x');
  });

  it('a duration written without its unit says so', () => {
    const { problems } = compileRunbookText(runbook('a', 'a.run', '    timeout: 5\n'), 'a.yaml');
    expect(problems.map((p) => p.message)).toEqual([expect.stringMatching(/expected a duration with its unit \(5s, not 5\).*; got 5$/)]);
  });
});
