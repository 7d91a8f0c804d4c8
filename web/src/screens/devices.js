// Offline payments: each phone that can pay without a network, and the allowances (money held
// in advance, the most that device can ever spend) it carries.
import { html } from 'htm/preact';
import { api } from '../api.js';
import { formatMoney } from '../money.js';
import { ErrorAlert, Page, useAction, useLoad, when } from '../ui.js';

async function everything() {
  const [devices, allowances] = await Promise.all([
    api('GET', '/offline/devices'), api('GET', '/offline/allowances?limit=100')]);
  return { devices: devices.items, allowances: allowances.items };
}

export function Devices({ version }) {
  const data = useLoad(everything, [version]);
  const revoke = useAction(async (id) => { await api('DELETE', `/offline/devices/${id}`); data.reload(); });
  const devices = data.data ? data.data.devices : [];
  return html`<${Page} title="Offline devices">
    <p class="muted">A device gets an allowance: money held from your wallet that it can pay with even without a
      network. Losing the device can never cost more than what its allowances still hold.</p>
    <${ErrorAlert} error=${data.error || revoke.error} />
    ${!data.loading && !devices.length && html`<p>No device yet. Add one from the wallet app on your phone.</p>`}
    ${devices.map((d) => {
      const mine = data.data.allowances.filter((a) => a.device_id === d.device_id);
      return html`<div class="card" data-testid="device">
        <h2>${d.name || 'Unnamed device'} <span class="muted">(${d.status})</span></h2>
        ${mine.length ? html`<ul class="list">${mine.map((a) => html`<li>
          <span>${formatMoney(a.amount, a.currency)} allowance · ${a.status}<br />
            <span class="muted">Spent ${formatMoney(a.spent, a.currency)}, left ${formatMoney(a.remaining, a.currency)}
            · until ${when(a.expires_at)}</span></span></li>`)}</ul>`
          : html`<p class="muted">No allowance on this device.</p>`}
        ${d.status === 'active' && html`<div class="actions"><button type="button" class="secondary"
          disabled=${revoke.busy} onClick=${() => revoke.go(d.device_id)}>Remove this device</button></div>`}
      </div>`;
    })}
  </${Page}>`;
}
