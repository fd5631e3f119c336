/**
 * Turns bench-suite results into the figures of docs/benchmarks.md and its chart
 * (docs/benchmarks.svg): medians over the rounds of a run of the same-round ratios, and of the
 * absolute figures for orientation.
 *
 *   npm run bench:summary -- --run before=bench/results/A.jsonl --run after=bench/results/B.jsonl [--scale after=bench/results/C.jsonl]
 *
 * The text between `<!-- figures:start -->` and `<!-- figures:end -->` in docs/benchmarks.md is
 * replaced; the rest of the page is left as written.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Sample } from './suite/common.js';
import { median } from './suite/common.js';

const { values } = parseArgs({ options: { run: { type: 'string', multiple: true, default: [] }, scale: { type: 'string', multiple: true, default: [] } } });

const load = async (spec: string) => {
  const [label, file] = spec.includes('=') ? (spec.split('=', 2) as [string, string]) : [spec, spec];
  const text = await readFile(file, 'utf8');
  return { label, file, samples: text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Sample) };
};
const runs = await Promise.all(values.run.map(load));
const scales = await Promise.all(values.scale.map(load));
if (!runs.length) throw new Error('give at least one --run label=results.jsonl');

const find = (s: Sample[], o: Partial<Sample>) => s.filter((x) => Object.entries(o).every(([k, v]) => (x as unknown as Record<string, unknown>)[k] === v));
const rounds = (s: Sample[]) => [...new Set(s.filter((x) => x.round > 0).map((x) => x.round))].sort();

/** The median over rounds of num/den, each taken in the same round. */
function ratio(s: Sample[], num: Partial<Sample>, den: Partial<Sample>): { value: number; n: number } {
  const rs: number[] = [];
  for (const round of rounds(s)) {
    const a = find(s, { ...num, round })[0];
    const b = find(s, { ...den, round })[0];
    if (a && b && b.value > 0) rs.push(a.value / b.value);
  }
  return { value: median(rs), n: rs.length };
}
const med = (s: Sample[], o: Partial<Sample>) => {
  const v = find(s, o).map((x) => x.value);
  return { value: median(v), n: v.length };
};
const f = (x: { value: number; n: number }, digits = 2) => (Number.isFinite(x.value) ? `${x.value.toFixed(digits)}` : 'n/a');
const abs = (x: { value: number }) => (Number.isFinite(x.value) ? x.value.toFixed(0) : 'n/a');

