/**
 * The console's pure parts: the escaping template, the SVG charts, the ledger sentences, the
 * form parsing, the sign-in redirect guard and the in-memory sessions.
 */
import { describe, expect, it } from 'vitest';
import { renderConfirmation } from '../../src/http/console/action-forms.js';
import { barChart, percent } from '../../src/http/console/charts.js';
import { age, eventSentence, waitingFor } from '../../src/http/console/format.js';
import { escapeHtml, html, raw } from '../../src/http/console/html.js';
import { actionInput, parseCaptureLines, safeNext } from '../../src/http/console/index.js';
import { pauseBars, recoveryBars, retryBars, type StepFigures } from '../../src/http/console/report-page.js';
import { memorySessionStore } from '../../src/http/console/sessions.js';

describe('html', () => {
  it('escapes every interpolated value, in text and in attributes, and passes only its own results through', () => {
    const evil = `"><script>alert('x')</script>&\``;
    const out = html`<a title="${evil}">${evil}</a>${html`<b>${'<i>'}</b>`}${[raw('<br>'), '<hr>']}${null}${undefined}${false}${0}`.value;
    expect(out).toBe(`<a title="${escapeHtml(evil)}">${escapeHtml(evil)}</a><b>&lt;i&gt;</b><br>&lt;hr&gt;0`);
    expect(out).not.toContain('<script>');
    expect(escapeHtml(evil)).toBe('&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&#96;');
  });
});

