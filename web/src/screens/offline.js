// Offline payments, face to face with no network: this device's key and allowances (online),
// "Receive offline" (a receive code to show, then scan the payer's payment code) and "Pay
// offline" (scan a receive code, sign a voucher here, show the payment code). What was received
// is kept on this device and redeemed by itself once online (Shell runs useAutoRedeem).
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, settings, signedIn } from '../api.js';
import { useIdempotency } from '../keys.js';
import { amountHint, decimals, formatMoney, parseAmount } from '../money.js';
import { QrImage, Scanner } from '../offline/qr.js';
import * as offline from '../offline/wallet.js';
import { Done, ErrorAlert, Field, Page, Select, StepUpField, submitting, useAction, useStepUp, BAD_AMOUNT, when } from '../ui.js';

// Why a code was refused offline, in words (the code itself is named too).
const REFUSED = {
  invalid_signature: 'its signatures do not check out',
  invalid_voucher: 'it is not a valid payment',
  currency_mismatch: 'its currency does not match its allowance',
  over_allowance: 'it is over what the payer\'s allowance holds',
  expired: 'its allowance had expired',
  wrong_payee: 'it pays someone else, not you',
  already_seen: 'you already have this payment',
  double_spend: 'the payer already paid you a different payment with the same number',
  broken_chain: 'it does not follow the payer\'s earlier payments to you',
  malformed_code: 'it is not a payment code',
};

export function refusalText(code) {
  return `Payment refused (${code}): ${REFUSED[code] || 'it cannot be accepted'}.`;
}

// The offline state of one user, re-read whenever IndexedDB changes.
function useOfflineState(userId) {
  const [state, setState] = useState(null);
  useEffect(() => {
    if (!userId) return undefined;
    let live = true;
    const read = async () => {
      const [device, spendable, received, keys, allowances] = await Promise.all([offline.device(userId),
        offline.spendable(userId), offline.received(userId), offline.jwks(), offline.serverAllowances(userId)]);
      if (live) setState({ device, spendable, received, keys, allowances });
    };
    read();
    const off = offline.onChange(read);
    return () => { live = false; off(); };
  }, [userId]);
  return state;
}

function useOnline() {
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const up = () => setOnline(true);
    const down = () => setOnline(false);
    window.addEventListener('online', up);
    window.addEventListener('offline', down);
    return () => { window.removeEventListener('online', up); window.removeEventListener('offline', down); };
  }, []);
  return online;
}

// Online and signed in: redeem what is held now, every 10 s, and as soon as the network is back.
export function useAutoRedeem(userId) {
  useEffect(() => {
    if (!userId) return undefined;
    const go = () => { if (navigator.onLine && signedIn()) offline.redeemHeld(userId).catch(() => {}); };
    go();
    const timer = setInterval(go, 10000);
    window.addEventListener('online', go);
    return () => { clearInterval(timer); window.removeEventListener('online', go); };
  }, [userId]);
}

function Received({ list, canRedeem, userId }) {
  const redeem = useAction(() => offline.redeemHeld(userId));
  const held = list.filter((v) => v.status === 'held').length;
  return html`<h2>Received offline</h2>
    ${list.length ? html`<ul class="list" data-testid="received">
      ${list.map((v) => html`<li data-testid="received-payment">
        <span><strong>${formatMoney(v.amount, v.currency)}</strong>
          <br /><span class="muted">Payment ${v.seq} of allowance ${v.id.split(':')[0].slice(-6)} · ${when(new Date(v.received_at).toISOString())}</span></span>
        <span>${v.status === 'held' ? 'Not yet redeemed' : v.status === 'credited' ? 'Credited' : `Refused: ${v.code}`}</span>
      </li>`)}
    </ul>` : html`<p class="muted">Nothing received offline yet.</p>`}
    ${held > 0 && html`<p class="muted">Payments are redeemed by themselves once this device is online and you are signed in.</p>`}
    <${ErrorAlert} error=${redeem.error} />
    ${held > 0 && canRedeem && html`<div class="actions"><button type="button" disabled=${redeem.busy} onClick=${() => redeem.go()}>Redeem now</button></div>`}`;
}

