// Small shared pieces: a page with a focused heading, accessible fields and alerts, and two
// hooks for loading data and running an action with busy and error states.
import { html } from 'htm/preact';
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import { api } from './api.js';
import { explain, badFields } from './messages.js';
import { formatMoney } from './money.js';

// Moving focus to the heading tells a screen-reader user that the screen changed.
export function Page({ title, children }) {
  const h1 = useRef(null);
  useEffect(() => {
    document.title = `${title} · E-wallet`;
    if (h1.current) h1.current.focus();
  }, [title]);
  return html`<section aria-labelledby="page-title">
    <h1 id="page-title" tabindex="-1" ref=${h1}>${title}</h1>
    ${children}
  </section>`;
}

export function ErrorAlert({ error }) {
  if (!error) return null;
  return html`<div class="alert error" role="alert">${explain(error)}</div>`;
}

export function Done({ children }) {
  if (!children) return null;
  return html`<div class="alert ok" role="status">${children}</div>`;
}

let fieldCount = 0;

// The hint sits beside the label, not in it: the field's name stays short ("Amount") and the
// hint is read as its description.
export function Field({ label, name, hint, error, ...props }) {
  const id = useRef(`f${++fieldCount}`).current;
  const bad = badFields(error).has(name);
  const described = hint ? `${id}-hint` : undefined;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${hint && html`<span class="hint" id=${described}>${hint}</span>`}
    <input id=${id} name=${name} aria-invalid=${bad ? 'true' : 'false'} aria-describedby=${described} ...${props} />
  </div>`;
}

export function Select({ label, name, options, ...props }) {
  const id = useRef(`f${++fieldCount}`).current;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} name=${name} ...${props}>
      ${options.map(([value, text]) => html`<option value=${value}>${text}</option>`)}
    </select>
  </div>`;
}

export function Money({ amount, currency }) {
  return html`<span>${formatMoney(amount, currency)}</span>`;
}

// Load something when the screen opens and again when `deps` change (e.g. a live notice).
export function useLoad(load, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const reload = useCallback(() => {
    let live = true;
    load().then((data) => live && setState({ data, error: null, loading: false }))
      .catch((error) => live && setState({ data: null, error, loading: false }));
    return () => { live = false; };
  }, deps);
  useEffect(reload, [reload]);
  return { ...state, reload };
}

// Run an action from a form: one at a time, with its error kept for the alert.
export function useAction(run) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const go = async (...args) => {
    if (busy) return undefined;
    setBusy(true);
    setError(null);
    try {
      return await run(...args);
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, go };
}

export function submitting(fn) {
  return (event) => { event.preventDefault(); fn(new FormData(event.currentTarget)); };
}

export function when(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

// The wallet a form works on: the one the person chose, else the default, else the first.
export function pickWallet(list, id) {
  return list.find((w) => w.wallet_id === id) || list.find((w) => w.is_default) || list[0];
}

// What a form shows when the amount typed is not one (money.parseAmount said null).
export const BAD_AMOUNT = { code: 'invalid_request', details: [{ field: 'amount' }] };

export function walletLabel(w) {
  return `${w.name} (${w.currency}): ${formatMoney(w.available, w.currency)} available`;
}

// Step-up (API.md, "Sessions, step-up and account safety"): turning 2FA on, changing the phone,
// connecting the payout account and registering an offline device need a fresh proof in the
// form: the password, or with 2FA on a code from the authenticator (or a recovery code), since
// a password alone is then not enough. `mfaEnabled` is what /me said; a 403 `reauth_required`
// (2FA turned on or off elsewhere meanwhile) re-reads it, so the form asks for the right one.
export function useStepUp(mfaEnabled) {
  const [mfa, setMfa] = useState(null);
  const on = mfa === null ? Boolean(mfaEnabled) : mfa;
  return {
    mfa: on,
    proof(form) {
      const value = String(form.get(on ? 'otp' : 'password') || '');
      return on ? { otp: value.trim() } : { password: value };
    },
    async refused(err) {
      if (!err || err.code !== 'reauth_required') return;
      try { setMfa(Boolean((await api('GET', '/me')).mfa_enabled)); } catch (e) { /* keep the field as it is */ }
    },
  };
}

export function StepUpField({ stepUp, error, label }) {
  return stepUp.mfa
    ? html`<${Field} label=${label || 'Authenticator code'} name="otp" inputmode="numeric"
        autocomplete="one-time-code" required error=${error}
        hint="To confirm it is you: the code from your authenticator app, or one of your recovery codes" />`
    : html`<${Field} label=${label || 'Your password'} name="password" type="password"
        autocomplete="current-password" required error=${error} hint="To confirm it is you" />`;
}
