// Every login of the account: which browser or app, when it signed in and was last active.
// Any other one can be signed out (its tokens are refused at once), or all of them together.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, signOut } from '../api.js';
import { describeAgent } from '../messages.js';
import { go } from '../nav.js';
import { Done, ErrorAlert, Page, useAction, useLoad, when } from '../ui.js';

function capital(text) { return text.charAt(0).toUpperCase() + text.slice(1); }

export function Sessions({ version }) {
  const list = useLoad(() => api('GET', '/me/sessions'), [version]);
  const [done, setDone] = useState(null);
  const end = useAction(async (s) => {
    setDone(null);
    await api('DELETE', `/me/sessions/${encodeURIComponent(s.session_id)}`);
    setDone(`Signed out ${describeAgent(s.user_agent)}.`);
    list.reload();
  });
  const endOthers = useAction(async () => {
    setDone(null);
    await api('POST', '/me/sessions/revoke-others');
    setDone('Signed out everywhere else. Only this browser is still signed in.');
    list.reload();
  });
  // This browser first, then the others newest first (as the API lists them).
  const items = list.data ? [...list.data.items].sort((a, b) => Number(b.current) - Number(a.current)) : [];
  const others = items.filter((s) => !s.current);
  return html`<${Page} title="Your sessions">
    <p>Each browser or app signed in to your account. Do not recognize one? Sign it out, then change your
      password.</p>
    <${ErrorAlert} error=${list.error || end.error || endOthers.error} />
    <${Done}>${done}</${Done}>
    ${list.loading && !list.data && html`<p class="muted">Loading…</p>`}
    ${items.length > 0 && html`<div class="card"><ul class="list" data-testid="sessions">
      ${items.map((s) => {
        const name = capital(describeAgent(s.user_agent));
        return html`<li data-testid="session" data-current=${s.current ? 'true' : 'false'}>
          <span>
            <strong>${name}</strong>${s.current && html` · <strong class="credit">This browser</strong>`}
            <br /><span class="muted">Signed in ${when(s.created_at)} · last active ${when(s.last_used_at)}</span>
          </span>
          ${s.current
            ? html`<button type="button" class="secondary" aria-label="Sign out this browser"
                onClick=${() => signOut().then(() => go('signin'))}>Sign out</button>`
            : html`<button type="button" class="secondary" disabled=${end.busy}
                aria-label=${`Sign out ${name}, signed in ${when(s.created_at)}`}
                onClick=${() => end.go(s)}>Sign out</button>`}
        </li>`;
      })}
    </ul></div>`}
    ${others.length > 0 && html`<div class="actions">
      <button type="button" disabled=${endOthers.busy} onClick=${() => endOthers.go()}>Sign out everywhere else</button>
    </div>`}
    <p><a href="#/security">Back to Security</a></p>
  </${Page}>`;
}