function RegisterDevice({ userId, me }) {
  const stepUp = useStepUp(me && me.mfa_enabled);
  const register = useAction(async (form) => {
    try {
      await offline.registerDevice(userId, stepUp.proof(form), String(form.get('name') || '').trim() || 'Web wallet');
      await offline.refreshKeys();
    } catch (err) { await stepUp.refused(err); throw err; }
  });
  return html`<form onSubmit=${submitting(register.go)} noValidate data-testid="register-device">
    <${ErrorAlert} error=${register.error} />
    <${Field} label="Device name" name="name" value="This browser" />
    <${StepUpField} stepUp=${stepUp} error=${register.error} />
    <div class="actions"><button type="submit" disabled=${register.busy}>Register this device</button></div>
  </form>`;
}

function TakeAllowance({ userId, device, wallets }) {
  const [walletId, setWalletId] = useState(null);
  const [taken, setTaken] = useState(null);
  const once = useIdempotency();
  const take = useAction(async (body) => {
    const { otp, ...content } = body;
    setTaken(await once(content, (key) => offline.takeAllowance(userId, body, key)));
    await offline.syncAllowances(userId);
  });
  if (!wallets.length) return null;
  const wallet = wallets.find((w) => w.wallet_id === walletId) || wallets.find((w) => w.is_default) || wallets[0];
  const onSubmit = (form) => {
    setTaken(null);
    const amount = parseAmount(form.get('amount'), wallet.currency);
    if (amount === null) { take.setError(BAD_AMOUNT); return; }
    take.go({ device_id: device.device_id, wallet_id: wallet.wallet_id, amount, otp: String(form.get('otp')).trim() });
  };
  return html`<form onSubmit=${submitting(onSubmit)} noValidate data-testid="take-allowance">
    <${ErrorAlert} error=${take.error} />
    <${Select} label="From wallet" name="wallet_id" value=${wallet.wallet_id} onChange=${(e) => setWalletId(e.currentTarget.value)}
      options=${wallets.map((w) => [w.wallet_id, `${w.name}: ${formatMoney(w.available, w.currency)} available`])} />
    <${Field} label="Amount" name="amount" inputmode="decimal" required hint=${amountHint(wallet.currency)} error=${take.error} />
    <${Field} label="Authenticator code" name="otp" inputmode="numeric" autocomplete="one-time-code" required
      hint="From your authenticator app, or one of your recovery codes" error=${take.error} />
    <div class="actions"><button type="submit" disabled=${take.busy}>Take allowance</button></div>
    ${taken && html`<${Done}>${formatMoney(taken.amount, taken.currency)} is now held for this device until ${when(taken.expires_at)}.</${Done}>`}
  </form>`;
}

function WalletsThen({ userId, device }) {
  const [wallets, setWallets] = useState(null);
  useEffect(() => { api('GET', '/wallets').then((w) => setWallets(w.items)).catch(() => setWallets([])); }, []);
  if (!wallets) return null;
  if (device.status && device.status !== 'active') return html`<p>This device is ${device.status}: it cannot take a new allowance.</p>`;
  return html`<${TakeAllowance} userId=${userId} device=${device} wallets=${wallets} />`;
}

