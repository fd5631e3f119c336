import { describe, expect, it } from 'vitest';
import { progressLine } from './work.js';
import type { TaskRow } from '../../store/tasks.js';

const base = { id: 'tsk_aaaaaaaaaaaaaaaaaaaa', externalRef: 'INC-1', runbookId: 'service-restart', taskClass: 'service.restart', escalation: null, nextAttemptAt: null } as unknown as TaskRow;
const at = new Date('2026-11-23T18:02:11.500Z');

describe('work progress lines', () => {
  it('say when, which task, which runbook and where it ended up', () => {
    expect(progressLine({ ...base, state: 'completed' } as TaskRow, at)).toBe('18:02:11  tsk_aaaaaaaaaaaaaaaaaaaa  INC-1  service-restart  completed');
  });
  it('give the reason of a stop and the time of the next try', () => {
    const escalated = { ...base, state: 'escalated', escalation: { kind: 'verification_failed', step: 'restart', failureClass: 'verification', message: '', at: '' } } as TaskRow;
    expect(progressLine(escalated, at)).toMatch(/escalated \(verification_failed at restart\)$/);
    const retrying = { ...base, state: 'retry_scheduled', nextAttemptAt: new Date('2026-11-23T18:02:13Z') } as TaskRow;
    expect(progressLine(retrying, at)).toMatch(/retry_scheduled \(next try 18:02:13\)$/);
  });
});
