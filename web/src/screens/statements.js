// Monthly statements (API.md, "Statements people can check"): choose a wallet and a month (UTC,
// not in the future), see the opening and closing balances and the entries oldest first, download
// the month as CSV or PDF (or as JSON, for `python -m statement_verify`), and verify it here,
// in the browser: the hash chain, the Merkle proof and the checkpoint's Ed25519 signature against
// the ledger's published key (statement_verify.js), with no trust in what the screen was told.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, accessToken, freshToken, refresh, settings } from '../api.js';
import { formatMoney } from '../money.js';
import { NotVerified, verifyStatement } from '../statement_verify.js';
import { ErrorAlert, Page, Select, pickWallet, useAction, useLoad, when } from '../ui.js';

const TYPES = { transfer: 'Payment', topup: 'Card top-up', withdrawal: 'Withdrawal', refund: 'Refund',
  reversal: 'Reversal', invitation: 'Invitation', offline: 'Offline payment', exchange: 'Exchange',
  dispute: 'Dispute' };

export const thisMonth = () => new Date().toISOString().slice(0, 7); // months are UTC

function monthName(month) {
  const [y, m] = month.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, 1)).toLocaleDateString(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' });
}

// A file the API makes (CSV, PDF), fetched with the access token (never in a URL), then handed
// to the browser as a download from a Blob URL.
async function fetchFile(path, accept) {
  const send = (token) => fetch(settings().apiUrl + path, {
    headers: { Authorization: `Bearer ${token}`, Accept: accept }, credentials: 'same-origin',
  });
  let res;
  try {
    res = await send(await freshToken());
    if (res.status === 401) { await refresh(); res = await send(accessToken()); }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(0, 'network', 'The wallet could not be reached.');
  }
  if (!res.ok) {
    let e = {};
    try { e = (await res.json()).error || {}; } catch (err) { /* not JSON */ }
    throw new ApiError(res.status, e.code || 'unknown', e.message, e.details || null);
  }
  return res.blob();
}

function saveAs(blob, filename) {
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60000);
}

// What "Verify" found: verified, not proven yet (said plainly, not as a failure), or why not.
function Verdict({ result, count }) {
  if (!result) return null;
  if (result.ok) {
    return html`<div class="alert ok verdict" role="status" data-testid="verdict" data-check=${count}>
      Verified against checkpoint ${result.checkpoint_id} of <time datetime=${result.at}>${when(result.at)}</time>${' '}
      (${result.entries === 1 ? '1 entry' : `${result.entries} entries`}).
    </div>`;
  }
  if (result.pending) {
    return html`<div class="alert verdict" role="status" data-testid="verdict" data-check=${count}>Not verified yet: ${result.reason}.</div>`;
  }
  return html`<div class="alert error verdict" role="alert" data-testid="verdict" data-check=${count}>
    This statement does not verify: ${result.reason}.</div>`;
}

function Items({ statement }) {
  const { items, currency } = statement;
  if (!items.length) return html`<p class="muted">No entries in this month.</p>`;
  return html`<div class="table-wrap"><table class="statement" data-testid="statement-items">
    <caption class="visually-hidden">Entries, oldest first</caption>
    <thead><tr><th scope="col">Date</th><th scope="col">What</th><th scope="col" class="num">Amount</th>
      <th scope="col" class="num">Balance</th></tr></thead>
    <tbody>
      ${items.map((i) => html`<tr key=${`${i.chain}:${i.seq}:${i.transfer_id}:${i.direction}`}>
        <td>${when(i.posted_at)}</td>
        <td>${TYPES[i.type] || i.type}</td>
        <td class=${`num ${i.direction}`}>
          <span class="visually-hidden">${i.direction === 'credit' ? 'in' : 'out'} </span>
          ${i.direction === 'credit' ? '+' : '−'}${formatMoney(i.amount, currency)}</td>
        <td class="num">${formatMoney(i.balance_after, currency)}</td>
      </tr>`)}
    </tbody>
  </table></div>`;
}

