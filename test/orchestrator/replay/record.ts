/**
 * Records the replay fixtures from the decision function as it is now:
 *
 *   node --import tsx test/orchestrator/replay/record.ts                 # every scenario, afresh
 *   node --import tsx test/orchestrator/replay/record.ts guards          # the named ones
 *   node --import tsx test/orchestrator/replay/record.ts --rebaseline x  # keep x's recorded inputs;
 *                                                                        # replace only the decisions that differ
 *
 * Re-recording a fixture accepts whatever the decision function now decides for it: do it only
 * for a change of behaviour that is meant, and say in the commit which decisions changed and why.
 * `--rebaseline` keeps every recorded input (a task as an older version stored it stays one) and
 * lists the decisions it replaced, so the diff shows exactly what the change did.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { compileFixtureRunbook, decide, decisionJson, envOf, eventOf, expectedJson, viewOf, type Fixture } from './kit.js';
import { SCENARIOS } from './scenarios.js';
import { fixtureOf } from './session.js';

const dir = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const rebaseline = args.includes('--rebaseline');
const wanted = args.filter((a) => a !== '--rebaseline');
const unknown = wanted.filter((n) => !(n in SCENARIOS));
if (unknown.length) {
  process.stderr.write(`no such scenario: ${unknown.join(', ')}; scenarios: ${Object.keys(SCENARIOS).join(', ')}\n`);
  process.exit(2);
}
const write = (fx: Fixture) => writeFileSync(`${dir}${fx.name}.json`, `${JSON.stringify(fx, null, 1)}\n`);

for (const [name, run] of Object.entries(SCENARIOS)) {
  if (wanted.length && !wanted.includes(name)) continue;
  if (rebaseline) {
    const fx = JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as Fixture;
    const plans = Object.fromEntries(Object.entries(fx.runbooks).map(([id, text]) => [id, compileFixtureRunbook(name, text)]));
    fx.decisions.forEach((rec, i) => {
      // A decision that now draws more random numbers or tokens than were recorded gets fresh
      // ones (seeded, so a rebaseline is reproducible), kept with the decision.
      const { env } = envOf(rec.env);
      const extra = { random: [...rec.env.random], tokens: [...rec.env.tokens] };
      let r = 0;
      let k = 0;
      env.random = () => (r < extra.random.length ? extra.random[r++]! : (extra.random.push(0.5), r++, 0.5));
      env.newToken = () => (k < extra.tokens.length ? extra.tokens[k++]! : (extra.tokens.push(`cb_${rec.task.id}_r${k}`), extra.tokens[k++]!));
      const got = decisionJson(decide(viewOf(rec.task), plans[rec.runbook]!, eventOf(rec.event), env));
      rec.env.random = extra.random.slice(0, r);
      rec.env.tokens = extra.tokens.slice(0, k);
      if (isDeepStrictEqual(got, expectedJson(rec))) return;
      rec.decision = got;
      process.stdout.write(`${name} #${i + 1} (${rec.label}): decision replaced\n`);
    });
    write(fx);
    continue;
  }
  const made = run();
  const fixture = fixtureOf(name, Array.isArray(made) ? made : [made]);
  write(fixture);
  process.stdout.write(`${name}: ${fixture.decisions.length} decisions\n`);
}
