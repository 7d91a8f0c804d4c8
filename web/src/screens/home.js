// Each wallet's balance and available amount, and the chosen wallet's recent transactions.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, settings } from '../api.js';
import { formatMoney } from '../money.js';
import { cachedTransactions, cacheTransactions, cachedWallets, cacheWallets, lastUser } from '../offline/wallet.js';
import { ErrorAlert, Page, Select, submitting, useAction, useLoad, when, pickWallet } from '../ui.js';

// GET /wallets, kept per user for the app to show with no network; with no network, the
// wallets as last seen (marked `seen_at`).
async function walletsKept() {
  try {
    const answer = await api('GET', '/wallets');
    const me = await lastUser().catch(() => null);
    if (me) cacheWallets(me.user_id, answer).catch(() => {});
    return answer;
  } catch (err) {
    const me = err.status === 0 ? await lastUser().catch(() => null) : null;
    const kept = me && await cachedWallets(me.user_id).catch(() => null);
    if (kept) return kept;
    throw err;
  }
}

function WalletCards({ list }) {
  return html`<div class="grid" data-testid="wallets">
    ${list.map((w) => html`<div class="card wallet" data-currency=${w.currency}>
      <div class="muted">${w.name} · ${w.currency}</div>
      <div class="amount" data-testid=${`balance-${w.currency}`}>${formatMoney(w.balance, w.currency)}</div>
      <div>Available: <span data-testid=${`available-${w.currency}`}>${formatMoney(w.available, w.currency)}</span></div>
      ${w.held > 0 ? html`<div class="muted">On hold: ${formatMoney(w.held, w.currency)}</div>` : ''}
    </div>`)}
  </div>`;
}

// With no network and no session: the wallets and their recent transactions as last seen on this
// device.
export function OfflineHome({ me }) {
  const kept = useLoad(() => cachedWallets(me.user_id), [me.user_id]);
  const list = kept.data ? kept.data.items : [];
  return html`<${Page} title=${me.first_name ? `Hello, ${me.first_name}` : 'Your wallet'}>
    <p class="alert ok" role="status">You are offline. ${kept.data
      ? `Your wallets as last seen ${when(new Date(kept.data.seen_at).toISOString())}.` : 'Nothing was saved on this device yet.'}</p>
    <h2>Wallets</h2>
    ${kept.data && html`<${WalletCards} list=${list} />`}
    ${list.map((w) => html`<${KeptTransactions} me=${me} wallet=${w} />`)}
    <p><a href="#/offline">Pay or be paid offline</a></p>
  </${Page}>`;
}

function KeptTransactions({ me, wallet }) {
  const kept = useLoad(() => cachedTransactions(me.user_id, wallet.wallet_id), [me.user_id, wallet.wallet_id]);
  if (!kept.data) return '';
  return html`<h2>Recent transactions · ${wallet.name} (${wallet.currency})</h2>
    <div class="card"><p class="muted">As last seen ${when(new Date(kept.data.seen_at).toISOString())}.</p>
      <${TransactionList} items=${kept.data.items} /></div>`;
}

const TYPES = { transfer: 'Payment', topup: 'Card top-up', withdrawal: 'Withdrawal', refund: 'Refund',
  reversal: 'Reversal', invitation: 'Invitation', offline: 'Offline payment', exchange: 'Exchange' };

function TransactionList({ items }) {
  if (!items.length) return html`<p class="muted">No transactions yet.</p>`;
  return html`<ul class="list" data-testid="transactions">
    ${items.map((e) => html`<li>
      <span>
        <strong>${TYPES[e.type] || e.type}</strong>
        ${e.memo ? html` · ${e.memo}` : ''}
        <br /><span class="muted">${when(e.created_at)}${e.status !== 'posted' ? ` · ${e.status}` : ''}</span>
      </span>
      <span class=${e.direction}>
        <span class="visually-hidden">${e.direction === 'credit' ? 'in' : 'out'} </span>
        ${e.direction === 'credit' ? '+' : '−'}${formatMoney(e.amount, e.currency)}
      </span>
    </li>`)}
  </ul>`;
}

