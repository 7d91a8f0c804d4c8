// The paying device: signs a voucher that keeps its allowance's chain (seq, prev, cumulative),
// as offline_wallet/payer.py does; the chain is { certificate, seq, prev, cumulative }.
import { VOUCHER_TYP, read, sign, voucherHash } from './jws.js';

export class CannotPay extends Error {}

export function allowanceOf(certificate) {
  const token = read(certificate);
  if (!token) throw new CannotPay('not a certificate');
  return token.payload;
}

export function remaining(chain) {
  return Number(allowanceOf(chain.certificate).amount) - chain.cumulative;
}

// The voucher and the chain after it (the caller keeps the new chain BEFORE showing the voucher:
// a seq is never signed twice).
export async function signVoucher(chain, privateKey, payee, amount, now = Date.now()) {
  const allowance = allowanceOf(chain.certificate);
  const iat = Math.floor(now / 1000);
  if (!Number.isSafeInteger(amount) || amount <= 0) throw new CannotPay('the amount must be more than zero');
  if (amount > remaining(chain)) throw new CannotPay('over_allowance');
  if (iat > Number(allowance.exp)) throw new CannotPay('expired');
  if (typeof payee !== 'string' || !payee) throw new CannotPay('the payee is a user id');
  const payload = { allowance_id: allowance.allowance_id, seq: chain.seq + 1, prev: chain.prev, amount,
    cumulative: chain.cumulative + amount, currency: allowance.currency, payee, iat };
  const voucher = await sign({ alg: 'EdDSA', typ: VOUCHER_TYP }, payload, privateKey);
  const next = { ...chain, seq: payload.seq, prev: await voucherHash(voucher), cumulative: payload.cumulative };
  return { voucher, chain: next };
}