export function Statements({ version }) {
  const wallets = useLoad(() => api('GET', '/wallets'), [version]);
  const [walletId, setWalletId] = useState(null);
  const [month, setMonth] = useState(thisMonth());
  const [result, setResult] = useState(null);
  const [checks, setChecks] = useState(0); // how many times Verify answered (for a test to wait on)
  const list = wallets.data ? wallets.data.items : [];
  const wallet = list.length ? pickWallet(list, walletId) : null;
  const future = month > thisMonth();
  const valid = /^\d{4}-\d{2}$/.test(month) && !future;
  const path = wallet && valid ? `/wallets/${wallet.wallet_id}/statements/${month}` : null;
  const shown = useLoad(() => (path ? api('GET', path) : Promise.resolve(null)), [path]);
  const [fresh, setFresh] = useState(null); // the statement fetched again by Verify
  useEffect(() => { setResult(null); setFresh(null); }, [path]);
  const statement = fresh || shown.data;
  const name = wallet ? `statement-${wallet.wallet_id}-${month}` : 'statement';

  const download = useAction(async (format) => {
    if (format === 'json') {
      saveAs(new Blob([JSON.stringify(statement, null, 2)], { type: 'application/json' }), `${name}.json`);
      return;
    }
    const accept = format === 'pdf' ? 'application/pdf' : 'text/csv';
    saveAs(await fetchFile(`${path}?format=${format}`, accept), `${name}.${format}`);
  });

  // Verify what the API serves now (a checkpoint may have come since the screen opened) against
  // the key the ledger publishes.
  const check = useAction(async () => {
    setResult(null);
    const [again, keys] = await Promise.all([api('GET', path), api('GET', '/.well-known/ledger-keys.json')]);
    setFresh(again);
    try {
      setResult({ ok: true, ...(await verifyStatement(again, keys)) });
    } catch (err) {
      if (!(err instanceof NotVerified)) throw err;
      setResult({ ok: false, pending: err.pending, reason: err.message });
    } finally {
      setChecks((n) => n + 1);
    }
  });

  let body = null;
  if (!valid) {
    body = html`<div class="alert error" role="alert">${future
      ? 'That month has not started yet: choose this month or an earlier one.' : 'Choose a month.'}</div>`;
  } else if (shown.error) {
    body = html`<${ErrorAlert} error=${shown.error} />`;
  } else if (!statement) {
    body = html`<p class="muted">Loading the statement…</p>`;
  } else {
    const { currency } = statement;
    body = html`
      <dl class="figures" data-testid="statement-figures">
        <dt>Period (UTC)</dt><dd>${statement.period.from.slice(0, 10)} to ${statement.period.to.slice(0, 10)}</dd>
        <dt>Opening balance</dt><dd data-testid="opening-balance">${formatMoney(statement.opening_balance, currency)}</dd>
        <dt>Closing balance</dt><dd data-testid="closing-balance">${formatMoney(statement.closing_balance, currency)}</dd>
      </dl>
      <div class="actions">
        <button type="button" class="secondary" disabled=${download.busy} onClick=${() => download.go('csv')}>Download CSV</button>
        <button type="button" class="secondary" disabled=${download.busy} onClick=${() => download.go('pdf')}>Download PDF</button>
        <button type="button" class="secondary" disabled=${download.busy} onClick=${() => download.go('json')}>Download JSON</button>
        <button type="button" disabled=${check.busy} onClick=${() => check.go()}>${check.busy ? 'Verifying…' : 'Verify'}</button>
      </div>
      <${ErrorAlert} error=${download.error || check.error} />
      <${Verdict} result=${result} count=${checks} />
      <h2>Entries</h2>
      <${Items} statement=${statement} />
      <p class="muted">Verify recomputes, in this browser, the hash chain of these entries and the proof that ties
        them to a checkpoint the ledger signed with its published key. The JSON download can be checked the same
        way with no server of ours: <code>python -m statement_verify</code> (docs/statements.md).</p>`;
  }

  return html`<${Page} title="Statements">
    ${wallets.error && html`<${ErrorAlert} error=${wallets.error} />`}
    ${wallet && html`<form class="statement-choice" onSubmit=${(e) => e.preventDefault()}>
      <${Select} label="Wallet" name="wallet_id" value=${wallet.wallet_id}
        onChange=${(e) => setWalletId(e.currentTarget.value)}
        options=${list.map((w) => [w.wallet_id, `${w.name} (${w.currency})`])} />
      <div class="field">
        <label for="statement-month">Month</label>
        <span class="hint" id="statement-month-hint">Months run in UTC; ${monthName(thisMonth())} runs to now.</span>
        <input id="statement-month" name="month" type="month" value=${month} max=${thisMonth()} required
          aria-describedby="statement-month-hint" aria-invalid=${valid ? 'false' : 'true'}
          onInput=${(e) => setMonth(e.currentTarget.value)} />
      </div>
    </form>`}
    ${wallet && html`<h2>${wallet.name} (${wallet.currency}), ${valid ? monthName(month) : ''}</h2>`}
    ${wallet && body}
  </${Page}>`;
}
