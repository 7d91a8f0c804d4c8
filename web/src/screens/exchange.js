// Exchange between one's own wallets at a guaranteed rate: choose the wallet to sell from and the
// currency to buy, type either amount, get a quote (its rate guaranteed until its countdown
// ends), then confirm. The money arrives in the wallet of that currency, opened if there is none.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, settings } from '../api.js';
import { buyCurrencies, quoteRequest } from '../fx.js';
import { useIdempotency } from '../keys.js';
import { amountHint, formatMoney } from '../money.js';
import { Announcer, Countdown, QuoteFigures, useQuote, useSecondsLeft } from '../quote.js';
import { Done, ErrorAlert, Field, Page, Select, pickWallet, submitting, useAction, useLoad, walletLabel } from '../ui.js';

// The quote is dead for good (not merely refused): only a new one can go on.
const SPENT = new Set(['quote_expired', 'quote_used', 'not_found']);

export function Exchange({ version }) {
  const wallets = useLoad(() => api('GET', '/wallets'), [version]);
  const [walletId, setWalletId] = useState(null);
  const [chosenBuy, setBuy] = useState(null);
  const [amount, setAmount] = useState({ side: 'sell', text: '' });
  const [done, setDone] = useState(null);
  const q = useQuote();
  const left = useSecondsLeft(q.held && q.held.deadline);
  const once = useIdempotency();
  const list = wallets.data ? wallets.data.items : [];
  const wallet = pickWallet(list, walletId);
  const choices = wallet ? buyCurrencies(settings().currencies, wallet.currency) : [];
  // The buy currency: the one chosen, else one the person already holds, else the first.
  const buy = choices.includes(chosenBuy) ? chosenBuy
    : (list.find((w) => choices.includes(w.currency)) || {}).currency || choices[0];

  const ask = useAction(async (request) => {
    setDone(null);
    confirm.setError(null);
    await q.ask(request);
  });
  const confirm = useAction(async () => {
    const { quote } = q;
    const body = { quote_id: quote.quote_id, from_wallet_id: wallet.wallet_id };
    try {
      // One key per quote (and wallet): pressing again after a lost answer replays, never
      // exchanges twice; a refused attempt (say, short) gets a new key with the same quote.
      const exchange = await once(body, (key) => api('POST', '/fx/exchanges', body, { key }));
      setDone(exchange);
      q.clear();
      wallets.reload();
    } catch (err) {
      if (SPENT.has(err.code)) q.expire();
      throw err;
    }
  });
  // Anything changed in the form: the quote shown no longer answers it.
  const changed = () => { q.clear(); setDone(null); ask.setError(null); confirm.setError(null); };

  const onSubmit = () => {
    const request = quoteRequest({ sell: wallet.currency, buy, side: amount.side, text: amount.text });
    if (!request) {
      ask.setError({ code: 'invalid_request', details: [{ field: `${amount.side}_amount` }] });
      return;
    }
    ask.go(request);
  };

  const title = 'Exchange';
  if (wallets.error) return html`<${Page} title=${title}><${ErrorAlert} error=${wallets.error} /></${Page}>`;
  if (!wallet) return html`<${Page} title=${title}><p class="muted">Loading…</p></${Page}>`;
  const target = list.find((w) => w.currency === buy && w.is_default) || list.find((w) => w.currency === buy);
  const typed = (side) => (amount.side === side ? amount.text : '');
  const onAmount = (side) => (e) => { setAmount({ side, text: e.currentTarget.value }); changed(); };
  const { quote, held } = q;
  // The quote's main button changes from Exchange to Get a new quote when it runs out: one
  // button, not two, so a keyboard user's focus stays on it.
  const lead = quote && `You get ${formatMoney(quote.buy.amount, quote.buy.currency)} for ${
    formatMoney(quote.sell.amount, quote.sell.currency)}.`;
  return html`<${Page} title=${title}>
    <form onSubmit=${submitting(onSubmit)} noValidate data-testid="exchange-form">
      <${ErrorAlert} error=${ask.error} />
      <${Select} label="From wallet" name="from" value=${wallet.wallet_id}
        onChange=${(e) => { setWalletId(e.currentTarget.value); changed(); }}
        options=${list.map((w) => [w.wallet_id, walletLabel(w)])} />
      <${Select} label="To currency" name="buy_currency" value=${buy}
        onChange=${(e) => { setBuy(e.currentTarget.value); changed(); }}
        options=${choices.map((c) => [c, c])} />
      <p class="muted" data-testid="exchange-target">${target
        ? `Into your ${buy} wallet${target.name.includes(buy) ? '' : ` (${target.name})`}.`
        : `Into a new ${buy} wallet, opened for you.`}</p>
      <p class="muted">Fill in one amount: the quote works out the other.</p>
      <${Field} label=${`You sell (${wallet.currency})`} name="sell_amount" inputmode="decimal"
        hint=${amountHint(wallet.currency)} value=${typed('sell')} onInput=${onAmount('sell')} error=${ask.error} />
      <${Field} label=${`You get (${buy})`} name="buy_amount" inputmode="decimal"
        hint=${amountHint(buy)} value=${typed('buy')} onInput=${onAmount('buy')} error=${ask.error} />
      <div class="actions"><button type="submit" disabled=${ask.busy}>Get a quote</button></div>
    </form>
    <${Announcer} held=${held} left=${left} lead=${lead} />
    ${quote && html`<section class="card quote" aria-labelledby="quote-title" data-testid="quote">
      <h2 id="quote-title">Your quote</h2>
      <${QuoteFigures} quote=${quote} headline=${`You get ${formatMoney(quote.buy.amount, quote.buy.currency)}`} />
      <${Countdown} left=${left} />
      <${ErrorAlert} error=${confirm.error} />
      <div class="actions">
        <button type="button" disabled=${left > 0 ? confirm.busy : ask.busy}
          onClick=${() => (left > 0 ? confirm.go() : ask.go(held.request))}>${left > 0 ? 'Exchange' : 'Get a new quote'}</button>
        <button type="button" class="secondary" onClick=${changed}>Cancel</button>
      </div>
    </section>`}
    ${done && html`<${Done}>You exchanged ${formatMoney(done.sell.amount, done.sell.currency)} for ${
      formatMoney(done.buy.amount, done.buy.currency)}.</${Done}>`}
  </${Page}>`;
}
