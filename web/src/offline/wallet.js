// The offline wallet of the signed-in (or last signed-in) person: their device key and
// allowances as a payer, the vouchers they received as a payee, and what the app shows when it
// opens with no network. Everything lives in IndexedDB (store.js), per user.
import { api, signedIn } from '../api.js';
import { BadCode, decodePayment, decodeReceive, encodePayment, encodeReceive } from './codes.js';
import { b64url } from './b64.js';
import { check, offlineKeys } from './payee.js';
import { CannotPay, allowanceOf, remaining, signVoucher } from './payer.js';
import * as store from './store.js';

export { BadCode, CannotPay, encodeReceive, decodeReceive };
export const JWKS_PATH = '/.well-known/offline-keys.json';

// The person last seen signed in: who the app is for when it opens offline.
export const lastUser = () => store.get('me');
export const rememberMe = (me) => store.put('me', { user_id: me.user_id, first_name: me.first_name,
  mfa_enabled: me.mfa_enabled, email_verified: me.email_verified, phone_verified: me.phone_verified, at: Date.now() });

// Signing out here: the app no longer opens offline for this person (what they hold stays,
// redeemed once they sign in again).
export const forgetMe = () => store.put('me', null);

export const cachedWallets = (userId) => store.get(`wallets:${userId}`);
export const cacheWallets = (userId, answer) => store.put(`wallets:${userId}`, { ...answer, seen_at: Date.now() });
// A wallet's recent transactions as last seen (the first page Home shows), for Home with no network.
export const cachedTransactions = (userId, walletId) => store.get(`transactions:${userId}:${walletId}`);
export const cacheTransactions = (userId, walletId, answer) =>
  store.put(`transactions:${userId}:${walletId}`, { items: answer.items, seen_at: Date.now() });

export const device = (userId) => store.get(`device:${userId}`);
export const jwks = () => store.get('jwks');

// The chains of this device's allowances: allowance_id -> { certificate, seq, prev, cumulative }.
export async function chains(userId) { return (await store.get(`chains:${userId}`)) || {}; }

// Online: the offline keys, kept for checks with no network.
export async function refreshKeys() {
  const keys = await api('GET', JWKS_PATH);
  await store.put('jwks', keys);
  return keys;
}

// Makes the device key here (Ed25519, non-extractable: no script can read the private half) and
// registers its public half (step-up: `proof` is { password } or { otp }).
export async function registerDevice(userId, proof, name) {
  const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  const publicKey = b64url(new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey)));
  const answer = await api('POST', '/offline/devices', { public_key: publicKey, name, ...proof });
  const record = { device_id: answer.device_id, name: answer.name, public_key: publicKey, privateKey: pair.privateKey,
    status: answer.status, created_at: answer.created_at };
  await store.put(`device:${userId}`, record);
  return record;
}

async function addChain(userId, certificate) {
  const all = await chains(userId);
  const a = allowanceOf(certificate);
  if (!all[a.allowance_id]) {
    all[a.allowance_id] = { certificate, seq: 0, prev: '', cumulative: 0 };
    await store.put(`chains:${userId}`, all);
  }
}

export async function takeAllowance(userId, body, key) {
  const allowance = await api('POST', '/offline/allowances', body, { key });
  await addChain(userId, allowance.certificate);
  return allowance;
}

// Online: this device's allowances as the server sees them (spent, remaining, status), and the
// device's own status (revoked, frozen).
export async function syncAllowances(userId) {
  const mine = await device(userId);
  if (!mine) return [];
  const [list, devices] = await Promise.all([api('GET', '/offline/allowances?limit=100'), api('GET', '/offline/devices')]);
  const found = devices.items.find((d) => d.device_id === mine.device_id);
  if (found && found.status !== mine.status) await store.put(`device:${userId}`, { ...mine, status: found.status });
  const ours = list.items.filter((a) => a.device_id === mine.device_id);
  for (const a of ours) if (a.status === 'active') await addChain(userId, a.certificate);
  await store.put(`allowances:${userId}`, ours);
  return ours;
}

export const serverAllowances = async (userId) => (await store.get(`allowances:${userId}`)) || [];

