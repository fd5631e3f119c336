/**
 * Behaviour drift: every recorded decision (test/orchestrator/replay/*.json) is fed through the
 * decision function again with the exact input it was recorded with, and must come out the same,
 * down to each ledger event, patch field and the next command. A difference names the fixture and
 * the decision. To change behaviour on purpose, re-record the fixtures that change
 * (replay/record.ts) and say in the commit which decisions changed and why. A cursor recorded in
 * an earlier shape is compared by what it means (see `expectedJson`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileFixtureRunbook, decide, decisionJson, envOf, eventOf, expectedJson, viewOf, type Fixture } from './replay/kit.js';
import { SCENARIOS } from './replay/scenarios.js';

const dir = fileURLToPath(new URL('./replay/', import.meta.url));
const fixtures: Fixture[] = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(`${dir}${f}`, 'utf8')) as Fixture);

describe('recorded ledgers replayed through decide', () => {
  it('has a fixture for every scenario, and a scenario for every fixture', () => {
    expect(fixtures.map((f) => f.name).sort()).toEqual(Object.keys(SCENARIOS).sort());
  });

  for (const fx of fixtures) {
    it(`${fx.name}: ${fx.about}`, () => {
      const plans = Object.fromEntries(Object.entries(fx.runbooks).map(([id, text]) => [id, compileFixtureRunbook(fx.name, text)]));
      fx.decisions.forEach((rec, i) => {
        const where = `${fx.name} #${i + 1} (${rec.label})`;
        const plan = plans[rec.runbook];
        if (!plan) throw new Error(`${where}: no runbook ${rec.runbook} in the fixture`);
        const { env, drawn } = envOf(rec.env);
        const got = decisionJson(decide(viewOf(rec.task), plan, eventOf(rec.event), env));
        expect(got, where).toEqual(expectedJson(rec));
        expect(drawn(), `${where}: random numbers and tokens drawn`).toEqual({ random: rec.env.random.length, tokens: rec.env.tokens.length });
      });
    });
  }
});
