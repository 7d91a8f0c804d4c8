// The offline-payments core of the page against what the command-line client (offline_wallet/)
// and the server (chalicelib/domain/offline_codes.py) write: the fixtures below were made with
// them (a server key and a device key from fixed seeds), so the page must produce and read the
// very same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { b64url, unb64url } from '../src/offline/b64.js';
import { decodePayment, decodeReceive, encodePayment, encodeReceive, BadCode } from '../src/offline/codes.js';
import { check, offlineKeys } from '../src/offline/payee.js';
import { signVoucher } from '../src/offline/payer.js';

const SERVER_X = 'A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg';
const CERT = 'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoib2ZmbGluZS1hbGxvd2FuY2Urand0In0.eyJpc3MiOiJld2FsbGV0IiwiYWxsb3dhbmNlX2lkIjoiYWx3XzEiLCJkZXZpY2VfaWQiOiJkZXZfMSIsImRldmljZV9rZXkiOiJlYlZXTG9fbVZQbEFlTEVTNkttTHA1QWZoVHJtbGI3WDRPT1JDNjBFbG1RIiwib3duZXIiOiJ1c3JfcGF5ZXIiLCJhbW91bnQiOjIwMDAsImN1cnJlbmN5IjoiVVNEIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQwMDAwMDAwMDB9.u7t3r8UdLM4ycEeGAegGYKPK4cn8CJ_LoYH7BUX0JQb7tRLY1DtI53V0uLftuPLmpDk1Ti--gNl4Kz5S9kk_AA';
const V1 = 'eyJhbGciOiJFZERTQSIsInR5cCI6Im9mZmxpbmUtdm91Y2hlcitqd3QifQ.eyJhbGxvd2FuY2VfaWQiOiJhbHdfMSIsInNlcSI6MSwicHJldiI6IiIsImFtb3VudCI6MzUwLCJjdW11bGF0aXZlIjozNTAsImN1cnJlbmN5IjoiVVNEIiwicGF5ZWUiOiJ1c3JfcGF5ZWUiLCJpYXQiOjE3MDAwMDAxMDB9.sRUiBw8BhwiQf-PiQYNgE54VqUcDB9YWOHKYpKmnm8FYPGyN-qElyYFMRM85wCbjTqXQC-INx-NNbvQyFKJ5Aw';
const CODE = 'EWP1:Y7CoVkrMSVeyUnJNcQl2VNJRys5MAfKyDYHMksoCIDM_LS0nMy9VNzEnJ788MS85VTurvESpluFMtVJmcTFQQWo5UCq1BKgBriQebEhiTnk8yJyU1LJMmBiQjSyWnVoJMiEpLNwnPz43LCDHMdXHNdjMO9enwNQxLSOkKDcnyTzCxN8_yNnMwDUnNxCoNb88L7UIqKu0uCi-ILESyAbanJtfmleiZGVkYGCgo5RcWlSUmpcMMjo02AUonZkIlDM0N4ACHaXUCqDXTGB8g1oGh927y9cfldU5Z1Tg3sb4gi1h8amHJ_9wzD-9sPE3q-sXVbbfW4VuXLH2eF5asmP72x2fni2xNPXT39dws0LbLuibpz0DgzZ6SKIGX1l-aXJGahE08OqqcQVWcWoh0Kk6SgVFqWVAYSS_GZuCvZZbmpNYklmWChdA8ysoSFKRgicVzf-GYO9uFFVi52ds55hQ__iRY3OC8DzRle7M7NfELIpmLFm5fPbBCJuc3l8LVU82-rictzyg9thv6QXuR7zHH_vmfTESWVTJDAA';
const PREV_AFTER_V1 = 'NMj-Io77jv3uKZ6XCNtnOSdsxBPjFCAFBkxOgEBuOxA';
const JWKS = { keys: [{ kty: 'OKP', crv: 'Ed25519', kid: 'k1', x: SERVER_X }] };

// The device key of the fixtures: seed bytes 1..32 (what `offline_wallet keygen` keeps, raw).
async function deviceKey() {
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const der = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20, ...seed]);
  return crypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
}

