// Signing up, signing in, and getting back in with a code sent to the e-mail.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { forgotPassword, register, resetPassword, signIn } from '../api.js';
import { go } from '../nav.js';
import { Done, ErrorAlert, Field, Page, submitting, useAction } from '../ui.js';

export function SignIn() {
  const action = useAction(async (form) => {
    await signIn(form.get('email'), form.get('password'));
    go('home');
  });
  return html`<${Page} title="Sign in">
    <form onSubmit=${submitting(action.go)} noValidate>
      <${ErrorAlert} error=${action.error} />
      <${Field} label="E-mail" name="email" type="email" autocomplete="username" required error=${action.error} />
      <${Field} label="Password" name="password" type="password" autocomplete="current-password" required
        error=${action.error} />
      <div class="actions"><button type="submit" disabled=${action.busy}>Sign in</button></div>
    </form>
    <p><a href="#/forgot">Forgot your password?</a></p>
    <p>New here? <a href="#/signup">Create an account</a></p>
  </${Page}>`;
}

export function SignUp() {
  const action = useAction(async (form) => {
    const fields = { email: form.get('email'), password: form.get('password') };
    for (const name of ['first_name', 'last_name', 'phone']) {
      if (form.get(name)) fields[name] = form.get(name);
    }
    await register(fields);
    await signIn(fields.email, fields.password);
    go('home');
  });
  return html`<${Page} title="Create your account">
    <form onSubmit=${submitting(action.go)} noValidate>
      <${ErrorAlert} error=${action.error} />
      <${Field} label="First name" name="first_name" autocomplete="given-name" error=${action.error} />
      <${Field} label="Last name" name="last_name" autocomplete="family-name" error=${action.error} />
      <${Field} label="E-mail" name="email" type="email" autocomplete="email" required error=${action.error} />
      <${Field} label="Phone (optional)" name="phone" type="tel" autocomplete="tel"
        hint="With the country code, e.g. +65 9123 4567" error=${action.error} />
      <${Field} label="Password" name="password" type="password" autocomplete="new-password" required
        minLength="10" hint="At least 10 characters; not a common password" error=${action.error} />
      <div class="actions"><button type="submit" disabled=${action.busy}>Create account</button></div>
    </form>
    <p>Already have an account? <a href="#/signin">Sign in</a></p>
  </${Page}>`;
}

export function Forgot() {
  const [email, setEmail] = useState(null);
  const [done, setDone] = useState(false);
  const ask = useAction(async (form) => {
    await forgotPassword(form.get('email'));
    setEmail(form.get('email'));
  });
  const reset = useAction(async (form) => {
    const fields = { email, code: form.get('code'), new_password: form.get('new_password') };
    if (form.get('otp')) fields.otp = form.get('otp');
    await resetPassword(fields);
    setDone(true);
  });
  if (done) {
    return html`<${Page} title="Password changed">
      <${Done}>Your password is changed and every other session is signed out.</${Done}>
      <p><a href="#/signin">Sign in with your new password</a></p>
    </${Page}>`;
  }
  return html`<${Page} title="Reset your password">
    ${email === null ? html`
      <form onSubmit=${submitting(ask.go)} noValidate>
        <${ErrorAlert} error=${ask.error} />
        <${Field} label="E-mail" name="email" type="email" autocomplete="username" required error=${ask.error} />
        <div class="actions"><button type="submit" disabled=${ask.busy}>Send me a code</button></div>
      </form>` : html`
      <form onSubmit=${submitting(reset.go)} noValidate>
        <${Done}>If an account uses ${email}, a 6-digit code is on its way there. It works for 15 minutes.</${Done}>
        <${ErrorAlert} error=${reset.error} />
        <${Field} label="Code from the e-mail" name="code" inputmode="numeric" autocomplete="one-time-code" required
          error=${reset.error} />
        <${Field} label="New password" name="new_password" type="password" autocomplete="new-password" required
          hint="At least 10 characters" error=${reset.error} />
        <${Field} label="Authenticator code (only if you turned on two-step verification)" name="otp"
          inputmode="numeric" autocomplete="one-time-code" error=${reset.error} />
        <div class="actions"><button type="submit" disabled=${reset.busy}>Set new password</button></div>
      </form>`}
    <p><a href="#/signin">Back to sign in</a></p>
  </${Page}>`;
}
