/**
 * The README's state diagram says what the transition table says: every arrow is an allowed
 * transition, every allowed transition is an arrow, and the entry and exit marks match intake and
 * the terminal states.
 */
import { describe, expect, it } from 'vitest';
import { readBlock } from '../../src/docs/markdown.js';
import { INTAKE_STATES, stateDiagram } from '../../src/lifecycle/diagram.js';
import { TRANSITIONS } from '../../src/lifecycle/transitions.js';
import { TASK_STATES, TERMINAL_STATES } from '../../src/lifecycle/vocabulary.js';
import { readPage } from './doc-files.js';

function arrows(mermaid: string): string[] {
  return [...mermaid.matchAll(/^\s*(\S+) --> (\S+)\s*$/gm)].map((m) => `${m[1]} -> ${m[2]}`).sort();
}

const table = TASK_STATES.flatMap((from) => (TRANSITIONS[from] as readonly string[]).map((to) => `${from} -> ${to}`));

describe('state diagram', () => {
  it('draws exactly the transition table, with intake in and terminal states out', () => {
    const expected = [...table, ...INTAKE_STATES.map((s) => `[*] -> ${s}`), ...TERMINAL_STATES.map((s) => `${s} -> [*]`)].sort();
    expect(arrows(stateDiagram())).toEqual(expected);
  });

  it('is a Mermaid stateDiagram-v2 that names every state', () => {
    const d = stateDiagram();
    expect(d.split('\n')[0]).toBe('stateDiagram-v2');
    for (const s of TASK_STATES) expect(d).toMatch(new RegExp(`\\b${s}\\b`));
  });

  it("is what the README shows, in a mermaid block between the markers", () => {
    const block = readBlock(readPage('README.md'), 'state-diagram', 'README.md');
    const fenced = /```mermaid\n([\s\S]*?)```/.exec(block);
    expect(fenced?.[1]).toBe(stateDiagram());
  });
});
