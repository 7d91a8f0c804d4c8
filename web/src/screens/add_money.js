// Add a card (entered into Stripe.js, so its number never touches our servers) and top up a
// wallet from it. The wallet is credited only when Stripe confirms the payment.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import { useIdempotency } from '../keys.js';
import { amountHint, formatMoney, parseAmount } from '../money.js';
import { loadStripe } from '../stripe.js';
import { Done, ErrorAlert, Field, Page, Select, submitting, useAction, useLoad, BAD_AMOUNT, pickWallet } from '../ui.js';

const BRANDS = { visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover',
  jcb: 'JCB', unionpay: 'UnionPay', diners: 'Diners Club' };

function cardName(m) { return `${BRANDS[m.brand] || m.brand || 'Card'} ending ${m.last4}`; }

function stripeFailure(error) {
  // Stripe's own message is written for people (e.g. "Your card was declined.").
  const err = new ApiError(402, error && error.code === 'card_declined' ? 'card_declined' : 'card_error',
    (error && error.message) || 'The card was not accepted.');
  err.words = error && error.message;
  return err;
}

function AddCard({ onAdded }) {
  const mount = useRef(null);
  const stripeParts = useRef(null);
  const [ready, setReady] = useState(false);
  const [loadError, setLoadError] = useState(null);
  useEffect(() => {
    let live = true;
    loadStripe().then((stripe) => {
      if (!live) return;
      const card = stripe.elements().create('card');
      card.mount(mount.current);
      stripeParts.current = { stripe, card };
      setReady(true);
    }).catch(() => live && setLoadError(new ApiError(0, 'payment_provider_error')));
    return () => { live = false; if (stripeParts.current) stripeParts.current.card.destroy(); };
  }, []);
  const add = useAction(async () => {
    const { stripe, card } = stripeParts.current;
    const intent = await api('POST', '/payment-methods/setup-intents');
    const result = await stripe.confirmCardSetup(intent.client_secret, { payment_method: { card } });
    if (result.error) throw stripeFailure(result.error);
    const pm = result.setupIntent.payment_method;
    const method = await api('POST', '/payment-methods', { stripe_payment_method_id: typeof pm === 'string' ? pm : pm.id });
    onAdded(method);
  });
  return html`<form onSubmit=${submitting(() => add.go())} aria-describedby="card-help">
    <${ErrorAlert} error=${loadError || add.error} />
    ${add.error && add.error.words && html`<p class="field-error">${add.error.words}</p>`}
    <fieldset class="card-element">
      <legend>Card details</legend>
      <div ref=${mount} data-testid="card-element"></div>
    </fieldset>
    <p id="card-help" class="muted">Your card number goes straight to Stripe, our card processor.</p>
    <div class="actions"><button type="submit" disabled=${!ready || add.busy}>Save card</button></div>
  </form>`;
}

function TopUp({ wallets, methods, version }) {
  const [walletId, setWalletId] = useState(null);
  const [topup, setTopup] = useState(null);
  const once = useIdempotency();
  const wallet = pickWallet(wallets, walletId);
  const go = useAction(async (body) => {
    let t = await once(body, (key) => api('POST', '/topups', body, { key }));
    if (t.status === 'requires_action' && t.client_secret) {
      // 3-D Secure: the bank asks the person to confirm; Stripe.js shows its window.
      const stripe = await loadStripe();
      const result = await stripe.confirmCardPayment(t.client_secret);
      if (result.error) throw stripeFailure(result.error);
      t = { ...t, status: 'pending' };
    }
    setTopup(t);
  });
  // The credit arrives with Stripe's webhook; re-read the top-up when a notice comes in.
  // A slow poll covers a socket that is down.
  const waiting = topup && (topup.status === 'pending' || topup.status === 'requires_action');
  useEffect(() => {
    if (!waiting) return undefined;
    const check = () => api('GET', `/topups/${topup.topup_id}`).then(setTopup).catch(() => {});
    check();
    const timer = setInterval(check, 5000);
    return () => clearInterval(timer);
  }, [waiting, topup && topup.topup_id, version]);
  const onSubmit = (form) => {
    setTopup(null);
    const amount = parseAmount(form.get('amount'), wallet.currency);
    if (amount === null) { go.setError(BAD_AMOUNT); return; }
    go.go({ wallet_id: wallet.wallet_id, amount, payment_method_id: form.get('payment_method_id') });
  };
  if (!wallet) return null;
  return html`<form onSubmit=${submitting(onSubmit)} noValidate>
    <${ErrorAlert} error=${go.error} />
    ${go.error && go.error.words && html`<p class="field-error">${go.error.words}</p>`}
    <${Select} label="Into wallet" name="wallet_id" value=${wallet.wallet_id}
      onChange=${(e) => setWalletId(e.currentTarget.value)}
      options=${wallets.map((w) => [w.wallet_id, `${w.name} (${w.currency})`])} />
    <${Select} label="From card" name="payment_method_id"
      options=${methods.map((m) => [m.payment_method_id, cardName(m)])} />
    <${Field} label="Amount" name="amount" inputmode="decimal" required hint=${amountHint(wallet.currency)}
      error=${go.error} />
    <div class="actions"><button type="submit" disabled=${go.busy}>Add money</button></div>
    ${topup && topup.status === 'succeeded' && html`<${Done}>${formatMoney(topup.amount, topup.currency)} added to your wallet.</${Done}>`}
    ${topup && topup.status === 'failed' && html`<div class="alert error" role="alert">The card payment failed; nothing was added.</div>`}
    ${topup && (topup.status === 'pending' || topup.status === 'requires_action') && html`<${Done}>
      Payment of ${formatMoney(topup.amount, topup.currency)} sent to your card. It shows in your wallet as soon as
      the card confirms it.</${Done}>`}
  </form>`;
}

export function AddMoney({ version }) {
  const methods = useLoad(() => api('GET', '/payment-methods'), []);
  const wallets = useLoad(() => api('GET', '/wallets'), [version]);
  const [adding, setAdding] = useState(false);
  const remove = useAction(async (id) => { await api('DELETE', `/payment-methods/${id}`); methods.reload(); });
  const cards = methods.data ? methods.data.items : [];
  return html`<${Page} title="Add money">
    <h2>Your cards</h2>
    <div class="card">
      <${ErrorAlert} error=${methods.error || remove.error} />
      ${cards.length ? html`<ul class="list">${cards.map((m) => html`<li>
        <span>${cardName(m)}${m.exp_month ? ` · expires ${m.exp_month}/${m.exp_year}` : ''}</span>
        <button type="button" class="link" onClick=${() => remove.go(m.payment_method_id)}
          aria-label=${`Remove card ending ${m.last4}`}>Remove</button></li>`)}</ul>`
        : html`<p class="muted">No card yet.</p>`}
      ${adding ? html`<${AddCard} onAdded=${() => { setAdding(false); methods.reload(); }} />`
        : html`<div class="actions"><button type="button" class="secondary" onClick=${() => setAdding(true)}>Add a card</button></div>`}
    </div>
    ${cards.length > 0 && wallets.data && html`<h2>Top up</h2>
      <${TopUp} wallets=${wallets.data.items} methods=${cards} version=${version} />`}
  </${Page}>`;
}
