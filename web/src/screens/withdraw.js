// Money out to the bank: a payout account first, then a withdrawal confirmed with a code from
// the authenticator app (or a recovery code).
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { useIdempotency } from '../keys.js';
import { amountHint, formatMoney, parseAmount } from '../money.js';
import { Done, ErrorAlert, Field, Page, Select, StepUpField, submitting, useAction, useLoad, useStepUp, BAD_AMOUNT,
  pickWallet } from '../ui.js';

const STATUS = { pending: 'On its way to your bank', paid: 'Paid to your bank', failed: 'Failed: the money is back in your wallet',
  needs_attention: 'Being checked by our team; the money is held, not lost' };

export function Withdraw({ version }) {
  const account = useLoad(() => api('GET', '/payout-account').catch((err) => {
    if (err.code === 'not_found') return null;
    throw err;
  }), []);
  const wallets = useLoad(() => api('GET', '/wallets'), [version]);
  const me = useLoad(() => api('GET', '/me'), []);
  const [walletId, setWalletId] = useState(null);
  const [withdrawal, setWithdrawal] = useState(null);
  const once = useIdempotency();
  const [opened, setOpened] = useState(null); // the POST's answer: it alone has the onboarding link
  // Where withdrawals go is step-up: a stolen session must not point them at another bank.
  const stepUp = useStepUp(me.data && me.data.mfa_enabled);
  const connect = useAction(async (form) => {
    try { setOpened(await api('POST', '/payout-account', stepUp.proof(form))); } catch (err) {
      await stepUp.refused(err);
      throw err;
    }
  });
  const connectForm = (label) => html`<form onSubmit=${submitting(connect.go)} noValidate data-testid="payout-connect">
    <${ErrorAlert} error=${connect.error} />
    <${StepUpField} stepUp=${stepUp} error=${connect.error} />
    <div class="actions"><button type="submit" disabled=${connect.busy}>${label}</button></div>
  </form>`;
  const send = useAction(async (body) => {
    const { otp, ...content } = body; // a new code for the same withdrawal is the same withdrawal
    setWithdrawal(await once(content, (key) => api('POST', '/withdrawals', body, { key })));
    wallets.reload();
  });
  const list = wallets.data ? wallets.data.items : [];
  const wallet = pickWallet(list, walletId);
  const onSubmit = (form) => {
    setWithdrawal(null);
    const amount = parseAmount(form.get('amount'), wallet.currency);
    if (amount === null) { send.setError(BAD_AMOUNT); return; }
    send.go({ wallet_id: wallet.wallet_id, amount, otp: form.get('otp').trim() });
  };
  const payout = opened || account.data;
  let body;
  if (account.loading || me.loading) body = html`<p class="muted">Loading…</p>`;
  else if (account.error) body = html`<${ErrorAlert} error=${account.error} />`;
  else if (!payout) {
    body = html`<p>Connect a bank account to withdraw to it.</p>${connectForm('Connect a bank account')}`;
  } else if (payout.status !== 'enabled') {
    // Stripe's onboarding opens in a new tab: leaving this page would sign the person out
    // (tokens live in its memory only).
    body = html`<p>Your bank account is not ready yet (${payout.status}).</p>
      ${payout.onboarding_url
        ? html`<div class="actions"><a href=${payout.onboarding_url} target="_blank" rel="noopener noreferrer">Finish setting it up at Stripe (opens a new tab)</a></div>`
        : connectForm('Continue setting it up')}
      <div class="actions">
        <button type="button" class="secondary" onClick=${() => { setOpened(null); account.reload(); }}>I have finished: check again</button>
      </div>`;
  } else if (me.data && !me.data.mfa_enabled) {
    body = html`<p>Withdrawals need two-step verification. <a href="#/security">Turn it on in Security</a>.</p>`;
  } else if (wallet) {
    body = html`<form onSubmit=${submitting(onSubmit)} noValidate>
      <${ErrorAlert} error=${send.error} />
      <${Select} label="From wallet" name="wallet_id" value=${wallet.wallet_id}
        onChange=${(e) => setWalletId(e.currentTarget.value)}
        options=${list.map((w) => [w.wallet_id, `${w.name}: ${formatMoney(w.available, w.currency)} available`])} />
      <${Field} label="Amount" name="amount" inputmode="decimal" required hint=${amountHint(wallet.currency)}
        error=${send.error} />
      <${Field} label="Authenticator code" name="otp" inputmode="numeric" autocomplete="one-time-code" required
        hint="From your authenticator app, or one of your recovery codes" error=${send.error} />
      <div class="actions"><button type="submit" disabled=${send.busy}>Withdraw</button></div>
    </form>`;
  }
  return html`<${Page} title="Withdraw to your bank">
    ${body}
    ${withdrawal && html`<${Done}>${formatMoney(withdrawal.amount, withdrawal.currency)}: ${
      STATUS[withdrawal.status] || withdrawal.status}.</${Done}>`}
  </${Page}>`;
}
