import assert from 'node:assert/strict';
import { test } from 'node:test';
import { badFields, describeAgent, describeNotice, explain, waitWords } from '../src/messages.js';

test('API errors become words, never codes', () => {
  assert.equal(explain({ status: 422, code: 'insufficient_funds' }),
    'There is not enough available money in this wallet.');
  assert.equal(explain({ status: 429, code: 'too_many_requests', retryAfter: '30' }),
    'Too many tries in a short time. Please wait 30 seconds and try again.');
  assert.equal(explain({ status: 400, code: 'invalid_request', details: [{ field: 'to.email' }, { field: 'amount' }] }),
    'Please check the e-mail, amount.');
  assert.doesNotMatch(explain({ status: 409, code: 'something_new' }), /something_new/);
  assert.doesNotMatch(explain({ status: 500, code: 'internal_error' }), /internal_error/);
});

test('the fields an error names are marked', () => {
  assert.deepEqual([...badFields({ code: 'invalid_request', details: [{ field: 'to.phone' }] })], ['to', 'phone']);
  assert.equal(badFields({ code: 'insufficient_funds' }).size, 0);
});

test('notices name the person by display name and end with one full stop', () => {
  const n = { type: 'transfer.received', data: { amount: 1250, currency: 'USD',
    counterparty: { user_id: 'u1', display_name: 'Ana B.' } } };
  assert.equal(describeNotice(n, (a, c) => `${c} ${a}`), 'You received USD 1250 from Ana B.');
  const anonymous = { type: 'payment_request.paid', data: { amount: 5, currency: 'JPY', counterparty: null } };
  assert.equal(describeNotice(anonymous, (a, c) => `${c} ${a}`), 'Someone paid your request for JPY 5.');
});

test('a new sign-in is told without money, naming the client in plain words', () => {
  const n = { type: 'security.new_sign_in', data: { signed_in_at: '2026-01-01T00:00:00Z', user_agent: 'Phone/1' } };
  const never = () => { throw new Error('no money to format'); };
  assert.equal(describeNotice(n, never),
    'New sign-in to your account from an app (Phone). Not you? Sign it out in Security, then change your password.');
  const chrome = { type: 'security.new_sign_in', data: { signed_in_at: '2026-01-01T00:00:00Z',
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36' } };
  assert.match(describeNotice(chrome, never), /^New sign-in to your account from Chrome on Linux\. /);
  assert.match(describeNotice({ type: 'security.new_sign_in', data: {} }, never), /from an unknown device\./);
});

test('user agents in plain words', () => {
  const cases = {
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1':
      'Safari on an iPhone',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0':
      'Edge on Windows',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0': 'Firefox on a Mac',
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36':
      'Chrome on Android',
    'python-requests/2.31.0': 'an app (python-requests)',
    '': 'an unknown device',
  };
  for (const [ua, words] of Object.entries(cases)) assert.equal(describeAgent(ua), words, ua);
  assert.equal(describeAgent(null), 'an unknown device');
});

test('the new refusals are words, and a wait is said as a person would', () => {
  for (const code of ['verification_required', 'reauth_required', 'reauth_invalid']) {
    const text = explain({ status: 403, code });
    assert.doesNotMatch(text, new RegExp(code));
    assert.doesNotMatch(text, /That did not work/);
  }
  assert.match(explain({ status: 403, code: 'reauth_invalid' }), /password or code is not right/);
  assert.equal(explain({ status: 429, code: 'too_many_requests', retryAfter: '900' }),
    'Too many tries in a short time. Please wait about 15 minutes and try again.');
  assert.equal(explain({ status: 429, code: 'too_many_requests' }),
    'Too many tries in a short time. Please wait a little and try again.');
  assert.equal(waitWords('1'), '1 second');
  assert.equal(waitWords('89'), '89 seconds');
  assert.equal(waitWords('3600'), 'about an hour');
  assert.equal(waitWords('7200'), 'about 2 hours');
  assert.equal(waitWords('Thu, 01 Jan 2026 00:02:00 GMT', Date.parse('2026-01-01T00:00:00Z')), 'about 2 minutes');
  assert.equal(waitWords('soon'), null);
  assert.equal(waitWords(null), null);
});

test('a refused step-up marks the proof field', () => {
  assert.deepEqual([...badFields({ code: 'reauth_invalid' })].sort(), ['otp', 'password']);
});

test('the exchange refusals are words', () => {
  assert.match(explain({ status: 409, code: 'quote_expired' }), /expired.*Get a new quote/);
  assert.match(explain({ status: 409, code: 'quote_used' }), /already been used/);
  assert.match(explain({ status: 503, code: 'rates_unavailable' }), /rates are not available right now/);
  assert.doesNotMatch(explain({ status: 503, code: 'rates_unavailable' }), /went through/);
  assert.match(explain({ status: 422, code: 'same_currency' }), /same currency/);
  assert.equal(explain({ status: 400, code: 'invalid_request', details: [{ field: 'buy_amount' }] }),
    'Please check the amount to receive.');
});
