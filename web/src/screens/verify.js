// Verify first: an account with no proven e-mail or phone may look around but not act (the API
// answers 403 `verification_required` to its writes), so the wallet opens on this screen until
// one of them is proven.
import { html } from 'htm/preact';
import { api } from '../api.js';
import { ErrorAlert, Page, useLoad } from '../ui.js';
import { Contact } from './security.js';

export function Verify({ refused, onVerified }) {
  const me = useLoad(() => api('GET', '/me'), []);
  const changed = (user) => { if (user.email_verified || user.phone_verified) onVerified(user); };
  const user = me.data;
  return html`<${Page} title="Verify your e-mail">
    ${refused && html`<div class="alert error" role="alert" data-testid="verify-first">
      That needs a verified e-mail or phone first. Verify one below, then try again.</div>`}
    <p>Before you can pay, top up or change anything, prove that this e-mail is yours: we send it a
      6-digit code and you type it here. It also lets people pay you by it.</p>
    <${ErrorAlert} error=${me.error} />
    ${me.loading && html`<p class="muted">Loading…</p>`}
    ${user && html`
      <${Contact} me=${user} channel="email" onChange=${changed} />
      ${user.phone && html`<p>Or prove your phone instead:</p><${Contact} me=${user} channel="phone" onChange=${changed} />`}`}
    <p class="muted">No code? Check your spam folder, or ask for a new one. Accounts left unverified for 7 days
      are closed.</p>
    <p><a href="#/sessions">Where you are signed in</a></p>
  </${Page}>`;
}
