/**
 * The console's one stylesheet and one script, served from its own routes (so the
 * Content-Security-Policy can forbid anything inline). The script is optional: every page works
 * without it. With it, pages marked live refresh their `data-live` parts every few seconds,
 * and never while a form on the page is being filled in.
 */

export const CONSOLE_CSS = `
:root { --fg:#1b1f24; --muted:#5b6673; --bg:#f6f7f9; --card:#fff; --line:#d9dee4;
  --alert:#b42318; --alert-bg:#fdecea; --warn:#9a5b00; --warn-bg:#fff4e0; --ok:#1a7f37; --ok-bg:#e7f5ec;
  --busy:#0b5cad; --busy-bg:#e6f0fb; --accent:#0b5cad; }
* { box-sizing: border-box; }
body { margin:0; font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
main { max-width: 1100px; margin: 0 auto; padding: 16px 20px 64px; }
a { color: var(--accent); }
code, pre { font-family: ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size: 0.9em; }
pre { background:#f0f2f5; padding:8px 10px; overflow:auto; border-radius:4px; max-height: 360px; }
pre.cmd { background:#1b1f24; color:#f6f7f9; }
h1 { font-size: 1.7rem; margin: 12px 0 4px; }
h2 { font-size: 1.25rem; margin: 28px 0 8px; }
h3 { font-size: 1.05rem; margin: 16px 0 6px; }
.lead { color: var(--muted); margin-top: 0; }
.muted { color: var(--muted); font-size: 0.92em; }
.sr { position:absolute; left:-9999px; }
nav.top { display:flex; gap:18px; align-items:center; padding:10px 20px; background:#1b1f24; color:#fff; flex-wrap: wrap; }
nav.top a { color:#dfe6ee; text-decoration:none; font-weight:500; }
nav.top a[aria-current=page] { color:#fff; border-bottom: 2px solid #fff; }
nav.top .brand { font-weight:700; color:#fff; margin-right: 8px; }
nav.top .who { margin-left:auto; color:#c5ced8; font-size:0.9em; }
nav.top .count { background: var(--alert); color:#fff; border-radius:10px; padding:0 7px; font-size:0.85em; }
form.inline { display:inline; }
button, .button { font: inherit; padding: 7px 14px; border-radius: 5px; border:1px solid var(--line); background:#fff; color: var(--fg); cursor:pointer; text-decoration:none; display:inline-block; }
button.primary, .button.primary { background: var(--accent); border-color: var(--accent); color:#fff; font-weight:600; }
button.danger { background: #fff; border-color: var(--alert); color: var(--alert); font-weight:600; }
button.link { background:none; border:none; color:#dfe6ee; padding:0; text-decoration:underline; }
.badge { display:inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.8rem; font-weight:600; vertical-align: middle; background:#eceff3; color: var(--muted); white-space: nowrap; }
.badge.alert { background: var(--alert-bg); color: var(--alert); }
.badge.warn { background: var(--warn-bg); color: var(--warn); }
.badge.ok { background: var(--ok-bg); color: var(--ok); }
.badge.busy { background: var(--busy-bg); color: var(--busy); }
.sev { text-transform: uppercase; font-size: 0.75rem; font-weight:700; padding: 2px 7px; border-radius: 4px; background:#eceff3; color: var(--muted); }
.sev.critical, .sev.high { background: var(--alert); color:#fff; }
.sev.medium { background: var(--warn-bg); color: var(--warn); }
.flash { padding: 10px 14px; border-radius: 5px; border:1px solid var(--line); background:#fff; }
.flash.ok { border-color: var(--ok); background: var(--ok-bg); }
.flash.alert { border-color: var(--alert); background: var(--alert-bg); }
.flash.warn { border-color: var(--warn); background: var(--warn-bg); }
.card { background: var(--card); border:1px solid var(--line); border-left: 5px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
.card.critical, .card.high { border-left-color: var(--alert); }
.card.medium { border-left-color: var(--warn); }
.card header { display:flex; gap:10px; align-items: baseline; flex-wrap: wrap; }
.card header h3 { margin: 0; font-size: 1.15rem; }
.card header .age { margin-left:auto; color: var(--muted); font-weight: 600; }
.card.refused { border-left-color: var(--alert); }
.card.intake table.list { margin-top: 8px; }
.waiting { margin-top: 4px; font-size: 0.88em; color: var(--warn); }
.summary { font-weight: 600; margin: 8px 0; }
.rec { background: var(--busy-bg); padding: 8px 10px; border-radius: 4px; }
.rec .action { text-transform: uppercase; letter-spacing: 0.03em; }
dl.facts { display:flex; flex-wrap: wrap; gap: 4px 24px; margin: 6px 0; }
dl.facts div { display:flex; gap:6px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin:0; font-weight: 500; }
dl.kv { display:grid; grid-template-columns: auto 1fr; gap: 2px 8px; margin:0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; }
table.list { width:100%; border-collapse: collapse; background:#fff; border:1px solid var(--line); }
table.list th, table.list td { text-align:left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.list th { background:#eef1f4; font-size: 0.85rem; text-transform: uppercase; color: var(--muted); }
table.list tr.current td { background: var(--warn-bg); }
ul.attempts { margin: 4px 0 0; padding-left: 18px; font-size: 0.88em; }
ul.attempts li.alert { color: var(--alert); }
.filters { display:flex; gap: 12px; flex-wrap: wrap; align-items: end; background:#fff; border:1px solid var(--line); padding: 10px; border-radius: 6px; }
.filters label { display:flex; flex-direction: column; font-size: 0.85rem; color: var(--muted); }
.filters input, .filters select { font: inherit; padding: 5px; }
.chips a.chip { text-decoration: none; margin-right: 8px; }
.chips a.chip.on .badge { outline: 2px solid var(--accent); }
.task-head h1 { display:flex; gap: 12px; align-items:center; flex-wrap: wrap; }
.task-head .lead { font-size: 1.1rem; color: var(--fg); }
ol.progress { display:flex; list-style:none; padding:0; margin: 12px 0; gap: 4px; flex-wrap: wrap; }
ol.progress li { flex: 1 1 100px; padding: 6px 8px; border-radius: 4px; background:#eceff3; border:1px solid var(--line); display:flex; flex-direction:column; }
ol.progress li small { color: var(--muted); }
ol.progress li.st-succeeded, ol.progress li.st-skipped { background: var(--ok-bg); border-color: #b7dfc4; }
ol.progress li.st-failed, ol.progress li.st-in_doubt, ol.progress li.st-compensation_failed { background: var(--alert-bg); border-color: var(--alert); }
ol.progress li.current { outline: 3px solid var(--fg); }
section.alert, div.alert { background: var(--alert-bg); border:1px solid var(--alert); border-radius: 6px; padding: 4px 16px 10px; margin: 14px 0; }
section.alert h2 { color: var(--alert); margin-top: 10px; }
blockquote { margin: 8px 0; padding: 6px 12px; border-left: 4px solid var(--alert); background:#fff; font-family: ui-monospace,Menlo,Consolas,monospace; font-size: 0.9em; overflow-wrap: anywhere; }
.alert-text { color: var(--alert); }
.warn-note { background: var(--warn-bg); padding: 6px 8px; border-radius: 4px; }
.actions { display:grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
form.action { background:#fff; border:1px solid var(--line); border-radius: 6px; padding: 10px 14px; display:flex; flex-direction:column; gap: 8px; }
form.action.primary { border: 2px solid var(--accent); }
form.action.danger { border-color: #e8b4ae; }
form.action h4 { margin: 0; text-transform: capitalize; font-size: 1.05rem; }
form.action .help { margin: 0; color: var(--muted); font-size: 0.92em; }
form.action label { display:flex; flex-direction: column; gap: 3px; font-size: 0.9em; }
form.action label.check { flex-direction: row; gap: 6px; align-items: center; }
form.action textarea, form.action select { font: inherit; padding: 6px; border:1px solid var(--line); border-radius: 4px; }
form.action button { align-self: flex-start; }
details.closing { margin-top: 12px; }
details.closing > summary, details.packet > summary { cursor: pointer; font-weight: 600; padding: 6px 0; }
.packet { background:#fff; border:1px solid var(--line); border-radius: 6px; padding: 4px 16px 12px; margin-top: 24px; }
ol.timeline { list-style: none; padding: 0; margin: 0; border-left: 3px solid var(--line); }
ol.timeline li { padding: 5px 0 5px 14px; position: relative; }
ol.timeline li::before { content:""; position:absolute; left:-7px; top: 11px; width: 11px; height: 11px; border-radius: 50%; background: var(--line); }
ol.timeline li.alert::before { background: var(--alert); }
ol.timeline li.ok::before { background: var(--ok); }
ol.timeline li.person::before { background: var(--accent); }
ol.timeline li.person .what { font-weight: 600; }
ol.timeline time { color: var(--muted); font-size: 0.85em; font-family: ui-monospace,Menlo,monospace; }
ol.timeline .who { color: var(--muted); font-size: 0.85em; }
ol.timeline details { display:inline-block; margin-left: 6px; font-size: 0.85em; }
ol.timeline details pre { margin: 4px 0; }
figure.chart { background:#fff; border:1px solid var(--line); border-radius: 6px; margin: 16px 0; padding: 10px 14px; }
figure.chart figcaption { font-weight: 700; margin-bottom: 6px; }
figure.chart .legend { color: var(--muted); font-size: 0.9em; margin: 4px 0 0; }
svg .label, svg .figure { font: 13px system-ui,sans-serif; fill: #1b1f24; }
svg .track { fill: #eef1f4; }
svg .behind { fill: #b9cde4; }
svg .bar.plain { fill: #0b5cad; }
svg .bar.ok { fill: #1a7f37; }
svg .bar.warn { fill: #c77d00; }
svg .bar.alert { fill: #b42318; }
.login { max-width: 480px; margin: 60px auto; background:#fff; border:1px solid var(--line); border-radius: 8px; padding: 10px 24px 20px; }
.login form { display:flex; flex-direction: column; gap: 12px; }
.login label { display:flex; flex-direction: column; gap: 4px; }
.login input[type=password] { font: inherit; padding: 8px; }
ul.problems li { margin: 4px 0; }
@media (max-width: 640px) { main { padding: 8px 10px 40px; } .card header .age { margin-left: 0; } }
`;

/** Refreshes `[data-live]` parts of a page marked `data-live-every`, unless a form is in use. */
export const CONSOLE_JS = `
(function () {
  var every = Number(document.body.getAttribute('data-live-every'));
  if (!every || !window.fetch || !window.DOMParser) return;
  var busy = function () {
    var a = document.activeElement;
    if (a && a.form) return true;
    var fields = document.querySelectorAll('textarea, input[type=text], input[type=password]');
    for (var i = 0; i < fields.length; i++) if (fields[i].value) return true;
    return false;
  };
  setInterval(function () {
    if (document.hidden || busy()) return;
    fetch(location.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (!text || busy()) return;
        var doc = new DOMParser().parseFromString(text, 'text/html');
        document.querySelectorAll('[data-live]').forEach(function (el) {
          var next = doc.querySelector('[data-live="' + el.getAttribute('data-live') + '"]');
          if (next) el.innerHTML = next.innerHTML;
        });
        var count = doc.querySelector('[data-testid=waiting-count]');
        var mine = document.querySelector('[data-testid=waiting-count]');
        if (mine) mine.textContent = count ? count.textContent : '';
      })
      .catch(function () {});
  }, every * 1000);
})();
`;