function ReceiveView({ userId, state, online }) {
  const [asked, setAsked] = useState(null); // { amount, currency } or null
  const [currency, setCurrency] = useState(null);
  const [refusal, setRefusal] = useState(null);
  const [accepted, setAccepted] = useState(null);
  const currencies = (settings() && settings().currencies) || ['USD'];
  const cur = currency || currencies[0];
  const code = offline.encodeReceive(userId, asked ? asked.amount : null, asked ? asked.currency : null);
  const ask = (form) => {
    const text = String(form.get('amount') || '').trim();
    if (!text) { setAsked(null); return; }
    const amount = parseAmount(text, cur);
    if (amount === null) { setRefusal('Please check the amount.'); return; }
    setRefusal(null);
    setAsked({ amount, currency: cur });
  };
  const scanned = async (text) => {
    setRefusal(null);
    setAccepted(null);
    if (!text) { setRefusal('No QR code was found in that photo. Please try again.'); return; }
    if (!state.keys) { setRefusal('This device has no copy of the offline keys yet: open this screen once while online.'); return; }
    let verdicts;
    try { verdicts = await offline.receive(userId, text); } catch (err) {
      setRefusal(refusalText(err instanceof offline.BadCode ? 'malformed_code' : 'invalid_signature'));
      return;
    }
    const bad = verdicts.find((v) => !v.accepted);
    if (bad) setRefusal(refusalText(bad.code));
    const good = verdicts.filter((v) => v.accepted);
    if (good.length) setAccepted(good.map((v) => formatMoney(v.amount, v.currency)).join(', '));
  };
  return html`
    <p>Show this code to the person paying you. Then scan the payment code their screen shows.</p>
    <${QrImage} text=${code} label="Receive code" />
    <p class="muted">${asked ? `Asking ${formatMoney(asked.amount, asked.currency)}` : 'Any amount'}</p>
    <form onSubmit=${submitting(ask)} noValidate data-testid="receive-amount">
      ${currencies.length > 1 && html`<${Select} label="Currency" name="currency" value=${cur}
        onChange=${(e) => setCurrency(e.currentTarget.value)} options=${currencies.map((c) => [c, c])} />`}
      <${Field} label="Amount" name="amount" inputmode="decimal" hint="Optional: the amount you ask" />
      <div class="actions"><button type="submit" class="secondary">Ask this amount</button></div>
    </form>
    <h2>Scan the payment code</h2>
    ${refusal && html`<div class="alert error" role="alert">${refusal}</div>`}
    ${accepted && html`<${Done}>Received ${accepted}: kept on this device, not yet redeemed.</${Done}>`}
    <${Scanner} onText=${scanned} />
    <${Received} list=${state.received} canRedeem=${online && signedIn()} userId=${userId} />`;
}

function PayView({ userId, state }) {
  const [request, setRequest] = useState(null); // the decoded receive code, and its text
  const [problem, setProblem] = useState(null);
  const [paid, setPaid] = useState(null);
  const [busy, setBusy] = useState(false);
  const usable = state.spendable.filter((s) => s.usable);
  const scanned = (text) => {
    setProblem(null);
    if (!text) { setProblem('No QR code was found in that photo. Please try again.'); return; }
    try { setRequest({ ...offline.decodeReceive(text.trim()), text: text.trim() }); } catch (err) {
      setProblem('That is not a receive code.');
    }
  };
  const confirm = async (form) => {
    setProblem(null);
    const allowanceId = form.get('allowance') || null;
    const chosen = usable.find((s) => s.allowance_id === allowanceId) || usable.find((s) => !request.currency || s.currency === request.currency);
    const currency = request.currency || (chosen && chosen.currency);
    const amount = request.amount !== null ? request.amount : parseAmount(form.get('amount'), currency || 'USD');
    if (amount === null) { setProblem('Please check the amount.'); return; }
    setBusy(true);
    try {
      setPaid(await offline.pay(userId, request.text, amount, chosen ? chosen.allowance_id : null));
    } catch (err) {
      setProblem(err instanceof offline.CannotPay || err instanceof offline.BadCode ? `Cannot pay: ${err.message}.` : 'Cannot pay: the payment could not be signed.');
    } finally { setBusy(false); }
  };
  if (!state.device) return html`<p>Register this device (online) before paying offline.</p>`;
  if (!usable.length && !paid) return html`<p>This device holds no allowance to pay with. Take one while online.</p>`;
  if (paid) {
    return html`<p>Show this code to ${paid.payee}: it pays ${formatMoney(paid.amount, paid.currency)}.</p>
      <${QrImage} text=${paid.code} label="Payment code" level="L" />
      <details><summary>The code as text</summary><p class="code" data-testid="payment-code-text">${paid.code}</p></details>
      <div class="actions"><button type="button" class="secondary" onClick=${() => { setPaid(null); setRequest(null); }}>Done</button></div>`;
  }
  const options = usable.filter((s) => !request || !request.currency || s.currency === request.currency);
  return html`
    ${problem && html`<div class="alert error" role="alert">${problem}</div>`}
    ${!request ? html`<p>Scan the receive code on the screen of the person you pay.</p><${Scanner} onText=${scanned} />`
      : html`<form onSubmit=${submitting(confirm)} noValidate data-testid="pay-form">
        <p>Paying <strong data-testid="payee">${request.payee}</strong>${request.amount !== null
          ? html`: they ask ${formatMoney(request.amount, request.currency)}` : ''}.</p>
        ${options.length > 1 && html`<${Select} label="From allowance" name="allowance"
          options=${options.map((s) => [s.allowance_id, `${formatMoney(s.remaining, s.currency)} left`])} />`}
        <${Field} label="Amount" name="amount" inputmode="decimal" required
          value=${request.amount !== null ? plain(request.amount, request.currency) : undefined}
          readOnly=${request.amount !== null} hint=${options[0] ? amountHint(options[0].currency) : ''} />
        <div class="actions"><button type="submit" disabled=${busy}>Confirm payment</button>
          <button type="button" class="secondary" onClick=${() => setRequest(null)}>Scan another code</button></div>
      </form>`}`;
}

