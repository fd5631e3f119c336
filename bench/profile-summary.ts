/**
 * Where a CPU profile's time went (`node --cpu-prof`): self time summed by where the code lives
 * (runwarden's own, the pg driver, zod, CEL, node's net/stream internals, the garbage collector...).
 *
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile>
 */
import { readFile } from 'node:fs/promises';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string };
  hitCount?: number;
}
const file = process.argv[2];
if (!file) throw new Error('give a .cpuprofile file');
const profile = JSON.parse(await readFile(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const bucketOf = (n: Node): string => {
  const u = n.callFrame.url;
  const fn = n.callFrame.functionName;
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(idle)' || fn === '(program)') return fn;
  if (/node_modules\/(pg|pg-protocol|pg-types|pg-pool|postgres-)/.test(u)) return 'pg driver (protocol, parsing, types)';
  if (/node_modules\/zod/.test(u)) return 'zod';
  if (/node_modules\/@marcbachmann\/cel-js/.test(u)) return 'CEL';
  if (/node_modules\/pino/.test(u)) return 'pino';
  if (/node_modules\/(tsx|esbuild)/.test(u)) return 'tsx (loading)';
  if (/node_modules/.test(u)) return 'other dependencies';
  if (/\/src\/orchestrator\//.test(u)) return 'runwarden orchestrator';
  if (/\/src\/store\//.test(u)) return 'runwarden store';
  if (/\/src\//.test(u)) return 'runwarden other';
  if (/\/bench\//.test(u)) return 'bench harness';
  if (/^node:(net|stream|internal\/stream|_stream)|internal\/(net|stream_base|streams)/.test(u) || /writev|writeGeneric|onStreamRead/.test(fn)) return 'node net/stream (socket I/O)';
  if (u.startsWith('node:') || u === '') return `node internals (${fn || 'native'})`.replace(/\(.{40,}\)/, '(native)');
  return 'other';
};
const totals = new Map<string, number>();
let all = 0;
for (const [id, t] of self) {
  const n = byId.get(id)!;
  const b = bucketOf(n);
  if (b === '(idle)') continue;
  totals.set(b, (totals.get(b) ?? 0) + t);
  all += t;
}
const top = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 14);
console.log(`busy CPU ${(all / 1000).toFixed(0)} ms`);
for (const [b, t] of top) console.log(`${((t / all) * 100).toFixed(1).padStart(5)}%  ${b}`);
