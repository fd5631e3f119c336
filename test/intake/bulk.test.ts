/**
 * Bulk intake on both backends: a mixed file (good lines, a duplicate, malformed JSON, an invalid
 * input, an off-policy request, a conflicting reuse of an externalRef, a blank line) gives one
 * result per line in order and a summary, goes on past every bad line, and makes one task per
 * distinct externalRef, in batches smaller than the file; then the same through
 * `runwarden submit --jsonl` and `runwarden intake log` as a user runs them.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { submitLines, type LineResult } from '../../src/intake/bulk.js';
import { getTask, listTasks } from '../../src/store/tasks.js';
import { submitTask } from '../../src/orchestrator/intake.js';
import { describeBackends } from '../helpers/backends.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { loadRunbookSet } from '../../src/runbook/load.js';

/** Two runbooks of set steps only (no systems, no env): a restart, and one whose guard denies production. */
const RESTART = `runbook: b-restart
version: 1
title: Restart (bulk test)
owner: platform
taskClasses: [t.restart]
input: { type: object, required: [service], properties: { service: { type: string, pattern: "^[a-z0-9-]+$" } } }
steps:
  - { id: restart, action: set, with: { done: "'yes'" } }
`;
const GUARDED = `runbook: b-guard
version: 1
title: Guarded change (bulk test)
owner: platform
taskClasses: [t.guard]
input: { type: object, required: [customer], properties: { customer: { type: string } } }
policy:
  guards:
    - { name: no-vip, deny: "input.customer.startsWith('vip-')", message: VIP accounts are changed by hand }
steps:
  - { id: change, action: set, with: { done: "'yes'" } }
`;
/** A restart one at a time per service: the key and the first step's role are stored by bulk intake as by a single submit. */
const KEYED = `runbook: b-keyed
version: 1
title: Keyed restart (bulk test)
owner: platform
taskClasses: [t.keyed]
input: { type: object, required: [service], properties: { service: { type: string } } }
policy:
  concurrency: { key: input.service, limit: 1 }
steps:
  - { id: restart, action: set, with: { done: "'yes'" } }
`;
let RUNBOOKS_DIR = '';

const lines = (tag: string) => [
  JSON.stringify({ taskClass: 't.restart', externalRef: `${tag}-1`, input: { service: 'billing-api' } }),
  JSON.stringify({ taskClass: 't.restart', externalRef: `${tag}-2`, input: { service: 'ledger-api' } }),
  JSON.stringify({ taskClass: 't.restart', externalRef: `${tag}-1`, input: { service: 'billing-api' } }), // duplicate
  '{"taskClass": "t.restart", "externalRef": ', // malformed
  '',
  JSON.stringify({ taskClass: 't.restart', externalRef: `${tag}-3`, input: { service: 'Not A Name!' } }), // invalid input
  JSON.stringify({ taskClass: 't.guard', externalRef: `${tag}-4`, input: { customer: 'vip-1' } }), // off policy
  JSON.stringify({ taskClass: 't.restart', externalRef: `${tag}-2`, input: { service: 'other-api' } }), // conflict
  JSON.stringify({ taskClass: 't.restart', externalRef: `${tag}-5`, input: { service: 'search-api' } }),
];

