// Send money to an e-mail or phone; someone not on the wallet yet can be invited, with the
// money held for them until they join (or it comes back). To pay someone in another currency:
// a quote first ("They receive ¥14,949", guaranteed for its countdown), then the payment with
// its quote_id, delivered into their wallet of that currency.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, settings } from '../api.js';
import { useIdempotency } from '../keys.js';
import { amountHint, formatMoney, parseAmount } from '../money.js';
import { Announcer, Countdown, QuoteFigures, useQuote, useSecondsLeft } from '../quote.js';
import { Done, ErrorAlert, Field, Page, Select, submitting, useAction, useLoad, walletLabel, when, BAD_AMOUNT, pickWallet } from '../ui.js';

export function recipient(text) {
  const value = text.trim();
  return value.includes('@') ? { email: value } : { phone: value };
}

// A quote that can no longer be used: only a new one goes on.
const SPENT = new Set(['quote_expired', 'quote_used', 'not_found']);

// The quote's refusal of the amount names its own field (sell_amount): it is this form's amount.
function asAmountError(err) {
  if (!err || err.code !== 'invalid_request' || !err.details) return err;
  err.details = err.details.map((d) => (/_amount$/.test(String(d.field)) ? { ...d, field: 'amount' } : d));
  return err;
}

export function Send({ version }) {
  const wallets = useLoad(() => api('GET', '/wallets'), [version]);
  const [walletId, setWalletId] = useState(null);
  const [chosenReceive, setReceive] = useState(null); // null: the wallet's own currency
  const [invite, setInvite] = useState(null); // the body waiting for "send an invitation?"
  const [sent, setSent] = useState(null);
  const [payment, setPayment] = useState(null); // the body the quote shown is for (no amount)
  const q = useQuote();
  const left = useSecondsLeft(q.held && q.held.deadline);
  const once = useIdempotency();
  const list = wallets.data ? wallets.data.items : [];
  const wallet = pickWallet(list, walletId);
  const receive = (wallet && chosenReceive) || (wallet && wallet.currency);

  const send = useAction(async (body) => {
    try {
      const transfer = await once(body, (key) => api('POST', '/transfers', body, { key }));
      setInvite(null);
      setSent({ transfer, to: body.to.email || body.to.phone });
      q.clear();
      wallets.reload();
    } catch (err) {
      if (err.code === 'recipient_not_found' && !body.to.invite && !body.quote_id) { setInvite(body); return; }
      if (body.quote_id && SPENT.has(err.code)) q.expire();
      throw err;
    }
  });
  const quote = useAction(async (request, body) => {
    try {
      if (await q.ask(request)) setPayment(body);
    } catch (err) { throw asAmountError(err); }
  });
  // Anything changed in the form: the quote shown no longer answers it.
  const changed = () => {
    q.clear(); // and drops a quote still on its way
    if (!q.held) return;
    quote.setError(null);
    send.setError(null);
  };
  const cancel = useAction(async (transferId) => {
    const transfer = await api('POST', `/transfers/${transferId}/cancel`);
    setSent({ ...sent, transfer });
    wallets.reload();
  });

  const onSubmit = (form) => {
    setSent(null);
    setInvite(null);
    send.setError(null);
    quote.setError(null);
    const amount = parseAmount(form.get('amount'), wallet.currency);
    if (amount === null) {
      (receive === wallet.currency ? send : quote).setError(BAD_AMOUNT);
      return;
    }
    const body = { from_wallet_id: wallet.wallet_id, to: recipient(form.get('to')) };
    if (form.get('memo')) body.memo = form.get('memo');
    if (receive === wallet.currency) {
      send.go({ ...body, amount, currency: wallet.currency });
      return;
    }
    quote.go({ sell_currency: wallet.currency, buy_currency: receive, sell_amount: amount }, body);
  };

  if (wallets.error) return html`<${Page} title="Send money"><${ErrorAlert} error=${wallets.error} /></${Page}>`;
  if (!wallet) return html`<${Page} title="Send money"><p class="muted">Loading…</p></${Page}>`;
  const t = sent && sent.transfer;
  const other = receive !== wallet.currency;
  const shown = q.quote;
  const theyGet = shown && `They receive ${formatMoney(shown.buy.amount, shown.buy.currency)}`;
  const formError = other ? quote.error || (!shown && send.error) : send.error;
  return html`<${Page} title="Send money">
    <form onSubmit=${submitting(onSubmit)} onInput=${changed} noValidate>
      <${ErrorAlert} error=${formError || cancel.error} />
      <${Select} label="From" name="from" value=${wallet.wallet_id}
        onChange=${(e) => { setWalletId(e.currentTarget.value); setReceive(null); changed(); }}
        options=${list.map((w) => [w.wallet_id, walletLabel(w)])} />
      <${Field} label="To (e-mail or phone)" name="to" autocomplete="off" required
        hint="Phone with the country code, e.g. +65 9123 4567" error=${formError} />
      <${Field} label="Amount" name="amount" inputmode="decimal" required hint=${amountHint(wallet.currency)}
        error=${formError} />
      <${Select} label="They receive in" name="receive" value=${receive}
        onChange=${(e) => { setReceive(e.currentTarget.value); changed(); }}
        options=${[[wallet.currency, `${wallet.currency} (as you send)`],
          ...settings().currencies.filter((c) => c !== wallet.currency).map((c) => [c, c])]} />
      <${Field} label="Note (optional)" name="memo" maxLength="280" error=${formError} />
      <div class="actions">${other
        ? html`<button type="submit" disabled=${quote.busy}>Get a quote</button>`
        : html`<button type="submit" disabled=${send.busy}>Send</button>`}</div>
    </form>
    <${Announcer} held=${q.held} left=${left} lead=${theyGet && `${theyGet}.`} />
    ${shown && payment && html`<section class="card quote" aria-labelledby="quote-title" data-testid="quote">
      <h2 id="quote-title">Your quote</h2>
      <${QuoteFigures} quote=${shown} headline=${theyGet} sellLabel="You send" buyLabel="They receive" />
      <${Countdown} left=${left} />
      <${ErrorAlert} error=${send.error} />
      <div class="actions">
        <button type="button" disabled=${left > 0 ? send.busy : quote.busy} onClick=${() => (left > 0
          ? send.go({ ...payment, quote_id: shown.quote_id })
          : (send.setError(null), quote.go(q.held.request, payment)))}>${left > 0 ? 'Confirm and send' : 'Get a new quote'}</button>
      </div>
    </section>`}
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
    ${t && t.status === 'posted' && html`<${Done}>Sent ${formatMoney(t.amount, t.currency)} to ${sent.to}.${
      t.delivered ? ` They received ${formatMoney(t.delivered.amount, t.delivered.currency)}.` : ''}</${Done}>`}
    ${t && t.status === 'unclaimed' && html`<div class="card">
      <${Done}>Invitation sent to ${sent.to}. ${formatMoney(t.amount, t.currency)} is held for them
        until ${when(t.claim_expires_at)}.</${Done}>
      <div class="actions"><button type="button" class="secondary" disabled=${cancel.busy}
        onClick=${() => cancel.go(t.transfer_id)}>Cancel the invitation</button></div></div>`}
    ${t && t.status === 'canceled' && html`<${Done}>Invitation canceled; the money is back in your wallet.</${Done}>`}
  </${Page}>`;
}
