// Send money to an e-mail or phone; someone not on the wallet yet can be invited, with the
// money held for them until they join (or it comes back).
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { useIdempotency } from '../keys.js';
import { amountHint, formatMoney, parseAmount } from '../money.js';
import { Done, ErrorAlert, Field, Page, Select, submitting, useAction, useLoad, walletLabel, when, BAD_AMOUNT, pickWallet } from '../ui.js';

export function recipient(text) {
  const value = text.trim();
  return value.includes('@') ? { email: value } : { phone: value };
}

export function Send({ version }) {
  const wallets = useLoad(() => api('GET', '/wallets'), [version]);
  const [walletId, setWalletId] = useState(null);
  const [invite, setInvite] = useState(null); // the body waiting for "send an invitation?"
  const [sent, setSent] = useState(null);
  const once = useIdempotency();
  const list = wallets.data ? wallets.data.items : [];
  const wallet = pickWallet(list, walletId);

  const send = useAction(async (body) => {
    try {
      const transfer = await once(body, (key) => api('POST', '/transfers', body, { key }));
      setInvite(null);
      setSent({ transfer, to: body.to.email || body.to.phone });
      wallets.reload();
    } catch (err) {
      if (err.code === 'recipient_not_found' && !body.to.invite) { setInvite(body); return; }
      throw err;
    }
  });
  const cancel = useAction(async (transferId) => {
    const transfer = await api('POST', `/transfers/${transferId}/cancel`);
    setSent({ ...sent, transfer });
    wallets.reload();
  });

  const onSubmit = (form) => {
    setSent(null);
    setInvite(null);
    const amount = parseAmount(form.get('amount'), wallet.currency);
    if (amount === null) {
      send.setError(BAD_AMOUNT);
      return;
    }
    const body = { from_wallet_id: wallet.wallet_id, to: recipient(form.get('to')), amount, currency: wallet.currency };
    if (form.get('memo')) body.memo = form.get('memo');
    send.go(body);
  };

  if (wallets.error) return html`<${Page} title="Send money"><${ErrorAlert} error=${wallets.error} /></${Page}>`;
  if (!wallet) return html`<${Page} title="Send money"><p class="muted">Loading…</p></${Page}>`;
  const t = sent && sent.transfer;
  return html`<${Page} title="Send money">
    <form onSubmit=${submitting(onSubmit)} noValidate>
      <${ErrorAlert} error=${send.error || cancel.error} />
      <${Select} label="From" name="from" value=${wallet.wallet_id} onChange=${(e) => setWalletId(e.currentTarget.value)}
        options=${list.map((w) => [w.wallet_id, walletLabel(w)])} />
      <${Field} label="To (e-mail or phone)" name="to" autocomplete="off" required
        hint="Phone with the country code, e.g. +65 9123 4567" error=${send.error} />
      <${Field} label="Amount" name="amount" inputmode="decimal" required hint=${amountHint(wallet.currency)}
        error=${send.error} />
      <${Field} label="Note (optional)" name="memo" maxLength="280" error=${send.error} />
      <div class="actions"><button type="submit" disabled=${send.busy}>Send</button></div>
    </form>
    ${invite && html`<div class="card" role="alertdialog" aria-labelledby="invite-title" aria-describedby="invite-text">
      <h2 id="invite-title">Not on the wallet yet</h2>
      <p id="invite-text">Nobody on the wallet has verified ${invite.to.email || invite.to.phone}. Send an invitation?
        ${' '}${formatMoney(invite.amount, invite.currency)} is held for them; it comes back to you if they do not
        join in time, and you can cancel until they do.</p>
      <div class="actions">
        <button type="button" autofocus onClick=${() => send.go({ ...invite, to: { ...invite.to, invite: true } })}
          disabled=${send.busy}>Send invitation</button>
        <button type="button" class="secondary" onClick=${() => setInvite(null)}>Don't send</button>
      </div>
    </div>`}
    ${t && t.status === 'posted' && html`<${Done}>Sent ${formatMoney(t.amount, t.currency)} to ${sent.to}.</${Done}>`}
    ${t && t.status === 'unclaimed' && html`<div class="card">
      <${Done}>Invitation sent to ${sent.to}. ${formatMoney(t.amount, t.currency)} is held for them
        until ${when(t.claim_expires_at)}.</${Done}>
      <div class="actions"><button type="button" class="secondary" disabled=${cancel.busy}
        onClick=${() => cancel.go(t.transfer_id)}>Cancel the invitation</button></div></div>`}
    ${t && t.status === 'canceled' && html`<${Done}>Invitation canceled; the money is back in your wallet.</${Done}>`}
  </${Page}>`;
}
