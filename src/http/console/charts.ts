/**
 * Charts as SVG written on the server: horizontal bars, one row per labelled value, each with
 * its figure printed beside it (a chart that needs hovering to be read is not read at 3 a.m.).
 * Colours come from classes the stylesheet sets; no script, no inline style.
 */
import { html, type SafeHtml } from './html.js';

export interface Bar {
  label: string;
  /** The bar's length in the chart's unit; null draws no bar and prints `text` (say "no data"). */
  value: number | null;
  /** What is printed beside the bar. */
  text: string;
  /** A second, lighter bar behind the first (p90 behind p50). */
  behind?: number | null;
  tone?: 'alert' | 'warn' | 'ok' | 'plain';
}

export interface BarChartOptions {
  title: string;
  /** The value a full-width bar stands for (1 for rates). Default: the largest value. */
  max?: number;
  /** Width of the label column, in px. Default 220. */
  labelWidth?: number;
  legend?: string;
}

const ROW = 26;
const WIDTH = 720;
const TEXT_COL = 150;

/** A horizontal bar chart as an <svg> element with a <title> and one row per bar. */
export function barChart(bars: readonly Bar[], o: BarChartOptions): SafeHtml {
  const labelW = o.labelWidth ?? 220;
  const plotW = WIDTH - labelW - TEXT_COL;
  const max = o.max ?? Math.max(0, ...bars.flatMap((b) => [b.value ?? 0, b.behind ?? 0]));
  const scale = (v: number) => (max > 0 ? Math.max(0, Math.min(1, v / max)) * plotW : 0);
  const height = Math.max(1, bars.length) * ROW + 8;
  const rows = bars.map((b, i) => {
    const y = i * ROW + 4;
    const label = b.label.length > 32 ? `${b.label.slice(0, 31)}…` : b.label;
    return html`<g class="row">
  <title>${b.label}: ${b.text}</title>
  <text x="${labelW - 8}" y="${y + 17}" text-anchor="end" class="label">${label}</text>
  <rect x="${labelW}" y="${y + 3}" width="${plotW}" height="${ROW - 8}" class="track"></rect>
  ${b.behind != null ? html`<rect x="${labelW}" y="${y + 3}" width="${scale(b.behind).toFixed(1)}" height="${ROW - 8}" class="behind"></rect>` : ''}
  ${b.value != null ? html`<rect x="${labelW}" y="${y + 3}" width="${scale(b.value).toFixed(1)}" height="${ROW - 8}" class="bar ${b.tone ?? 'plain'}"></rect>` : ''}
  <text x="${labelW + plotW + 8}" y="${y + 17}" class="figure">${b.text}</text>
</g>`;
  });
  return html`<figure class="chart">
<figcaption>${o.title}</figcaption>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="${o.title}">
<title>${o.title}</title>
${bars.length ? rows : html`<text x="8" y="20" class="label">no data yet</text>`}
</svg>
${o.legend ? html`<p class="legend">${o.legend}</p>` : ''}
</figure>`;
}

/** `42%` (`-` for null). */
export function percent(rate: number | null): string {
  return rate === null || !Number.isFinite(rate) ? '-' : `${Math.round(rate * 100)}%`;
}
