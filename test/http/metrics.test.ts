/**
 * `/metrics` after a scenario run: the counters move by exactly what the scenario did, and no
 * label carries a task id.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TaskCreated } from '../../src/http/schemas.js';
import { describeBackends } from '../helpers/backends.js';
import { useSim } from '../helpers/sim.js';
import { auth, key, samples, testApi, type TestApi } from './helpers.js';

const sim = useSim();

describeBackends('metrics', ({ db }) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await testApi(db(), sim().url);
  });
  afterAll(async () => {
    await api?.app.close();
  });
  const scrape = async () => {
    const r = await api.app.inject({ method: 'GET', url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain');
    return { text: r.body, s: samples(r.body) };
  };
  const v = (s: Map<string, number>, name: string, labels: Record<string, string> = {}) => s.get(key(name, labels)) ?? 0;

  it('moves the counters by what a scenario did', async () => {
    const before = (await scrape()).s;
    // One restart that fails once (502, transient), is retried and completes; one that is refused (403) and escalates.
    sim().setService('m-retry', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/m-retry/restart', status: 502, times: 1 });
    sim().setService('m-esc', { status: 'degraded' });
    sim().fault({ method: 'POST', path: '/services/m-esc/restart', status: 403, times: 1 });
    const submit = (service: string) => api.app.inject({ method: 'POST', url: '/v1/tasks', payload: { taskClass: 't.restart', input: { service } }, headers: auth('intake') });
    const a = TaskCreated.parse((await submit('m-retry')).json());
    const b = TaskCreated.parse((await submit('m-esc')).json());
    expect((await api.app.inject({ method: 'POST', url: '/v1/tasks', payload: { taskClass: 'nope' }, headers: auth('intake') })).statusCode).toBe(422);
    await api.service().runUntilIdle();
    expect((await api.app.inject({ method: 'GET', url: `/v1/tasks/${a.id}`, headers: auth('viewer') })).json().state).toBe('completed');
    expect((await api.app.inject({ method: 'GET', url: `/v1/tasks/${b.id}`, headers: auth('viewer') })).json().state).toBe('escalated');

    const { text, s: after } = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => v(after, name, labels) - v(before, name, labels);
    const restart = { runbook: 't-restart', step: 'restart', kind: 'action' };
    expect(delta('runwarden_step_attempts_total', { ...restart, outcome: 'failed', failure_class: 'transient' })).toBe(1);
    expect(delta('runwarden_step_attempts_total', { ...restart, outcome: 'succeeded', failure_class: 'none' })).toBe(1);
    expect(delta('runwarden_step_attempts_total', { ...restart, outcome: 'failed', failure_class: 'permission' })).toBe(1);
    expect(delta('runwarden_step_attempts_total', { runbook: 't-restart', step: 'check-health', kind: 'action', outcome: 'succeeded', failure_class: 'none' })).toBe(2);
    expect(delta('runwarden_step_duration_seconds_count', { ...restart, outcome: 'failed' })).toBe(2);
    expect(delta('runwarden_retry_delay_seconds_count', { runbook: 't-restart', step: 'restart', failure_class: 'transient' })).toBe(1);
    expect(delta('runwarden_escalations_total', { runbook: 't-restart', reason: 'non_retryable' })).toBe(1);
    expect(delta('runwarden_tasks_finished_total', { runbook: 't-restart', state: 'completed' })).toBe(1);
    expect(delta('runwarden_task_duration_seconds_count', { runbook: 't-restart', state: 'completed' })).toBe(1);
    expect(delta('runwarden_intake_requests_total', { result: 'created' })).toBe(2);
    expect(delta('runwarden_intake_requests_total', { result: 'rejected' })).toBe(1);
    expect(delta('runwarden_http_requests_total', { route: '/v1/tasks', method: 'POST', status: '201' })).toBe(2);
    expect(delta('runwarden_tasks_claimed_total')).toBeGreaterThanOrEqual(2);
    expect(delta('runwarden_claim_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    // Gauges read from the database: the two tasks of this scenario are among them.
    expect(delta('runwarden_tasks', { state: 'completed' })).toBe(1);
    expect(delta('runwarden_tasks', { state: 'escalated' })).toBe(1);
    expect(delta('runwarden_tasks', { state: 'rejected' })).toBe(1);
    // Bounded labels: no task id anywhere in the exposition, and every name is runwarden's.
    expect(text).not.toContain(a.id);
    expect(text).not.toContain(b.id);
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line).toMatch(/^runwarden_/);
  });
});