const CONC = [1, 4, 16];
const lines: string[] = [];
const chart: Array<{ group: string; label: string; value: number }> = [];
for (const r of runs) {
  const s = r.samples;
  lines.push(`### ${r.label}`, '', `Run \`${s[0]?.run ?? '?'}\`, ${rounds(s).length} round(s). Ratios are medians of same-round ratios; absolute figures (per second) are medians for orientation only.`, '');
  lines.push('| concurrency | 3-step / DBOS 3-step | 1-step / graphile-worker (batched) | 1-step / graphile-worker (default) | steps/s / raw transitions (PostgreSQL) | steps/s / raw transitions (embedded) |', '| --- | --- | --- | --- | --- | --- |');
  for (const c of CONC) {
    const dbos = ratio(s, { backend: 'postgres', subject: 'rw-3step', concurrency: c, metric: 'tasks_per_s' }, { subject: 'dbos-3step', concurrency: c });
    const gwb = ratio(s, { backend: 'postgres', subject: 'rw-1step', concurrency: c, metric: 'tasks_per_s' }, { subject: 'graphile-1job-batched', concurrency: c });
    const gw = ratio(s, { backend: 'postgres', subject: 'rw-1step', concurrency: c, metric: 'tasks_per_s' }, { subject: 'graphile-1job', concurrency: c });
    const rawPg = ratio(s, { backend: 'postgres', subject: 'rw-3step', concurrency: c, metric: 'steps_per_s' }, { backend: 'postgres', subject: 'raw', concurrency: c });
    const rawEm = ratio(s, { backend: 'embedded', subject: 'rw-3step', concurrency: c, metric: 'steps_per_s' }, { backend: 'embedded', subject: 'raw', concurrency: c });
    const a = (o: Partial<Sample>) => abs(med(s, { ...o, concurrency: c }));
    lines.push(
      `| ${c} | ${f(dbos)} (${a({ backend: 'postgres', subject: 'rw-3step', metric: 'tasks_per_s' })} vs ${a({ subject: 'dbos-3step' })}) | ${f(gwb)} (${a({ backend: 'postgres', subject: 'rw-1step', metric: 'tasks_per_s' })} vs ${a({ subject: 'graphile-1job-batched' })}) | ${f(gw)} (vs ${a({ subject: 'graphile-1job' })}) | ${f(rawPg)} (${a({ backend: 'postgres', subject: 'rw-3step', metric: 'steps_per_s' })} vs ${a({ backend: 'postgres', subject: 'raw' })}) | ${f(rawEm)} (${a({ backend: 'embedded', subject: 'rw-3step', metric: 'steps_per_s' })} vs ${a({ backend: 'embedded', subject: 'raw' })}) |`,
    );
    chart.push({ group: `c${c} 3-step/DBOS`, label: r.label, value: dbos.value });
    chart.push({ group: `c${c} 1-step/graphile batched`, label: r.label, value: gwb.value });
    chart.push({ group: `c${c} steps/raw (pg)`, label: r.label, value: rawPg.value });
  }
  lines.push('');
  lines.push('| figure | PostgreSQL | embedded |', '| --- | --- | --- |');
  const both = (o: Partial<Sample>, d = 2) => `${f(med(s, { backend: 'postgres', ...o }), d)} | ${f(med(s, { backend: 'embedded', ...o }), d)}`;
  lines.push(`| per-step overhead p50, c1 (ms) | ${both({ subject: 'overhead', metric: 'p50_ms' })} |`);
  lines.push(`| per-step overhead p99, c1 (ms) | ${both({ subject: 'overhead', metric: 'p99_ms' })} |`);
  lines.push(`| submit to first action p50 (ms) | ${both({ subject: 'submit-latency', metric: 'p50_ms' })} |`);
  lines.push(`| submit to first action p99 (ms) | ${both({ subject: 'submit-latency', metric: 'p99_ms' })} |`);
  lines.push(`| 1-step tasks/s, c16 | ${both({ subject: 'rw-1step', metric: 'tasks_per_s', concurrency: 16 }, 0)} |`);
  lines.push(`| 3-step tasks/s, c16 | ${both({ subject: 'rw-3step', metric: 'tasks_per_s', concurrency: 16 }, 0)} |`);
  lines.push(`| raw transitions/s, c16 | ${both({ subject: 'raw', metric: 'transitions_per_s', concurrency: 16 }, 0)} |`);
  lines.push('');
}
for (const r of [...scales, ...runs.filter((x) => find(x.samples, { subject: 'claim' }).length && !scales.some((y) => y.file === x.file))]) {
  const s = r.samples;
  if (!find(s, { subject: 'claim' }).length) continue;
  lines.push(`### Scale: ${r.label}`, '', '| figure | backend | 1,000 tasks | 1,000,000 tasks | ratio |', '| --- | --- | --- | --- | --- |');
  for (const backend of ['postgres', 'embedded']) {
    for (const subject of ['claim', 'list-escalated', 'list-all']) {
      const at = (size: number) => s.find((x) => x.backend === backend && x.subject === subject && x.metric === 'p50_ms' && (x.detail as { size?: number } | undefined)?.size === size);
      const small = at(1000);
      const big = at(1_000_000);
      if (!small && !big) continue;
      const name = { claim: 'claim (1 task) p50 ms', 'list-escalated': '`tasks --state escalated` p50 ms', 'list-all': '`tasks` (no filter) p50 ms' }[subject];
      lines.push(`| ${name} | ${backend} | ${small?.value.toFixed(2) ?? 'n/a'} | ${big?.value.toFixed(2) ?? 'n/a'} | ${small && big ? (big.value / small.value).toFixed(2) : 'n/a'} |`);
    }
    const rss = s.find((x) => x.backend === backend && x.subject === 'rss');
    if (rss) lines.push(`| worker RSS with ${(rss.detail as { queued: number }).queued.toLocaleString('en')} queued (MB) | ${backend} | | ${rss.value.toFixed(0)} | |`);
  }
  lines.push('');
  for (const backend of ['postgres', 'embedded']) {
    for (const subject of ['claim', 'list-escalated', 'list-all']) {
      const big = s.find((x) => x.backend === backend && x.subject === subject && x.metric === 'p50_ms' && (x.detail as { size?: number } | undefined)?.size === 1_000_000);
      const plan = (big?.detail as { plan?: string } | undefined)?.plan;
      if (plan) lines.push(`<details><summary>${subject} plan, ${backend}, 1,000,000 tasks</summary>`, '', '```', plan, '```', '', '</details>', '');
    }
  }
}