describeBackends('bulk intake', ({ db, url, handOff }) => {
  beforeAll(async () => {
    ensureBuilt();
    RUNBOOKS_DIR = await mkdtemp(join(tmpdir(), 'rw-bulk-runbooks-'));
    await writeFile(join(RUNBOOKS_DIR, 'restart.yaml'), RESTART);
    await writeFile(join(RUNBOOKS_DIR, 'guard.yaml'), GUARDED);
    await writeFile(join(RUNBOOKS_DIR, 'keyed.yaml'), KEYED);
  });
  const fixtureRunbooks = async () => {
    const { set, problems } = await loadRunbookSet(RUNBOOKS_DIR);
    expect(problems).toEqual([]);
    return set;
  };

  it('reports every line in order, keeps going past bad ones and dedupes by externalRef', async () => {
    const runbooks = await fixtureRunbooks();
    const results: LineResult[] = [];
    const summary = await submitLines(db(), runbooks, lines('blk'), { now: () => new Date(), env: {}, secrets: {}, batchSize: 3, onResult: (r) => results.push(r) });
    expect(results.map((r) => [r.line, r.result])).toEqual([
      [1, 'created'],
      [2, 'created'],
      [3, 'deduplicated'],
      [4, 'refused'],
      [6, 'rejected'],
      [7, 'rejected'],
      [8, 'refused'],
      [9, 'created'],
    ]);
    expect(results[2]!.taskId).toBe(results[0]!.taskId);
    expect(results[3]).toMatchObject({ code: 'REQUEST_INVALID' });
    expect(results[3]!.reason).toMatch(/line 4 is not valid JSON/);
    expect(results[4]).toMatchObject({ code: 'invalid_input', state: 'rejected' });
    expect(results[5]).toMatchObject({ code: 'off_policy', state: 'rejected' });
    expect(results[6]).toMatchObject({ code: 'EXTERNAL_REF_CONFLICT' });
    expect(summary).toEqual({ lines: 9, created: 3, deduplicated: 1, rejected: 2, refused: 2, blank: 1 });
    const mine = (await listTasks(db(), { limit: 1000 })).filter((t) => t.externalRef?.startsWith('blk-'));
    expect(mine.map((t) => t.externalRef).sort()).toEqual(['blk-1', 'blk-2', 'blk-3', 'blk-4', 'blk-5']);
  });

  it('stores the concurrency key and the role of the first work as a single submit does', async () => {
    const runbooks = await fixtureRunbooks();
    const results: LineResult[] = [];
    const request = (ref: string, service: string) => JSON.stringify({ taskClass: 't.keyed', externalRef: ref, input: { service } });
    await submitLines(db(), runbooks, [request('key-1', 'billing-api'), request('key-2', 'ledger-api')], { now: () => new Date(), env: {}, secrets: {}, onResult: (r) => results.push(r) });
    expect(results.map((r) => r.result)).toEqual(['created', 'created']);
    const single = await submitTask(db(), runbooks, JSON.parse(request('key-3', 'billing-api')) as unknown, { now: new Date(), env: {}, secrets: {} });
    const tasks = await Promise.all([results[0]!.taskId!, results[1]!.taskId!, single.task.id].map((id) => getTask(db(), id)));
    expect(tasks.map((t) => [t!.concurrencyKey, t!.concurrencyLimit, t!.awaitingRole])).toEqual([
      ['billing-api', 1, single.task.awaitingRole],
      ['ledger-api', 1, single.task.awaitingRole],
      ['billing-api', 1, single.task.awaitingRole],
    ]);
    expect(single.task.awaitingRole).toBe('execution');
  });

  it('runwarden submit --jsonl prints one JSON result per line and the summary, exits 1 for the bad lines; intake log reads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rw-bulk-'));
    const file = join(dir, 'requests.jsonl');
    await writeFile(file, `${lines('cli').join('\n')}\n`);
    const res = await handOff(() => runCli(['submit', '--jsonl', file, '--json', '--db', url(), '--runbooks', RUNBOOKS_DIR]));
    expect(res.code).toBe(1);
    const out = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out).toHaveLength(9);
    expect(out.slice(0, 8).map((r) => r.result)).toEqual(['created', 'created', 'deduplicated', 'refused', 'rejected', 'rejected', 'refused', 'created']);
    expect(out[8]).toMatchObject({ summary: { lines: 9, created: 3, deduplicated: 1, rejected: 2, refused: 2, blank: 1 } });

    // Again, from stdin and in human form: every good or rejected line is now a repeat, the malformed and conflicting ones still refused.
    const again = await handOff(() => runCli(['submit', '--jsonl', '-', '--db', url(), '--runbooks', RUNBOOKS_DIR], { input: lines('cli').join('\n') }));
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/line 4: refused: line 4 is not valid JSON/);
    expect(again.stdout).toMatch(/8 requests: 0 created, 6 deduplicated, 0 rejected, 2 refused/);

    const log = await handOff(() => runCli(['intake', 'log', '--json', '--db', url()]));
    expect(log.code).toBe(0);
    expect(Array.isArray(JSON.parse(log.stdout))).toBe(true);
  });
});
