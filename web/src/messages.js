// What a person reads when the API says no: the contract's error codes in plain words.

const WORDS = {
  network: 'We could not reach the wallet, so we cannot tell whether this went through. Check your connection '
    + 'and press the same button again: with the same details it can never pay twice.',
  unauthorized: 'Your session has ended. Please sign in again.',
  invalid_credentials: 'That e-mail and password do not match an account.',
  too_many_requests: 'Too many tries in a short time. Please wait a little and try again.',
  email_taken: 'An account with this e-mail already exists. Sign in, or reset your password.',
  phone_taken: 'This phone number belongs to another account.',
  insufficient_funds: 'There is not enough available money in this wallet.',
  currency_mismatch: 'The two sides use different currencies. Pick a wallet in the same currency.',
  same_wallet: 'You cannot send money to yourself or to the same wallet.',
  recipient_not_found: 'We could not find anyone with a verified e-mail or phone like that.',
  limit_exceeded: 'This is over your limit. Try a smaller amount, or try again tomorrow.',
  mfa_required: 'Enter the 6-digit code from your authenticator app.',
  mfa_invalid: 'That authenticator code is wrong or was already used.',
  mfa_not_enrolled: 'Turn on two-step verification first (in Security).',
  invalid_code: 'That code is not right. Check it and try again.',
  code_expired: 'That code has expired or was replaced. Ask for a new one.',
  already_verified: 'This is already verified.',
  request_not_pending: 'This request is no longer open.',
  transfer_not_cancelable: 'This payment can no longer be canceled.',
  account_frozen: 'Your account is frozen: money can come in but not go out. Please contact support.',
  card_declined: 'Your card was declined. Try another card.',
  payment_provider_error: 'The card service is not answering right now. Please try again in a moment.',
  idempotency_key_reused: 'Something changed while this was being sent. Please check and send again.',
  payload_too_large: 'That is too much text.',
  not_found: 'We could not find that. It may have been removed.',
  device_inactive: 'That device can no longer receive allowances.',
  verification_required: 'Verify your e-mail (or phone) first. Until then you can look around, but not pay, '
    + 'top up or change anything.',
  reauth_required: 'Please confirm it is you: enter your password, or a code from your authenticator app '
    + 'if two-step verification is on.',
  reauth_invalid: 'That password or code is not right, so we could not confirm it is you.',
  mfa_already_enabled: 'Two-step verification is already on.',
  payout_account_required: 'Connect a bank account first.',
  conflict: 'Something changed at the same time. Please try again.',
  quote_expired: 'This quote has expired: its rate is no longer guaranteed. Get a new quote.',
  quote_used: 'This quote has already been used, so nothing more was exchanged. Get a new quote to go again.',
  rates_unavailable: 'Exchange rates are not available right now, so we cannot give a quote. Please try again later.',
  same_currency: 'Both sides are in the same currency. Pick another currency to receive.',
};

const FIELD_NAMES = {
  email: 'e-mail', password: 'password', new_password: 'new password', phone: 'phone number',
  amount: 'amount', currency: 'currency', first_name: 'first name', last_name: 'last name',
  otp: 'authenticator code', code: 'code', memo: 'note',
  sell_amount: 'amount to sell', buy_amount: 'amount to receive',
};

function fieldName(field) {
  const last = String(field || '').split('.').pop();
  return FIELD_NAMES[last] || last.replace(/_/g, ' ');
}

// Retry-After (seconds, or an HTTP date) as a person would say it: "30 seconds", "about 15 minutes".
export function waitWords(retryAfter, now = Date.now()) {
  if (retryAfter === null || retryAfter === undefined || retryAfter === '') return null;
  let seconds = Number(retryAfter);
  if (!Number.isFinite(seconds)) {
    const at = Date.parse(retryAfter);
    if (Number.isNaN(at)) return null;
    seconds = (at - now) / 1000;
  }
  seconds = Math.max(1, Math.ceil(seconds));
  if (seconds === 1) return '1 second';
  if (seconds < 90) return `${seconds} seconds`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  return hours === 1 ? 'about an hour' : `about ${hours} hours`;
}

