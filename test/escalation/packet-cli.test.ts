/**
 * `runwarden packet <task> [--format json|md]` and `runwarden schema packet`, run in process
 * against a real database (the command opens it itself, as the CLI does).
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { deploymentConfig } from '../../src/config/index.js';
import { main } from '../../src/cli/main.js';
import { escalationHooks } from '../../src/escalation/hooks.js';
import { PacketSchema, packetJsonSchema } from '../../src/escalation/packet-schema.js';
import { createMasker } from '../../src/secrets/mask.js';
import { startSim, type Sim } from '../../src/sim/index.js';
import { describeBackends } from '../helpers/backends.js';
import { FIXTURE_RUNBOOKS, harness } from '../helpers/harness.js';

let sim: Sim;
beforeAll(async () => {
  sim = await startSim();
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => sim.reset());
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

/** Runs the CLI in process; returns what it wrote and its exit code. */
async function cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  process.exitCode = undefined;
  try {
    await main(['node', 'runwarden', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { stdout, stderr, code };
}

describeBackends('runwarden packet', ({ db, url, handOff }) => {
  it('prints the latest packet as JSON or as Markdown, and says so when a task has none', async () => {
    const h = await harness(db(), sim);
    const config = deploymentConfig({ secrets: h.secrets });
    const esc = escalationHooks({ config, runbooks: h.runbooks, masker: createMasker(config.secretValues()) });
    sim.setService('cli-a', { status: 'degraded' });
    sim.fault({ method: 'POST', path: '/services/cli-a/restart', status: 403 });
    const stopped = await h.submit('t.restart', { service: 'cli-a' }, { externalRef: 'INC-CLI-1' });
    const fine = await h.submit('t.approval', { order: 'o-cli', amount: 1 });
    await h.work({ hooks: esc.hooks });

    const common = ['--db', url(), '--runbooks', FIXTURE_RUNBOOKS];
    const [json, md, none] = await handOff(async () => [
      await cli(['packet', 'INC-CLI-1', ...common]),
      await cli(['packet', stopped.id, '--format', 'md', ...common]),
      await cli(['packet', fine.id, ...common]),
    ]);
    expect(json.code).toBe(0);
    const packet = PacketSchema.parse(JSON.parse(json.stdout));
    expect(packet).toMatchObject({ task: { id: stopped.id, externalRef: 'INC-CLI-1' }, reason: { kind: 'non_retryable', failureClass: 'permission' } });
    // Fields in schema order, not the database's.
    expect(Object.keys(JSON.parse(json.stdout)).slice(0, 4)).toEqual(['packetVersion', 'packetId', 'createdAt', 'task']);
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/^# Failed, not retryable: INC-CLI-1\n/);
    expect(md.stdout).toContain(`runwarden retry ${stopped.id} --operator <you>`);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toContain(`task ${fine.id} has no escalation packet`);
  });
});

it('runwarden schema packet prints the packet JSON Schema', async () => {
  const r = await cli(['schema', 'packet']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual(packetJsonSchema());
});
