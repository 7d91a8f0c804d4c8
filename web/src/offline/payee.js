// The payee's offline check of a voucher: the same rules, in the same order, as
// offline_wallet/payee.py (API.md, "A payee accepts a voucher offline when"), so the page and the
// command-line client give the same verdict. `seen` is, per allowance, seq -> [hash, cumulative]
// of the vouchers accepted before; an accepted voucher is recorded in it.
import { CERTIFICATE_TYP, VOUCHER_TYP, publicKey, read, verifies, voucherHash } from './jws.js';

const MAX_SEQ = 2 ** 53 - 1;
const isInt = (v) => Number.isSafeInteger(v);

// kid -> CryptoKey, from the offline keys JWKS (GET /.well-known/offline-keys.json).
export async function offlineKeys(jwks) {
  const found = {};
  for (const jwk of (jwks && Array.isArray(jwks.keys) ? jwks.keys : [])) {
    if (jwk && jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && typeof jwk.kid === 'string') {
      const key = await publicKey(jwk.x);
      if (key) found[jwk.kid] = key;
    }
  }
  return found;
}

async function signed(certificate, voucher, keys) {
  const cert = read(certificate);
  const v = read(voucher);
  if (!cert || !v) return null;
  const serverKey = Object.prototype.hasOwnProperty.call(keys, String(cert.header.kid)) ? keys[String(cert.header.kid)] : null;
  if (!serverKey || cert.header.typ !== CERTIFICATE_TYP || !(await verifies(cert, serverKey))) return null;
  if (v.header.typ !== VOUCHER_TYP) return null;
  const deviceKey = await publicKey(cert.payload.device_key);
  if (!deviceKey || !(await verifies(v, deviceKey))) return null;
  return [cert.payload, v.payload];
}

function terms(a, p, me) {
  if (p.allowance_id !== a.allowance_id) return 'invalid_voucher';
  if (p.currency !== a.currency) return 'currency_mismatch';
  if (p.cumulative > a.amount) return 'over_allowance';
  if (p.iat > a.exp) return 'expired';
  if (p.payee !== me) return 'wrong_payee';
  return null;
}

function chain(mine, p, digest) {
  const { seq, amount, cumulative } = p;
  if (mine[seq]) return mine[seq][0] === digest ? 'already_seen' : 'double_spend';
  const before = mine[seq - 1];
  const after = mine[seq + 1];
  if (seq === 1 && (p.prev !== '' || cumulative !== amount)) return 'broken_chain';
  if (before && (p.prev !== before[0] || cumulative !== before[1] + amount)) return 'broken_chain';
  if (after && cumulative >= after[1]) return 'broken_chain';
  mine[seq] = [digest, cumulative];
  return null;
}

// { accepted, code, seq, amount, currency, allowance_id, payer } for one voucher.
export async function check(certificate, voucher, keys, me, seen) {
  const both = await signed(certificate, voucher, keys);
  if (!both) return { accepted: false, code: 'invalid_signature', seq: null, amount: null };
  const [a, p] = both;
  const fields = [p.seq, p.amount, p.cumulative, p.iat, a.amount, a.exp];
  if (!fields.every(isInt) || p.seq < 1 || p.seq > MAX_SEQ || p.amount <= 0 || p.cumulative < p.amount) {
    return { accepted: false, code: 'invalid_voucher', seq: null, amount: null };
  }
  const id = String(a.allowance_id);
  const code = terms(a, p, me) || chain(seen[id] || (seen[id] = {}), p, await voucherHash(voucher));
  return { accepted: code === null, code, seq: p.seq, amount: p.amount, currency: p.currency,
    allowance_id: id, payer: a.owner, exp: a.exp };
}
