import { describe, expect, it } from 'vitest';
import { nextSteps, tryNextHeading, shellQuote } from './next-steps.js';

const tasks = { completed: 'tsk_c', escalated: 'tsk_e', awaiting: 'tsk_a' };

describe('nextSteps', () => {
  it('offers only the commands the program has', () => {
    const text = nextSteps({ tasks, flags: [], has: (c) => c !== 'serve' && c !== 'tasks' });
    expect(text).toContain('runwarden show tsk_c\n');
    expect(text).toContain('runwarden packet tsk_e --format md\n');
    expect(text).toContain('runwarden approve tsk_a --operator you --reason "contract signed"\n');
    expect(text).not.toContain('runwarden serve');
    expect(text).not.toContain('runwarden tasks');
    expect(nextSteps({ tasks, flags: [], has: () => true })).toContain('runwarden serve\n');
  });

  it('adds the flags that find the demo data to every command', () => {
    const text = nextSteps({ tasks: { escalated: 'tsk_e' }, flags: ['--db ./x'], has: () => true });
    const commands = text.split('\n').filter((l) => l.trim().startsWith('runwarden '));
    expect(commands.length).toBeGreaterThan(0);
    expect(commands.every((c) => c.endsWith(' --db ./x'))).toBe(true);
  });

  it('says what approve and resume show when the demo keeps a worker running', () => {
    const kept = nextSteps({ tasks, flags: [], has: () => true, keep: true });
    expect(kept).toContain('# approve the move to enterprise: it is applied and completes below\n');
    expect(kept).toContain('# hand it back to automation: it runs again below\n');
    expect(nextSteps({ tasks, flags: [], has: () => true })).not.toContain('below');
  });
});

describe('shellQuote', () => {
  it('leaves plain paths alone and quotes the rest', () => {
    expect(shellQuote('./.runwarden/db')).toBe('./.runwarden/db');
    expect(shellQuote('postgres://u@h:5432/db')).toBe('postgres://u@h:5432/db');
    expect(shellQuote("my dir/it's")).toBe(`'my dir/it'\\''s'`);
  });
});

describe('tryNextHeading', () => {
  it('offers --reset only where it works: the embedded database', () => {
    expect(tryNextHeading('./.runwarden/db', false)).toContain('--reset to start clean');
    expect(tryNextHeading('postgres://u@h/db', true)).not.toContain('--reset');
    expect(tryNextHeading('postgres://u@h/db', true)).toMatch(/^\nTry next, in a second terminal \(the demo's tasks stay in the database; run the demo again to add more\):\n\n$/);
  });
});
