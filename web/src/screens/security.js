// Proving your e-mail and phone (they are how people pay you) and two-step verification.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import qrcode from 'qrcode-generator';
import { api } from '../api.js';
import { Done, ErrorAlert, Field, Page, StepUpField, submitting, useAction, useLoad, useStepUp } from '../ui.js';

export function Contact({ me, channel, onChange }) {
  const [sentTo, setSentTo] = useState(null);
  const label = channel === 'email' ? 'E-mail' : 'Phone';
  const value = channel === 'email' ? me.email : me.phone;
  const verified = channel === 'email' ? me.email_verified : me.phone_verified;
  const send = useAction(async () => setSentTo((await api('POST', '/me/verify', { channel })).sent_to));
  const confirm = useAction(async (form) => {
    onChange(await api('POST', '/me/verify/confirm', { channel, code: form.get('code').trim() }));
    setSentTo(null);
  });
  return html`<div class="card" data-testid=${`contact-${channel}`}>
    <h2>${label}</h2>
    <p>${value || html`<span class="muted">None yet</span>`}
      ${value && (verified ? html` · <strong class="credit">verified</strong>` : html` · <span>not verified</span>`)}</p>
    ${value && !verified && (sentTo === null ? html`
      <${ErrorAlert} error=${send.error} />
      <div class="actions"><button type="button" disabled=${send.busy} onClick=${() => send.go()}>
        Send me a code</button></div>` : html`
      <form onSubmit=${submitting(confirm.go)} noValidate>
        <${Done}>We sent a 6-digit code to ${sentTo}. It works for 10 minutes.</${Done}>
        <${ErrorAlert} error=${confirm.error} />
        <${Field} label=${`Code sent to your ${label.toLowerCase()}`} name="code" inputmode="numeric"
          autocomplete="one-time-code" required error=${confirm.error} />
        <div class="actions"><button type="submit" disabled=${confirm.busy}>Verify</button>
          <button type="button" class="secondary" onClick=${() => send.go()}>Send a new code</button></div>
      </form>`)}
  </div>`;
}

// A new phone is a new way to be paid and to sign in: step-up (password, or a code with 2FA on).
function PhoneForm({ me, onChange }) {
  const stepUp = useStepUp(me.mfa_enabled);
  const save = useAction(async (form) => {
    try {
      onChange(await api('PATCH', '/me', { phone: form.get('phone').trim(), ...stepUp.proof(form) }));
    } catch (err) { await stepUp.refused(err); throw err; }
  });
  return html`<form onSubmit=${submitting(save.go)} noValidate data-testid="phone-form">
    <${ErrorAlert} error=${save.error} />
    <${Field} label=${me.phone ? 'New phone number' : 'Phone number'} name="phone" type="tel" autocomplete="tel"
      required hint="With the country code, e.g. +65 9123 4567" error=${save.error} />
    <${StepUpField} stepUp=${stepUp} error=${save.error} />
    <div class="actions"><button type="submit" class="secondary" disabled=${save.busy}>Save phone</button></div>
  </form>`;
}

function Qr({ text }) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  // The SVG is generated from the otpauth URI only: no outside markup reaches innerHTML.
  return html`<div class="qr" role="img" aria-label="QR code for your authenticator app"
    dangerouslySetInnerHTML=${{ __html: qr.createSvgTag({ cellSize: 4, margin: 2, scalable: true }) }} />`;
}

function TwoStep({ me, onChange }) {
  const [enrolling, setEnrolling] = useState(null);
  const [codes, setCodes] = useState(null);
  // Turning it on needs the password: a stolen session alone must not put its own code in front
  // of the owner's password change, reset and 2FA-off.
  const stepUp = useStepUp(me.mfa_enabled);
  const start = useAction(async (form) => {
    try { setEnrolling(await api('POST', '/me/mfa/totp', stepUp.proof(form))); } catch (err) {
      await stepUp.refused(err);
      throw err;
    }
  });
  const confirm = useAction(async (form) => {
    const result = await api('POST', '/me/mfa/totp/confirm', { otp: form.get('otp').trim() });
    setEnrolling(null);
    setCodes(result.recovery_codes);
    onChange({ ...me, mfa_enabled: true });
  });
  const off = useAction(async (form) => {
    await api('DELETE', '/me/mfa/totp', { otp: form.get('otp').trim() });
    onChange({ ...me, mfa_enabled: false });
  });
  useEffect(() => { if (codes) document.getElementById('recovery-title').focus(); }, [codes]);
  return html`<div class="card">
    <h2>Two-step verification</h2>
    ${codes && html`<div>
      <h3 id="recovery-title" tabindex="-1">Save your recovery codes</h3>
      <p>Each works once if you lose your phone. Keep them somewhere safe: they will not be shown again.</p>
      <ul class="codes" data-testid="recovery-codes">${codes.map((c) => html`<li>${c}</li>`)}</ul>
    </div>`}
    ${me.mfa_enabled && !codes && html`<p><strong class="credit">On.</strong> Withdrawals and offline allowances ask for a code.</p>
      <form onSubmit=${submitting(off.go)} noValidate>
        <${ErrorAlert} error=${off.error} />
        <${Field} label="Code to turn it off" name="otp" inputmode="numeric" autocomplete="one-time-code" required
          error=${off.error} />
        <div class="actions"><button type="submit" class="secondary" disabled=${off.busy}>Turn off</button></div>
      </form>`}
    ${!me.mfa_enabled && !enrolling && html`<p>Off. Turn it on to withdraw money and to pay offline.</p>
      <form onSubmit=${submitting(start.go)} noValidate data-testid="mfa-setup">
        <${ErrorAlert} error=${start.error} />
        <${StepUpField} stepUp=${stepUp} error=${start.error} />
        <div class="actions"><button type="submit" disabled=${start.busy}>Set up two-step verification</button></div>
      </form>`}
    ${enrolling && html`<div>
      <p>Scan this with your authenticator app (Google Authenticator, 1Password, …), then type the 6-digit code it shows.</p>
      <${Qr} text=${enrolling.otpauth_uri} />
      <p>Can't scan? Enter this key instead: <code data-testid="totp-secret">${enrolling.secret}</code></p>
      <form onSubmit=${submitting(confirm.go)} noValidate>
        <${ErrorAlert} error=${confirm.error} />
        <${Field} label="Code from the app" name="otp" inputmode="numeric" autocomplete="one-time-code" required
          error=${confirm.error} />
        <div class="actions"><button type="submit" disabled=${confirm.busy}>Turn on</button></div>
      </form></div>`}
  </div>`;
}

export function Security() {
  const loaded = useLoad(() => api('GET', '/me'), []);
  const [me, setMe] = useState(null);
  const user = me || loaded.data;
  return html`<${Page} title="Security">
    <${ErrorAlert} error=${loaded.error} />
    ${user && html`
      <${Contact} me=${user} channel="email" onChange=${setMe} />
      <${Contact} me=${user} channel="phone" onChange=${setMe} />
      <div class="card"><${PhoneForm} me=${user} onChange=${setMe} /></div>
      <${TwoStep} me=${user} onChange=${setMe} />
      <div class="card">
        <h2>Where you are signed in</h2>
        <p>See each browser and app signed in to your account, and sign out the ones you do not know.</p>
        <p><a href="#/sessions">Your sessions</a></p>
      </div>`}
  </${Page}>`;
}
