/** The sign-in page: a token (from `runwarden tokens add`) exchanged for a session cookie. */
import { html, type SafeHtml } from './html.js';

export function renderLogin(o: { csrf: string; next: string; error?: string }): SafeHtml {
  return html`<section class="login">
<h1>Sign in to runwarden</h1>
<p class="lead">Paste your API token (from <code>runwarden tokens add &lt;name&gt; --role viewer|operator|admin</code>). Actions you take are recorded under the token's name.</p>
${o.error ? html`<p class="flash alert" role="alert">${o.error}</p>` : ''}
<form method="post" action="/login" data-testid="login">
  <input type="hidden" name="_csrf" value="${o.csrf}">
  <input type="hidden" name="next" value="${o.next}">
  <label>Token <input type="password" name="token" autocomplete="current-password" required autofocus data-testid="token"></label>
  <button class="primary" data-testid="sign-in">Sign in</button>
</form>
<p class="muted">The session lasts until you sign out, for at most 12 hours, and ends when the server restarts.</p>
</section>`;
}
