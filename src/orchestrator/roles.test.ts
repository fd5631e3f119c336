import { describe, expect, it } from 'vitest';
import { httpStep, plan } from '../../test/helpers/plan-builder.js';
import { awaitingRoleOf, parseRoles, roleOfAttempt, withRoles } from './roles.js';

import type { CompiledStep } from '../runbook/plan.js';

const decideStep: CompiledStep = { ...httpStep('choose'), spec: { action: 'decide', with: { question: 'q', show: [], options: [], minConfidence: 0.7 } } };
const p = plan([httpStep('restart'), decideStep]);
const release = { type: 'release' } as const;

describe('roles', () => {
  it('gives each attempt kind its role', () => {
    expect(roleOfAttempt('action', p.steps[0])).toBe('execution');
    expect(roleOfAttempt('action', p.steps[1])).toBe('agent');
    expect(roleOfAttempt('verify', p.steps[0])).toBe('verification');
    expect(roleOfAttempt('probe', p.steps[0])).toBe('verification');
    expect(roleOfAttempt('compensate', p.steps[0])).toBe('execution');
  });

  it('says whose work comes next from the next command, else the state and the phase', () => {
    const at = (state: string, phase: string, step: string | null = 'restart') => awaitingRoleOf(p, { state: state as never, currentStep: step, cursor: { phase: { at: phase } } }, release);
    expect(at('retry_scheduled', 'verifying')).toBe('verification');
    expect(at('retry_scheduled', 'attempting')).toBe('execution');
    expect(at('queued', 'entering', 'choose')).toBe('agent');
    expect(at('running', 'probing')).toBe('verification');
    expect(at('escalated', 'attempting')).toBe('escalation');
    expect(at('awaiting_approval', 'settled')).toBe('escalation');
    expect(at('completed', 'idle', null)).toBeNull();
    const perform = { type: 'perform', attempt: { step: 'restart', kind: 'verify', attempt: 1, idempotencyKey: null }, spec: p.steps[0]!.spec } as const;
    expect(awaitingRoleOf(p, { state: 'running', currentStep: 'restart', cursor: {} }, perform)).toBe('verification');
  });

  it('stamps the role on attempt events and keeps one already named', () => {
    const out = withRoles(
      [
        { type: 'attempt.started', step: 'restart', data: { kind: 'verify', attempt: 1 } },
        { type: 'attempt.finished', step: 'choose', data: { kind: 'action', attempt: 1 } },
        { type: 'lease.released', step: 'restart', data: { role: 'verification' } },
        { type: 'state.changed', step: null, data: {} },
      ],
      p,
    );
    expect(out.map((e) => e.data?.role)).toEqual(['verification', 'agent', 'verification', undefined]);
  });

  it('reads --roles, every role by default, and refuses a name it does not know', () => {
    expect(parseRoles(undefined)).toEqual(['execution', 'verification', 'escalation', 'agent']);
    expect(parseRoles('verification, execution')).toEqual(['verification', 'execution']);
    expect(() => parseRoles('verify')).toThrow(/unknown role verify; roles are execution, verification, escalation, agent/);
  });
});
