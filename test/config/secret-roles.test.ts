/**
 * Secrets granted to roles (`secrets.NAME.roles`): a worker loads only the secrets of the roles it
 * serves, and a runbook whose verification reads a secret granted to execution only does not load,
 * with the place of the read.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { formatProblem, isRunwardenError } from '../../src/errors.js';
import { loadRunbooks } from '../../src/runtime.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rw-secret-roles-'));
  await mkdir(join(dir, 'runbooks'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CONFIG = `env: [OPS_API_URL]
secrets:
  OPS_WRITE_TOKEN: { env: OPS_WRITE, roles: [execution] }
  OPS_READ_TOKEN: { env: OPS_READ, roles: [verification, execution] }
  SHARED: { env: SHARED_VALUE }
`;

/** A restart whose check calls `system`; `ops` carries the write token, `ops-read` the read one. */
const runbook = (checkSystem: string, expectText = "result.body.status == 'healthy'") => `runbook: restart
version: 1
title: Restart
owner: ops
taskClasses: [svc.restart]
systems:
  ops:
    baseUrl: \${env.OPS_API_URL}
    headers: { Authorization: "Bearer \${secrets.OPS_WRITE_TOKEN}" }
  ops-read:
    baseUrl: \${env.OPS_API_URL}
    headers: { Authorization: "Bearer \${secrets.OPS_READ_TOKEN}" }
steps:
  - id: restart
    action: http
    with: { system: ops, method: POST, path: /restart }
    repeat: keyed
    verify:
      - id: healthy
        action: http
        with: { system: ${checkSystem}, method: GET, path: /health }
        expect: "${expectText}"
`;

async function setUp(rb: string): Promise<string> {
  await writeFile(join(dir, 'runwarden.yaml'), CONFIG);
  await writeFile(join(dir, 'runbooks', 'restart.yaml'), rb);
  return join(dir, 'runwarden.yaml');
}

describe('secrets granted to roles', () => {
  it('a worker of some roles loads only their secrets, and needs no others', async () => {
    const path = await setUp(runbook('ops-read'));
    const env = { OPS_READ: 'read-1', SHARED_VALUE: 'shared-1' };
    const verifier = await loadConfig({ path, env, roles: ['verification'] });
    expect(verifier.secrets).toEqual({ OPS_READ_TOKEN: 'read-1', SHARED: 'shared-1' });
    expect(verifier.secretGrants.OPS_WRITE_TOKEN).toEqual(['execution']);
    // A worker of every role needs the write token too, and says which is missing.
    const err = await loadConfig({ path, env }).then(() => undefined, (e: unknown) => e);
    expect(isRunwardenError(err) && err.problems.map(formatProblem).join('\n')).toMatch(/secrets\.OPS_WRITE_TOKEN\.env.*OPS_WRITE is not set/);
  });

  it('a verify check that calls a system with the write token fails validation at its system', async () => {
    const path = await setUp(runbook('ops'));
    const config = await loadConfig({ path, env: { OPS_WRITE: 'w', OPS_READ: 'r', SHARED_VALUE: 's' } });
    const loaded = await loadRunbooks(join(dir, 'runbooks'), config);
    expect(loaded.byId.has('restart')).toBe(false);
    const lines = loaded.problems.map(formatProblem);
    expect(lines).toHaveLength(1);
    // steps[0].verify[0].with.system: line 21, column 25 (`ops`).
    expect(lines[0]).toMatch(/restart\.yaml:21:25: steps\[0\]\.verify\[0\]\.with\.system: .*verify check `healthy` of step `restart` runs as verification and calls system `ops`.*secrets\.OPS_WRITE_TOKEN, granted to execution only/);
  });

  it('an expect that reads the write token itself is refused where it reads it; the read-only system loads', async () => {
    const path = await setUp(runbook('ops-read', "result.body.token != secrets.OPS_WRITE_TOKEN"));
    const config = await loadConfig({ path, env: { OPS_WRITE: 'w', OPS_READ: 'r', SHARED_VALUE: 's' } });
    const loaded = await loadRunbooks(join(dir, 'runbooks'), config);
    expect(loaded.problems.map(formatProblem)).toEqual([expect.stringMatching(/restart\.yaml:22:39: steps\[0\]\.verify\[0\]\.expect: secrets\.OPS_WRITE_TOKEN is granted to execution only .*verify check `healthy` of step `restart` runs as verification/)]);

    await writeFile(join(dir, 'runbooks', 'restart.yaml'), runbook('ops-read'));
    const fine = await loadRunbooks(join(dir, 'runbooks'), config);
    expect(fine.problems).toEqual([]);
    expect(fine.byId.has('restart')).toBe(true);
  });
});