export function explain(err) {
  if (!err || !err.code) return 'Something went wrong. Please try again.';
  if (err.code === 'too_many_requests' && waitWords(err.retryAfter)) {
    return `Too many tries in a short time. Please wait ${waitWords(err.retryAfter)} and try again.`;
  }
  if (err.code === 'invalid_request') {
    const fields = (err.details || []).map((d) => fieldName(d.field)).filter(Boolean);
    if (fields.length) return `Please check the ${[...new Set(fields)].join(', ')}.`;
    return 'Please check what you entered.';
  }
  if (WORDS[err.code]) return WORDS[err.code];
  return err.status >= 500 ? 'The wallet had a problem, so we cannot tell whether this went through. Pressing the '
    + 'same button again with the same details is safe: it can never pay twice.'
    : 'That did not work. Please check and try again.';
}

// The fields an error names, so a form can mark them (aria-invalid) next to the message.
export function badFields(err) {
  // A step-up refused: the proof field (password or code) is the one to fix.
  if (err && (err.code === 'reauth_invalid' || err.code === 'reauth_required')) return new Set(['password', 'otp']);
  if (!err || err.code !== 'invalid_request') return new Set();
  // "to.email" marks both the `to` field and an `email` one.
  return new Set((err.details || []).flatMap((d) => String(d.field || '').split('.')));
}

const NOTICE = {
  'transfer.received': (d, m) => `You received ${m} from ${who(d)}.`,
  'transfer.claimed': (d, m) => `${who(d)} joined and claimed the ${m} you sent.`,
  'topup.succeeded': (d, m) => `${m} was added from your card.`,
  'topup.failed': (d, m) => `Adding ${m} from your card failed.`,
  'withdrawal.paid': (d, m) => `${m} was paid out to your bank.`,
  'withdrawal.failed': (d, m) => `Your withdrawal of ${m} failed; the money is back in your wallet.`,
  'payment_request.received': (d, m) => `${who(d)} asks you for ${m}.`,
  'payment_request.paid': (d, m) => `${who(d)} paid your request for ${m}.`,
  'payment_request.declined': (d, m) => `${who(d)} declined your request for ${m}.`,
  'offline.redeemed': (d, m) => `${who(d)} redeemed ${m} you paid offline.`,
  // No money in it: when, and the client as it named itself.
  'security.new_sign_in': (d) => `New sign-in to your account from ${describeAgent(d.user_agent)}. `
    + 'Not you? Sign it out in Security, then change your password.',
};

const BROWSERS = [
  // Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
  [/\bEdg(e|A|iOS)?\//, 'Edge'], [/\b(OPR|Opera)\//, 'Opera'], [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\b(Firefox|FxiOS)\//, 'Firefox'], [/\b(HeadlessChrome|Chrome|Chromium|CriOS)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];
const SYSTEMS = [
  [/\biPhone\b/, 'an iPhone'], [/\biPad\b/, 'an iPad'], [/\bAndroid\b/, 'Android'], [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'], [/\bMac OS X\b|\bMacintosh\b/, 'a Mac'], [/\bLinux\b/, 'Linux'],
];

// A User-Agent in plain words: "Chrome on Linux", "Safari on an iPhone"; a client that is no
// browser is named as it names itself ("python-requests"), and none at all as an unknown device.
export function describeAgent(ua) {
  const text = String(ua || '').trim();
  if (!text) return 'an unknown device';
  const browser = BROWSERS.find(([re]) => re.test(text));
  const system = SYSTEMS.find(([re]) => re.test(text));
  if (browser) return system ? `${browser[1]} on ${system[1]}` : browser[1];
  if (system && /^Mozilla\//.test(text)) return `a browser on ${system[1]}`;
  const product = text.split(/[\s/(]/)[0].slice(0, 40);
  return product ? `an app (${product})` : 'an unknown device';
}

function who(data) {
  return (data.counterparty && data.counterparty.display_name) || 'Someone';
}

export function describeNotice(n, format) {
  const money = n.data.amount === undefined ? '' : format(n.data.amount, n.data.currency);
  const text = NOTICE[n.type];
  // A display name ends with its initial's full stop: never two at the end of a sentence.
  return text ? text(n.data, money).replace(/\.\.$/, '.') : `${n.type}: ${money}`;
}