// A grouped bar chart of the ratios, one bar per run in each group; 1.0 marked.
function svg(): string {
  const groups = [...new Set(chart.map((c) => c.group))];
  const labels = [...new Set(chart.map((c) => c.label))];
  const colors = ['#8c8c8c', '#2f6fb3', '#d9822b', '#3a9a5b'];
  const max = Math.max(1.2, ...chart.map((c) => (Number.isFinite(c.value) ? c.value : 0))) * 1.1;
  const W = 900;
  const H = 360;
  const left = 50;
  const bottom = 90;
  const gw = (W - left - 20) / groups.length;
  const bw = (gw * 0.7) / labels.length;
  const y = (v: number) => H - bottom - (v / max) * (H - bottom - 30);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`, `<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${left}" y="18" font-size="13">runwarden as a multiple of its peers and of the raw transition rate (medians of same-round ratios; higher is better)</text>`];
  for (let t = 0; t <= max; t += max > 4 ? 1 : 0.25) out.push(`<line x1="${left}" x2="${W - 20}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/><text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${t.toFixed(2)}</text>`);
  out.push(`<line x1="${left}" x2="${W - 20}" y1="${y(1)}" y2="${y(1)}" stroke="#c33" stroke-dasharray="4 3"/>`);
  groups.forEach((g, gi) => {
    const x0 = left + gi * gw + gw * 0.15;
    labels.forEach((l, li) => {
      const c = chart.find((x) => x.group === g && x.label === l);
      const v = c && Number.isFinite(c.value) ? c.value : 0;
      out.push(`<rect x="${(x0 + li * bw).toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(H - bottom - y(v)).toFixed(1)}" fill="${colors[li % colors.length]}"><title>${l} ${g}: ${v.toFixed(2)}</title></rect>`);
      out.push(`<text x="${(x0 + li * bw + bw / 2).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" text-anchor="middle" font-size="9">${v.toFixed(2)}</text>`);
    });
    out.push(`<text transform="translate(${(x0 + (bw * labels.length) / 2).toFixed(1)},${H - bottom + 12}) rotate(30)" font-size="10">${g}</text>`);
  });
  labels.forEach((l, li) => out.push(`<rect x="${W - 160}" y="${30 + li * 16}" width="10" height="10" fill="${colors[li % colors.length]}"/><text x="${W - 145}" y="${39 + li * 16}">${l}</text>`));
  out.push('</svg>');
  return out.join('\n');
}

const docs = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
await writeFile(fileURLToPath(new URL('../docs/benchmarks.svg', import.meta.url)), `${svg()}\n`);
const page = await readFile(docs, 'utf8').catch(() => '# Benchmarks\n\n<!-- figures:start -->\n<!-- figures:end -->\n');
const [head, rest] = page.split('<!-- figures:start -->');
const tail = rest?.split('<!-- figures:end -->')[1] ?? '\n';
await writeFile(docs, `${head}<!-- figures:start -->\n${lines.join('\n')}\n<!-- figures:end -->${tail}`);
console.log(lines.join('\n'));
