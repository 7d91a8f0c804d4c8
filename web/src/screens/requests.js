// Ask someone for money, and answer what others ask of you.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, settings } from '../api.js';
import { useIdempotency } from '../keys.js';
import { amountHint, formatMoney, parseAmount } from '../money.js';
import { Done, ErrorAlert, Field, Page, Select, submitting, useAction, useLoad, when, BAD_AMOUNT, pickWallet } from '../ui.js';
import { recipient } from './send.js';

function person(p) { return (p && p.display_name) || 'Someone'; }

function Incoming({ request, wallets, onChange }) {
  const usable = wallets.filter((w) => w.currency === request.currency);
  const [picked, setWalletId] = useState(null);
  const walletId = picked || (usable.length ? usable[0].wallet_id : '');
  const once = useIdempotency();
  const pay = useAction(async () => {
    const body = { wallet_id: walletId };
    await once(body, (key) => api('POST', `/payment-requests/${request.request_id}/pay`, body, { key }));
    onChange();
  });
  const decline = useAction(async () => {
    await api('POST', `/payment-requests/${request.request_id}/decline`);
    onChange();
  });
  const money = formatMoney(request.amount, request.currency);
  return html`<li data-testid="incoming-request">
    <span><strong>${person(request.requester)}</strong> asks for ${money}${request.memo ? ` · ${request.memo}` : ''}
      <br /><span class="muted">${request.status === 'pending' ? `Until ${when(request.expires_at)}` : request.status}</span>
    </span>
    ${request.status === 'pending' && html`<span class="actions">
      <${ErrorAlert} error=${pay.error || decline.error} />
      ${usable.length > 1 && html`<${Select} label="Pay from" name="wallet_id" value=${walletId}
        onChange=${(e) => setWalletId(e.currentTarget.value)}
        options=${usable.map((w) => [w.wallet_id, `${w.name}: ${formatMoney(w.available, w.currency)}`])} />`}
      <button type="button" disabled=${pay.busy || !walletId} onClick=${() => pay.go()}
        aria-label=${`Pay ${money} to ${person(request.requester)}`}>Pay ${money}</button>
      <button type="button" class="secondary" disabled=${decline.busy} onClick=${() => decline.go()}>Decline</button>
    </span>`}
    ${request.status === 'pending' && !usable.length && html`<span class="muted">Open a ${request.currency} wallet to pay this.</span>`}
  </li>`;
}

function Outgoing({ request, onChange }) {
  const cancel = useAction(async () => {
    await api('POST', `/payment-requests/${request.request_id}/cancel`);
    onChange();
  });
  return html`<li data-testid="outgoing-request">
    <span>${formatMoney(request.amount, request.currency)} from <strong>${person(request.payer)}</strong>
      ${request.memo ? ` · ${request.memo}` : ''}<br /><span class="muted">${request.status}</span></span>
    ${request.status === 'pending' && html`<span class="actions"><${ErrorAlert} error=${cancel.error} />
      <button type="button" class="secondary" disabled=${cancel.busy} onClick=${() => cancel.go()}>Cancel request</button></span>`}
  </li>`;
}

export function Requests({ version }) {
  const [bump, setBump] = useState(0);
  const refresh = () => setBump((b) => b + 1);
  const incoming = useLoad(() => api('GET', '/payment-requests?role=incoming&limit=20'), [version, bump]);
  const outgoing = useLoad(() => api('GET', '/payment-requests?role=outgoing&limit=20'), [version, bump]);
  const wallets = useLoad(() => api('GET', '/wallets'), [version, bump]);
  const [currency, setCurrency] = useState(null);
  const [asked, setAsked] = useState(null);
  const list = wallets.data ? wallets.data.items : [];
  const cur = currency || (pickWallet(list, null) || { currency: settings().currencies[0] }).currency;
  const once = useIdempotency();
  const ask = useAction(async (body) => {
    const request = await once(body, (key) => api('POST', '/payment-requests', body, { key }));
    setAsked(request);
    refresh();
  });
  const onSubmit = (form) => {
    setAsked(null);
    const amount = parseAmount(form.get('amount'), cur);
    if (amount === null) { ask.setError(BAD_AMOUNT); return; }
    const body = { payer: recipient(form.get('payer')), amount, currency: cur };
    if (form.get('memo')) body.memo = form.get('memo');
    ask.go(body);
  };
  return html`<${Page} title="Payment requests">
    <h2>Asked of you</h2>
    <div class="card">
      <${ErrorAlert} error=${incoming.error} />
      ${incoming.data && (incoming.data.items.length ? html`<ul class="list">
        ${incoming.data.items.map((r) => html`<${Incoming} key=${r.request_id} request=${r} wallets=${list}
          onChange=${refresh} />`)}</ul>` : html`<p class="muted">Nobody has asked you for money.</p>`)}
    </div>
    <h2>Ask for money</h2>
    <form onSubmit=${submitting(onSubmit)} noValidate>
      <${ErrorAlert} error=${ask.error} />
      <${Field} label="From (their e-mail or phone)" name="payer" autocomplete="off" required error=${ask.error} />
      <${Select} label="Currency" name="currency" value=${cur} onChange=${(e) => setCurrency(e.currentTarget.value)}
        options=${settings().currencies.map((c) => [c, c])} />
      <${Field} label="Amount" name="amount" inputmode="decimal" required hint=${amountHint(cur)} error=${ask.error} />
      <${Field} label="What for (optional)" name="memo" maxLength="280" error=${ask.error} />
      <div class="actions"><button type="submit" disabled=${ask.busy}>Send request</button></div>
    </form>
    ${asked && html`<${Done}>Asked ${person(asked.payer)} for ${formatMoney(asked.amount, asked.currency)}.</${Done}>`}
    <h2>You asked</h2>
    <div class="card">
      <${ErrorAlert} error=${outgoing.error} />
      ${outgoing.data && (outgoing.data.items.length ? html`<ul class="list">
        ${outgoing.data.items.map((r) => html`<${Outgoing} key=${r.request_id} request=${r} onChange=${refresh} />`)}
      </ul>` : html`<p class="muted">You have not asked anyone yet.</p>`)}
    </div>
  </${Page}>`;
}
