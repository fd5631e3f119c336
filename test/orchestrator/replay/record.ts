/**
 * Records the replay fixtures from the decision function as it is now:
 *
 *   node --import tsx test/orchestrator/replay/record.ts            # every scenario
 *   node --import tsx test/orchestrator/replay/record.ts guards      # the named ones
 *
 * Re-recording a fixture accepts whatever the decision function now decides for it: do it only
 * for a change of behaviour that is meant, and say in the commit which decisions changed and why.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SCENARIOS } from './scenarios.js';
import { fixtureOf } from './session.js';

const dir = fileURLToPath(new URL('.', import.meta.url));
const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => !(n in SCENARIOS));
if (unknown.length) {
  process.stderr.write(`no such scenario: ${unknown.join(', ')}; scenarios: ${Object.keys(SCENARIOS).join(', ')}\n`);
  process.exit(2);
}
for (const [name, run] of Object.entries(SCENARIOS)) {
  if (wanted.length && !wanted.includes(name)) continue;
  const made = run();
  const fixture = fixtureOf(name, Array.isArray(made) ? made : [made]);
  writeFileSync(`${dir}${name}.json`, `${JSON.stringify(fixture, null, 1)}\n`);
  process.stdout.write(`${name}: ${fixture.decisions.length} decisions\n`);
}
