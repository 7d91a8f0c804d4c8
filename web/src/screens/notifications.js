// Everything that happened to your money, newest first; unread ones are marked.
import { html } from 'htm/preact';
import { api } from '../api.js';
import { describeNotice } from '../messages.js';
import { formatMoney } from '../money.js';
import { ErrorAlert, Page, useAction, useLoad, when } from '../ui.js';

export function Notifications({ version, onUnread }) {
  const page = useLoad(() => api('GET', '/notifications?limit=50').then((p) => { onUnread(p.unread_count); return p; }),
    [version]);
  const readOne = useAction(async (id) => { await api('POST', `/notifications/${id}/read`); page.reload(); });
  const readAll = useAction(async () => { await api('POST', '/notifications/read-all'); page.reload(); });
  const items = page.data ? page.data.items : [];
  return html`<${Page} title="Notifications">
    <${ErrorAlert} error=${page.error || readOne.error || readAll.error} />
    ${page.data && page.data.unread_count > 0 && html`<div class="actions">
      <button type="button" class="secondary" disabled=${readAll.busy} onClick=${() => readAll.go()}>Mark all as read</button></div>`}
    <div class="card">
      ${items.length ? html`<ul class="list" data-testid="notifications">${items.map((n) => html`<li>
        <span class=${n.read ? '' : 'unread'}>
          ${!n.read && html`<span class="visually-hidden">Unread: </span>`}${describeNotice(n, formatMoney)}
          <br /><span class="muted">${when(n.created_at)}</span></span>
        ${!n.read && html`<button type="button" class="link" onClick=${() => readOne.go(n.notification_id)}>Mark as read</button>`}
      </li>`)}</ul>` : html`<p class="muted">${page.loading ? 'Loading…' : 'Nothing yet.'}</p>`}
    </div>
  </${Page}>`;
}