// What this device can still pay, per allowance (by its own chain: offline, the server's
// `spent` is unknown, and the chain is what bounds the next voucher).
export async function spendable(userId, now = Date.now()) {
  const all = await chains(userId);
  return Object.entries(all).map(([id, chain]) => {
    const a = allowanceOf(chain.certificate);
    return { allowance_id: id, currency: a.currency, amount: a.amount, remaining: remaining(chain), exp: a.exp,
      usable: a.exp * 1000 > now && remaining(chain) > 0 };
  });
}

// Pays `amount` to the payee of a receive code: signs the next voucher of an allowance of the
// right currency, keeps the moved chain, then answers { code, voucher, payee, amount, currency }.
export async function pay(userId, receiveText, amount, allowanceId = null) {
  const asked = decodeReceive(receiveText);
  if (asked.amount !== null && amount !== asked.amount) throw new CannotPay('the amount is the one the receive code asks');
  const mine = await device(userId);
  if (!mine) throw new CannotPay('register this device first');
  const all = await chains(userId);
  const options = (await spendable(userId)).filter((s) => s.usable && s.remaining >= amount
    && (asked.currency === null || s.currency === asked.currency) && (!allowanceId || s.allowance_id === allowanceId));
  if (!options.length) throw new CannotPay(asked.currency ? `no allowance holds that much in ${asked.currency}` : 'no allowance holds that much');
  const id = options[0].allowance_id;
  const { voucher, chain } = await signVoucher(all[id], mine.privateKey, asked.payee, amount);
  all[id] = chain;
  await store.put(`chains:${userId}`, all); // kept before it is shown: a seq is never signed twice
  const code = await encodePayment(chain.certificate, [voucher]);
  return { code, voucher, payee: asked.payee, amount, currency: options[0].currency, allowance_id: id };
}

// The payee's side: reads a payment code and checks each voucher offline; accepted ones are kept
// (not yet redeemed). Answers the verdicts; a code that cannot be read throws BadCode.
export async function receive(userId, text) {
  const { certificate, vouchers } = await decodePayment(text.trim());
  const keys = await offlineKeys(await jwks());
  const seen = (await store.get(`seen:${userId}`)) || {};
  const verdicts = [];
  for (const voucher of vouchers) {
    const verdict = await check(certificate, voucher, keys, userId, seen);
    verdicts.push(verdict);
    if (verdict.accepted) {
      await store.keepVoucher({ id: `${verdict.allowance_id}:${verdict.seq}`, owner: userId, certificate, voucher,
        seq: verdict.seq, amount: verdict.amount, currency: verdict.currency, payer: verdict.payer,
        status: 'held', code: null, received_at: Date.now() });
    }
  }
  if (verdicts.some((v) => v.accepted)) await store.put(`seen:${userId}`, seen);
  return verdicts;
}

export const received = (userId) => store.vouchers(userId);

async function idempotencyKey(body) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(body)));
  return `redeem-${b64url(new Uint8Array(digest))}`;
}

// Online and signed in: redeems every voucher held, one call per allowance (the same content,
// the same Idempotency-Key: a retry after a lost answer replays it). Answers how many settled.
let redeeming = null;
export function redeemHeld(userId) {
  if (!redeeming) {
    redeeming = (async () => {
      if (!signedIn()) return 0;
      const held = (await store.vouchers(userId)).filter((v) => v.status === 'held');
      const groups = new Map();
      held.forEach((v) => {
        const id = v.id.slice(0, v.id.lastIndexOf(':'));
        if (!groups.has(id)) groups.set(id, []);
        groups.get(id).push(v);
      });
      let count = 0;
      for (const list of groups.values()) {
        list.sort((x, y) => x.seq - y.seq);
        const body = { certificate: list[0].certificate, vouchers: list.map((v) => v.voucher) };
        const answer = await api('POST', '/offline/redeem', body, { key: await idempotencyKey(body) });
        const outcomes = {};
        answer.results.forEach((r, i) => {
          const v = list[i];
          if (!v) return;
          outcomes[v.id] = r.status === 'rejected' ? { status: 'rejected', code: r.code || 'rejected' }
            : { status: 'credited', code: null, transfer_id: r.transfer_id || null };
        });
        await store.settle(outcomes);
        count += Object.keys(outcomes).length;
      }
      return count;
    })().finally(() => { redeeming = null; });
  }
  return redeeming;
}

export const onChange = store.onChange;
