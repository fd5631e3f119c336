/**
 * The page shell every console page shares: the navigation, who is signed in, a flash line for
 * what just happened, and the one stylesheet and script (served from the console's own routes,
 * so the Content-Security-Policy allows nothing inline).
 */
import { html, type SafeHtml } from './html.js';
import type { Viewer } from './model.js';

export type Section = 'inbox' | 'tasks' | 'intake' | 'runbooks' | 'report' | 'none';

export interface PageOptions {
  title: string;
  section: Section;
  viewer?: Viewer;
  /** A line saying what just happened (an action applied) or what went wrong. */
  flash?: { tone: 'ok' | 'alert'; text: string };
  /** How many tasks wait for a person (shown beside "Inbox"). */
  waiting?: number;
  /** Refresh the page's live parts every few seconds (the script does; without it nothing changes). */
  live?: boolean;
}

function nav(o: PageOptions): SafeHtml {
  const link = (s: Section, href: string, label: string, extra: SafeHtml | string = '') =>
    html`<a href="${href}"${o.section === s ? html` aria-current="page"` : ''}>${label}${extra}</a>`;
  const count = o.waiting ? html` <span class="count" data-testid="waiting-count">${o.waiting}</span>` : '';
  return html`<nav class="top">
  <a class="brand" href="/">runwarden</a>
  ${link('inbox', '/', 'Inbox', count)}
  ${link('tasks', '/tasks', 'Tasks')}
  ${link('intake', '/intake', 'Intake')}
  ${link('runbooks', '/runbooks', 'Runbooks')}
  ${link('report', '/report', 'Report')}
  <span class="who">${
    o.viewer
      ? html`signed in as <strong>${o.viewer.name}</strong> (${o.viewer.role})
    <form method="post" action="/logout" class="inline"><input type="hidden" name="_csrf" value="${o.viewer.csrf}"><button class="link">Sign out</button></form>`
      : ''
  }</span>
</nav>`;
}

/** A whole page. */
export function page(o: PageOptions, body: SafeHtml): string {
  const flash = o.flash ? html`<p class="flash ${o.flash.tone}" role="status">${o.flash.text}</p>` : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · runwarden</title>
<link rel="stylesheet" href="/console/console.css">
<script src="/console/console.js" defer></script>
</head>
<body${o.live ? html` data-live-every="10"` : ''}>
${o.section === 'none' && !o.viewer ? '' : nav(o)}
<main>
${flash}
${body}
</main>
</body>
</html>
`.value;
}
