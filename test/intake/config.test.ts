/**
 * Intake sources in runwarden.yaml are checked at load like the rest of the config: every
 * problem at once, each at its file:line:col, CEL mappings parsed and type-checked with the
 * runbook expressions' checker, credentials that are missing or wrong, write-backs that lack
 * what their system needs.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { formatProblem, isRunwardenError } from '../../src/errors.js';
import { intakeConfig, SECRETS } from './config.js';

async function problems(yaml: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'rw-intake-cfg-'));
  await writeFile(join(dir, 'runwarden.yaml'), yaml);
  const err = await loadConfig({ path: 'runwarden.yaml', cwd: dir, env: { PD_WEBHOOK_SECRET: 'x' } }).then(() => undefined, (e: unknown) => e);
  if (!isRunwardenError(err)) throw new Error('expected the config to be refused');
  expect(err.code).toBe('CONFIG_INVALID');
  return err.problems.map(formatProblem);
}

it('loads the sources of every type with their mappings compiled and credentials masked', async () => {
  const config = await intakeConfig('http://127.0.0.1:9');
  expect(Object.keys(config.intakeSources).sort()).toEqual(['alerts', 'gh', 'hook', 'jira', 'pd']);
  expect(config.intakeSources.alerts).toMatchObject({ type: 'alertmanager', onResolved: 'cancel' });
  expect(config.intakeSources.pd!.mapping.externalRef!.source).toBe("'pagerduty:' + payload.event.data.id");
  expect(config.secretValues()).toEqual(expect.arrayContaining([SECRETS.PD_WEBHOOK_SECRET, SECRETS.JIRA_API_TOKEN, SECRETS.OUT_SECRET]));
  expect(JSON.stringify(config.toJSON())).not.toContain(SECRETS.GH_WEBHOOK_SECRET);
});

it('lists every problem of the sources at once, each where it is', async () => {
  const lines = await problems(`intake:
  sources:
    alerts:
      type: alertmanager
      secret: abc
      mapping:
        taskClass: "'t.restart'"
        when: "event.labels.env =="
    pd:
      type: pagerduty
      secret: { env: PD_WEBHOOK_SECRET }
      mapping:
        taskClass: "1 + 2"
        priority: "'high'"
        input: "{'service': payload.event.data.service.summary}"
      writeBack: { token: { env: PD_API_TOKEN } }
    Bad Name:
      type: jira
      mapping: { taskClass: "'x'" }
    gh:
      type: githib
      mapping: { taskClass: "'x'" }
    hook:
      type: webhook
      secret: { env: HOOK_SECRET }
      mapping: { taskClas: "'x'" }
`);
  const text = lines.join('\n');
  expect(text).toMatch(/runwarden\.yaml:5:\d+: .*Alertmanager does not sign/);
  expect(text).toMatch(/runwarden\.yaml:8:\d+: intake\.sources\.alerts\.mapping\.when: when: /);
  expect(text).toMatch(/runwarden\.yaml:13:\d+: .*taskClass must give string, this expression gives int/);
  expect(text).toMatch(/runwarden\.yaml:14:\d+: .*priority must give int, this expression gives string/);
  expect(text).toMatch(/writeBack of a pagerduty source needs from/);
  expect(text).toMatch(/runwarden\.yaml:17:\d+: .*source name "Bad Name" must be lower-case/);
  expect(text).toMatch(/runwarden\.yaml:21:\d+: intake\.sources\.gh\.type: .*expected one of/);
  expect(text).toMatch(/runwarden\.yaml:16:\d+: intake\.sources\.pd\.writeBack\.token\.env: environment variable PD_API_TOKEN is not set/);
  expect(text).toMatch(/unknown key "taskClas" \(did you mean "taskClass"\?\)/);
});
