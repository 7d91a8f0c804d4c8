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
};

const FIELD_NAMES = {
  email: 'e-mail', password: 'password', new_password: 'new password', phone: 'phone number',
  amount: 'amount', currency: 'currency', first_name: 'first name', last_name: 'last name',
  otp: 'authenticator code', code: 'code', memo: 'note',
};

function fieldName(field) {
  const last = String(field || '').split('.').pop();
  return FIELD_NAMES[last] || last.replace(/_/g, ' ');
}

export function explain(err) {
  if (!err || !err.code) return 'Something went wrong. Please try again.';
  if (err.code === 'too_many_requests' && err.retryAfter) {
    return `Too many tries in a short time. Please wait ${err.retryAfter} seconds and try again.`;
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
};

function who(data) {
  return (data.counterparty && data.counterparty.display_name) || 'Someone';
}

export function describeNotice(n, format) {
  const money = format(n.data.amount, n.data.currency);
  const text = NOTICE[n.type];
  // A display name ends with its initial's full stop: never two at the end of a sentence.
  return text ? text(n.data, money).replace(/\.\.$/, '.') : `${n.type}: ${money}`;
}