test('base64url is read only in its canonical spelling', () => {
  assert.deepEqual([...unb64url('AQID')], [1, 2, 3]);
  assert.equal(b64url(new Uint8Array([1, 2, 3, 4])), 'AQIDBA');
  assert.deepEqual([...unb64url('AQIDBA')], [1, 2, 3, 4]);
  assert.equal(unb64url('AQIDBB'), null); // leftover bits set: another spelling of the same bytes
  assert.equal(unb64url('AQ=='), null);
  assert.equal(unb64url('A+/'), null);
});

test('the page signs the very voucher the command-line client signs', async () => {
  const chain = { certificate: CERT, seq: 0, prev: '', cumulative: 0 };
  const { voucher, chain: next } = await signVoucher(chain, await deviceKey(), 'usr_payee', 350, 1700000100 * 1000);
  assert.equal(voucher, V1);
  assert.deepEqual(next, { certificate: CERT, seq: 1, prev: PREV_AFTER_V1, cumulative: 350 });
  await assert.rejects(signVoucher(next, await deviceKey(), 'usr_payee', 1651), /over_allowance/);
});

test('payment codes: the server\'s code reads back to its tokens, and the page\'s reads back too', async () => {
  assert.deepEqual(await decodePayment(CODE), { certificate: CERT, vouchers: [V1] });
  const mine = await encodePayment(CERT, [V1]);
  assert.ok(mine.startsWith('EWP1:') && mine.length <= 1200);
  assert.deepEqual(await decodePayment(mine), { certificate: CERT, vouchers: [V1] });
  for (const bad of ['EWP1:', 'EWP2:abc', `${CODE}A`, CODE.slice(0, -10), `EWP1:${'A'.repeat(5000)}`]) {
    await assert.rejects(decodePayment(bad), BadCode, bad.slice(0, 20));
  }
});

test('receive codes: one grammar', () => {
  assert.equal(encodeReceive('usr_1'), 'EWR1:usr_1');
  assert.equal(encodeReceive('usr_1', 350, 'USD'), 'EWR1:usr_1:350:USD');
  assert.deepEqual(decodeReceive('EWR1:usr_1:350:USD'), { payee: 'usr_1', amount: 350, currency: 'USD' });
  for (const bad of ['EWR1:', 'EWR1:a b', 'EWR1:u:0350:USD', 'EWR1:u:350', 'EWR1:u:350:usd', 'EWP1:u']) {
    assert.throws(() => decodeReceive(bad), BadCode, bad);
  }
});

test('the payee\'s offline check: accepted once, a copy is already_seen, someone else\'s is wrong_payee', async () => {
  const keys = await offlineKeys(JWKS);
  const seen = {};
  const ok = await check(CERT, V1, keys, 'usr_payee', seen);
  assert.equal(ok.accepted, true);
  assert.equal(ok.amount, 350);
  assert.deepEqual(seen, { alw_1: { 1: [PREV_AFTER_V1, 350] } });
  assert.equal((await check(CERT, V1, keys, 'usr_payee', seen)).code, 'already_seen');
  assert.equal((await check(CERT, V1, keys, 'usr_other', {})).code, 'wrong_payee');
  assert.equal((await check(CERT, V1, {}, 'usr_payee', {})).code, 'invalid_signature');
  const forged = V1.replace(/.$/, V1.endsWith('w') ? 'g' : 'w');
  assert.equal((await check(CERT, forged, keys, 'usr_payee', {})).code, 'invalid_signature');
  // The next voucher of the chain follows; one that skips its prev is a broken chain.
  const chain = { certificate: CERT, seq: 1, prev: PREV_AFTER_V1, cumulative: 350 };
  const { voucher: v2 } = await signVoucher(chain, await deviceKey(), 'usr_payee', 100);
  assert.equal((await check(CERT, v2, keys, 'usr_payee', seen)).accepted, true);
  const { voucher: bad } = await signVoucher({ ...chain, prev: 'x' }, await deviceKey(), 'usr_payee', 100);
  assert.equal((await check(CERT, bad, keys, 'usr_payee', seen)).code, 'double_spend');
  const { voucher: v3bad } = await signVoucher({ ...chain, seq: 2, prev: 'nope', cumulative: 450 }, await deviceKey(), 'usr_payee', 5);
  assert.equal((await check(CERT, v3bad, keys, 'usr_payee', seen)).code, 'broken_chain');
});