// The first page of a wallet's transactions, kept per user for Home with no network; with no
// network, that page as last seen.
async function transactionsKept(walletId) {
  const me = await lastUser().catch(() => null);
  try {
    const answer = await api('GET', `/wallets/${walletId}/transactions?limit=10`);
    if (me) cacheTransactions(me.user_id, walletId, answer).catch(() => {});
    return answer;
  } catch (err) {
    const kept = err.status === 0 && me ? await cachedTransactions(me.user_id, walletId).catch(() => null) : null;
    if (kept) return kept;
    throw err;
  }
}

function Transactions({ wallet, version }) {
  const entries = useLoad(() => transactionsKept(wallet.wallet_id), [wallet.wallet_id, version]);
  if (entries.error) return html`<${ErrorAlert} error=${entries.error} />`;
  if (!entries.data) return html`<p class="muted">Loading transactions…</p>`;
  return html`${entries.data.seen_at ? html`<p class="muted">As last seen ${when(new Date(entries.data.seen_at).toISOString())}.</p>` : ''}
    <${TransactionList} items=${entries.data.items} />`;
}

export function Home({ version }) {
  const wallets = useLoad(walletsKept, [version]);
  const me = useLoad(() => api('GET', '/me'), []);
  const [chosen, setChosen] = useState(null);
  const open = useAction(async (form) => {
    await api('POST', '/wallets', { currency: form.get('currency') });
    wallets.reload();
  });
  const list = wallets.data ? wallets.data.items : [];
  // The currencies offered are those without a wallet: the form waits for the list, or a choice
  // made before it arrived would land on another option when the list re-renders it.
  const shown = pickWallet(list, chosen);
  const name = me.data && me.data.first_name;
  return html`<${Page} title=${name ? `Hello, ${name}` : 'Your wallet'}>
    ${me.data && !me.data.email_verified ? html`<p class="alert ok">
      Verify your e-mail so people can pay you by it: <a href="#/security">verify now</a>.</p>` : ''}
    <${ErrorAlert} error=${wallets.error} />
    ${wallets.data && wallets.data.seen_at ? html`<p class="alert ok" role="status">You are offline: your wallets as last seen
      ${when(new Date(wallets.data.seen_at).toISOString())}.</p>` : ''}
    <h2>Wallets</h2>
    <div class="grid" data-testid="wallets">
      ${list.map((w) => html`<div class="card wallet" data-currency=${w.currency}>
        <div class="muted">${w.name} · ${w.currency}</div>
        <div class="amount" data-testid=${`balance-${w.currency}`}>${formatMoney(w.balance, w.currency)}</div>
        <div>Available: <span data-testid=${`available-${w.currency}`}>${formatMoney(w.available, w.currency)}</span></div>
        ${w.held > 0 ? html`<div class="muted">On hold: ${formatMoney(w.held, w.currency)}</div>` : ''}
        <button class="link" type="button" aria-pressed=${shown && shown.wallet_id === w.wallet_id ? 'true' : 'false'}
          onClick=${() => setChosen(w.wallet_id)}>Show transactions</button>
      </div>`)}
    </div>
    ${shown ? html`<h2>Recent transactions · ${shown.name} (${shown.currency})</h2>
      <div class="card"><${Transactions} wallet=${shown} version=${version} /></div>` : ''}
    ${wallets.data ? html`<h2>Open another wallet</h2>
    <form onSubmit=${submitting(open.go)}>
      <${ErrorAlert} error=${open.error} />
      <${Select} label="Currency" name="currency"
        options=${settings().currencies.filter((c) => !list.some((w) => w.currency === c)).map((c) => [c, c])} />
      <div class="actions"><button type="submit" class="secondary" disabled=${open.busy}>Open wallet</button></div>
    </form>` : ''}
  </${Page}>`;
}