// An amount as typed in the field: 3.50 (no symbol, no grouping).
function plain(amount, currency) {
  const d = decimals(currency);
  return (amount / 10 ** d).toFixed(d);
}

export function Offline({ me: known, online: shellOnline }) {
  const [fresh, setFresh] = useState(null); // /me read again: 2FA may have been turned on since
  const me = fresh || known;
  const userId = me && me.user_id;
  const state = useOfflineState(userId);
  const netOnline = useOnline();
  const online = netOnline && shellOnline !== false;
  const [view, setView] = useState('main');
  useEffect(() => {
    if (!userId || !online || !signedIn()) return;
    offline.refreshKeys().catch(() => {});
    api('GET', '/me').then(setFresh).catch(() => {});
    offline.syncAllowances(userId).catch(() => {});
  }, [userId, online]);
  if (!userId) return html`<${Page} title="Offline payments"><p>Sign in once while online to use offline payments.</p></${Page}>`;
  if (!state) return html`<${Page} title="Offline payments"><p class="muted">Loading…</p></${Page}>`;
  const tabs = html`<div class="actions" role="group" aria-label="Offline payments">
    <button type="button" class=${view === 'receive' ? '' : 'secondary'} aria-pressed=${view === 'receive' ? 'true' : 'false'}
      onClick=${() => setView('receive')}>Receive offline</button>
    <button type="button" class=${view === 'pay' ? '' : 'secondary'} aria-pressed=${view === 'pay' ? 'true' : 'false'}
      onClick=${() => setView('pay')}>Pay offline</button>
    ${view !== 'main' && html`<button type="button" class="link" onClick=${() => setView('main')}>Back</button>`}
  </div>`;
  let body;
  if (view === 'receive') body = html`<${ReceiveView} userId=${userId} state=${state} online=${online} />`;
  else if (view === 'pay') body = html`<${PayView} userId=${userId} state=${state} />`;
  else {
    const canAct = online && signedIn();
    const d = state.device;
    body = html`
      <p class="muted">Pay and be paid face to face with no network: the codes go from screen to camera. Paying uses an
        allowance, money held in advance for this device: losing the device can never cost more than what its
        allowances still hold.</p>
      <h2>This device</h2>
      ${d ? html`<p data-testid="device-state">Registered as ${d.name || 'this device'} (${d.status || 'active'}).</p>`
        : canAct ? html`<p>This device is not registered yet. Its key is made here and never leaves it.</p><${RegisterDevice} userId=${userId} me=${me} />`
        : html`<p>This device is not registered yet: register it while online.</p>`}
      ${state.keys ? html`<p class="muted" data-testid="keys-ready">Offline keys saved: payments to you can be checked with no network.</p>`
        : canAct && html`<p class="muted">Saving the offline keys…</p>`}
      <h2>Allowances on this device</h2>
      ${state.spendable.length ? html`<ul class="list" data-testid="allowances">${state.spendable.map((s) => html`<li>
        <span>${formatMoney(s.amount, s.currency)} allowance<br /><span class="muted">${formatMoney(s.remaining, s.currency)} left to pay offline
          · until ${when(new Date(s.exp * 1000).toISOString())}</span></span></li>`)}</ul>`
        : html`<p class="muted">No allowance on this device.</p>`}
      ${d && canAct && (me.mfa_enabled ? html`<${WalletsThen} userId=${userId} device=${d} />`
        : html`<p>Taking an allowance needs two-step verification. <a href="#/security">Turn it on in Security</a>.</p>`)}
      <${Received} list=${state.received} canRedeem=${canAct} userId=${userId} />
      ${canAct && html`<p><a href="#/devices">All your offline devices and allowances</a></p>`}`;
  }
  return html`<${Page} title="Offline payments">
    ${!online && html`<p class="alert ok" role="status">You are offline: you can pay and be paid with codes.</p>`}
    ${tabs}
    ${body}
  </${Page}>`;
}