describe('charts', () => {
  it('draws bars in proportion to the maximum, prints each figure, and escapes labels', () => {
    const svg = barChart(
      [
        { label: 'a<b>', value: 0.5, text: '50%' },
        { label: 'c', value: 1, text: '100%' },
        { label: 'd', value: null, text: 'no data' },
      ],
      { title: 'Pause rate', max: 1 },
    ).value;
    const widths = [...svg.matchAll(/class="bar [a-z]+"/g)].length;
    expect(widths).toBe(2);
    const bars = [...svg.matchAll(/<rect x="220" y="[\d.]+" width="([\d.]+)" height="18" class="bar/g)].map((m) => Number(m[1]));
    expect(bars[1]).toBeCloseTo(bars[0]! * 2, 0);
    expect(svg).toContain('a&lt;b&gt;');
    expect(svg).toContain('>no data</text>');
    expect(svg).toContain('role="img" aria-label="Pause rate"');
    expect(barChart([], { title: 't' }).value).toContain('no data yet');
  });

  it('turns step figures into the three charts, leaving out steps with nothing to show', () => {
    const s = (step: string, o: Partial<StepFigures>): StepFigures => ({ runbook: 'rb', step, tasks: 10, pauses: 0, pauseRate: 0, retry: { firstFailures: 0, recovered: 0, rate: null }, recovery: { count: 0, p50Ms: null, p90Ms: null }, ...o });
    const steps = [s('a', { pauses: 1, pauseRate: 0.1 }), s('b', { pauses: 5, pauseRate: 0.5, retry: { firstFailures: 4, recovered: 3, rate: 0.75 }, recovery: { count: 3, p50Ms: 60_000, p90Ms: 180_000 } }), s('c', { tasks: 0, pauseRate: null })];
    expect(pauseBars(steps).map((b) => [b.label, b.text])).toEqual([
      ['rb · b', '50% (5 of 10)'],
      ['rb · a', '10% (1 of 10)'],
    ]);
    expect(retryBars(steps).map((b) => b.text)).toEqual(['75% (3 of 4)']);
    expect(recoveryBars(steps)).toMatchObject([{ value: 60_000, behind: 180_000, text: 'p50 1 min · p90 3 min' }]);
    expect(percent(null)).toBe('-');
  });
});

describe('words', () => {
  it('says ages and ledger events as a person would', () => {
    const now = new Date('2026-12-01T12:00:00Z');
    expect(age('2026-12-01T11:59:30Z', now)).toBe('30 s');
    expect(age('2026-12-01T09:55:00Z', now)).toBe('2 h 5 min');
    expect(age('2026-11-28T09:00:00Z', now)).toBe('3 d 3 h');
    const e = (type: string, data: Record<string, unknown>, step: string | null = 'restart') => eventSentence({ seq: 1, at: now.toISOString(), type, step, actor: 'operator:ana', data });
    expect(e('operator.action', { action: 'resume', operator: 'ana', reason: 'fixed' })).toBe('ana chose resume: “fixed”');
    expect(e('state.changed', { from: 'in_handover', to: 'queued' })).toBe('State in handover → queued');
    expect(e('attempt.finished', { attempt: 2, outcome: 'failed', failureClass: 'transient', error: 'HTTP 503' })).toBe('Attempt 2 of restart failed (transient): HTTP 503');
    expect(e('something.new', {})).toBe('something.new');
  });

  it('says what a task waits for by the rule of `show`: its key held (escaped, holders linked and capped), or the role next while no worker holds it', () => {
    const holders = ['tsk_a', 'tsk_b', 'tsk_c', 'tsk_d'].map((id) => ({ id, state: 'running' as const }));
    const keyed = { state: 'queued' as const, leaseOwner: null, awaitingRole: 'execution' as const, waitingFor: { concurrencyKey: '<b>svc</b>', limit: 4, holders } };
    const all = waitingFor(keyed)!.value;
    expect(all).toContain('concurrency key <code>&lt;b&gt;svc&lt;/b&gt;</code>: its limit of 4 is taken by <a href="/tasks/tsk_a" data-testid="holder">tsk_a</a> (running), <a href="/tasks/tsk_b"');
    expect([...all.matchAll(/data-testid="holder"/g)]).toHaveLength(4);
    const capped = waitingFor(keyed, 2)!.value;
    expect([...capped.matchAll(/data-testid="holder"/g)]).toHaveLength(2);
    expect(capped).toMatch(/tsk_b<\/a> \(running\) and 2 more$/);
    const between = { state: 'running' as const, leaseOwner: null, awaitingRole: 'verification' as const, waitingFor: null };
    expect(waitingFor(between)!.value).toBe('verification work next: a worker serving verification takes it up');
    // A worker holds it, or it is merely queued for its first role: nothing to say.
    expect(waitingFor({ ...between, leaseOwner: 'w-1' })).toBeNull();
    expect(waitingFor({ ...between, state: 'queued' })).toBeNull();
  });
});

describe('forms', () => {
  it('maps an action form to the operator input, with the signed-in name and only the options of that action', () => {
    const body = { reason: '  checked  ', operator: 'mallory', from: 'check', resetBudget: '1', yes: '1', partial: '1', capture: 'a=1' };
    expect(actionInput('resume', 'ana', body)).toEqual({ operator: 'ana', reason: 'checked', from: 'check', resetBudget: true, yes: true });
    expect(actionInput('retry', 'ana', body)).toEqual({ operator: 'ana', reason: 'checked', yes: true });
    expect(actionInput('complete', 'ana', body)).toEqual({ operator: 'ana', reason: 'checked', partial: true });
    expect(actionInput('skip', 'ana', body)).toEqual({ operator: 'ana', reason: 'checked', capture: { a: 1 } });
    expect(parseCaptureLines('id=rst_1\ncount=3\n\nok=true')).toEqual({ id: 'rst_1', count: 3, ok: true });
    expect(() => parseCaptureLines('nonsense')).toThrow(/name=value/);
  });

  it('carries the form values, escaped, into the confirmation, with yes', () => {
    const out = renderConfirmation('tsk_1', { action: 'resume', message: 'resuming from a runs again steps that changed something: b', fields: { reason: '"><b>x', from: 'a', _csrf: 'old' }, plan: { from: 'a', rerun: ['a', 'b'], changed: ['b'] } }, 'new-token', []).value;
    expect(out).toContain('<input type="hidden" name="yes" value="1">');
    expect(out).toContain('<input type="hidden" name="from" value="a">');
    expect(out).toContain('<input type="hidden" name="reason" value="&quot;&gt;&lt;b&gt;x">');
    expect(out).toContain('name="_csrf" value="new-token"');
    expect(out).not.toContain('value="old"');
  });

  it('sends a signed-in person only to a console path', () => {
    expect(safeNext('/tasks?state=escalated')).toBe('/tasks?state=escalated');
    for (const bad of ['https://evil.example/', '//evil.example', '/\\evil.example', 'javascript:alert(1)', '/login', '', undefined]) expect(safeNext(bad)).toBe('/');
  });
});

describe('sessions', () => {
  it('end after the idle time, on delete, and past the cap the least recently used goes', () => {
    const store = memorySessionStore({ idleMs: 1000, max: 2 });
    const a = store.create({ name: 'ana', role: 'operator', token: 't1' }, 0);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(store.get(a.id, 900)?.name).toBe('ana');
    expect(store.get(a.id, 1800)?.name).toBe('ana');
    expect(store.get(a.id, 2801)).toBeUndefined();
    const b = store.create({ name: 'b', role: 'viewer', token: 't2' }, 3000);
    const c = store.create({ name: 'c', role: 'viewer', token: 't3' }, 3000);
    store.get(b.id, 3001);
    store.create({ name: 'd', role: 'viewer', token: 't4' }, 3002);
    expect(store.get(c.id, 3003)).toBeUndefined();
    expect(store.get(b.id, 3003)?.name).toBe('b');
    store.delete(b.id);
    expect(store.get(b.id, 3004)).toBeUndefined();
  });

  it('end at their maximum age from sign-in however often they are used', () => {
    const store = memorySessionStore({ idleMs: 1000, maxAgeMs: 2500 });
    const a = store.create({ name: 'ana', role: 'operator', token: 't1' }, 0);
    for (const t of [800, 1600, 2400]) expect(store.get(a.id, t)?.name).toBe('ana');
    expect(store.get(a.id, 2600)).toBeUndefined();
  });
});

describe('report figures', () => {
  it("maps runwarden report's figures per runbook and step onto the charts, seconds to milliseconds", async () => {
    const { figuresFrom } = await import('../../src/http/console/report-figures.js');
    const step = (id: string, o: Record<string, unknown>) => ({ step: id, tasks: 20, pauses: 0, pauseRate: 0, retry: { firstFailures: 0, recoveredByRetry: 0, rate: null }, recovery: { recovered: 0, p50Seconds: null, p90Seconds: null }, failureClasses: {}, ...o });
    const rb = { runbook: 'service-restart', tasks: 20, completionRate: 0.9, escalationRate: 0.1, steps: [step('restart', { pauses: 2, pauseRate: 0.1, retry: { firstFailures: 5, recoveredByRetry: 4, rate: 0.8 }, recovery: { recovered: 4, p50Seconds: 1.5, p90Seconds: 5 } }), step('check', {})] };
    const audit = { finished: 4, audited: 1, coverage: 0.25, findingCount: 0, findings: [], verdicts: { ok: 1, issue: 0 }, packets: { answered: 0, helpful: 0, share: null } };
    const f = figuresFrom({ generatedAt: '2026-12-01T12:00:00.000Z', since: null, runbooks: [rb as never], pausesBySystem: [{ system: 'ops', pauses: 2 }], audit });
    expect(f.runbooks).toEqual([{ runbook: 'service-restart', tasks: 20, completionRate: 0.9, escalationRate: 0.1 }]);
    expect(f.steps[0]).toEqual({ runbook: 'service-restart', step: 'restart', tasks: 20, pauses: 2, pauseRate: 0.1, retry: { firstFailures: 5, recovered: 4, rate: 0.8 }, recovery: { count: 4, p50Ms: 1500, p90Ms: 5000 } });
    expect(f.steps[1]).toMatchObject({ step: 'check', retry: { rate: null }, recovery: { p50Ms: null } });
    expect(f.pausesBySystem).toEqual([{ system: 'ops', pauses: 2 }]);
    expect(f.audit).toEqual(audit);
  });

  it('draws the audits: coverage, findings linked to their tasks with the notes escaped, and what is left out', async () => {
    const { renderAudit } = await import('../../src/http/console/report-page.js');
    const finding = { taskId: 'tsk_a1', runbook: 'service-restart', note: 'restarted <b>healthy</b> service', auditor: 'cy', at: '2026-12-01T11:00:00.000Z' };
    const out = renderAudit({ finished: 8, audited: 3, coverage: 0.375, findingCount: 3, findings: [finding], verdicts: { ok: 1, issue: 2 }, packets: { answered: 3, helpful: 2, share: 0.6667 } }).toString();
    expect(out).toContain('<td data-testid="audit-coverage">38% (3 of 8 finished tasks reviewed)</td>');
    expect(out).toContain('<td data-testid="audit-packets">67% (2 of 3 escalations handled with an answer)</td>');
    expect(out).toContain('<a href="/tasks/tsk_a1"><code>tsk_a1</code></a>');
    expect(out).toContain('restarted &lt;b&gt;healthy&lt;/b&gt; service');
    expect(out).toContain('and 2 older findings');
  });
});
