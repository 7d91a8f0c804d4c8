import assert from 'node:assert/strict';
import { test } from 'node:test';
import { badFields, describeNotice, explain } from '../src/messages.js';

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
