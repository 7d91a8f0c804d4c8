// The texts of the two QR codes (docs/offline-payments.md, "The codes"; the one definition is
// chalicelib/domain/offline_codes.py, which the server and the command-line client read).
//   receive code   EWR1:<payee user id>[:<amount in minor units>:<currency>]
//   payment code   EWP1:<base64url of raw DEFLATE of the fields>; the fields: each JWS part of
//                  the certificate then of each voucher, decoded, as <2-byte length><bytes>
import { b64url, unb64url } from './b64.js';

export const PAYMENT_PREFIX = 'EWP1:';
export const RECEIVE_PREFIX = 'EWR1:';
export const MAX_PAYMENT_CODE = 4096;
export const MAX_JWS = 4096;
export const MAX_INFLATED = 64 * 1024;
export const MAX_VOUCHERS = 50;
const MAX_AMOUNT = 2 ** 53 - 1;

export class BadCode extends Error {}

export function encodeReceive(payee, amount = null, currency = null) {
  const text = RECEIVE_PREFIX + payee + (amount === null ? '' : `:${amount}:${currency}`);
  const back = decodeReceive(text); // throws BadCode: one grammar, what is written reads back
  if (back.payee !== payee || back.amount !== amount || back.currency !== currency) {
    throw new BadCode('a receive code names a user id, and an amount with its currency or neither');
  }
  return text;
}

export function decodeReceive(text) {
  if (typeof text !== 'string' || !text.startsWith(RECEIVE_PREFIX) || text.length > 200) {
    throw new BadCode(`a receive code starts with ${RECEIVE_PREFIX}`);
  }
  const parts = text.slice(RECEIVE_PREFIX.length).split(':');
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(parts[0])) throw new BadCode('a receive code names a user id');
  if (parts.length === 1) return { payee: parts[0], amount: null, currency: null };
  if (parts.length !== 3 || !/^[1-9][0-9]{0,15}$/.test(parts[1]) || Number(parts[1]) > MAX_AMOUNT
      || !/^[A-Z]{3}$/.test(parts[2])) {
    throw new BadCode("a receive code's amount is minor units and an ISO 4217 currency");
  }
  return { payee: parts[0], amount: Number(parts[1]), currency: parts[2] };
}

async function pipe(bytes, stream) {
  const out = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

export async function encodePayment(certificate, vouchers) {
  if (!vouchers.length || vouchers.length > MAX_VOUCHERS) throw new BadCode('1 to 50 vouchers');
  const fields = [];
  for (const token of [certificate, ...vouchers]) {
    const parts = token.split('.');
    if (parts.length !== 3 || token.length > MAX_JWS) throw new BadCode('not a compact JWS');
    for (const part of parts) {
      const raw = unb64url(part);
      if (raw === null || raw.length > 0xffff) throw new BadCode('not canonical base64url');
      fields.push(new Uint8Array([raw.length >> 8, raw.length & 255]), raw);
    }
  }
  const packed = await pipe(new Blob(fields), new CompressionStream('deflate-raw'));
  return PAYMENT_PREFIX + b64url(packed);
}

async function inflate(packed) {
  const reader = new Blob([packed]).stream().pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  const chunks = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > MAX_INFLATED) { reader.cancel().catch(() => {}); throw new BadCode('a payment code inflates to too much'); }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof BadCode) throw err;
    throw new BadCode('a payment code is one complete raw DEFLATE stream'); // truncated, or more after it
  }
  const raw = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { raw.set(c, at); at += c.length; }
  return raw;
}

// { certificate, vouchers } of a payment code; BadCode for anything else.
export async function decodePayment(text) {
  if (typeof text !== 'string' || !text.startsWith(PAYMENT_PREFIX)) throw new BadCode(`a payment code starts with ${PAYMENT_PREFIX}`);
  if (text.length > MAX_PAYMENT_CODE) throw new BadCode(`a payment code is at most ${MAX_PAYMENT_CODE} characters`);
  const body = text.slice(PAYMENT_PREFIX.length);
  const packed = body ? unb64url(body) : null;
  if (!packed || !packed.length) throw new BadCode('a payment code is base64url after its prefix');
  const raw = await inflate(packed);
  // One complete stream and nothing after it: its last byte holds the end of the final block,
  // so the code without that byte must not inflate (some runtimes ignore bytes after the end).
  let cut = true;
  try { await inflate(packed.subarray(0, packed.length - 1)); cut = false; } catch (err) { cut = true; }
  if (!cut) throw new BadCode("a payment code's DEFLATE data is followed by more");
  const fields = [];
  for (let at = 0; at < raw.length;) {
    if (at + 2 > raw.length) throw new BadCode("a payment code's fields are cut short");
    const size = (raw[at] << 8) | raw[at + 1];
    at += 2;
    if (at + size > raw.length) throw new BadCode("a payment code's fields are cut short");
    fields.push(raw.subarray(at, at + size));
    at += size;
  }
  const count = fields.length / 3;
  if (fields.length % 3 || count < 2 || count > 1 + MAX_VOUCHERS) {
    throw new BadCode(`a payment code holds a certificate and 1 to ${MAX_VOUCHERS} vouchers`);
  }
  const tokens = [];
  for (let i = 0; i < fields.length; i += 3) tokens.push(fields.slice(i, i + 3).map(b64url).join('.'));
  if (tokens.some((t) => t.length > MAX_JWS)) throw new BadCode(`a token is at most ${MAX_JWS} characters`);
  return { certificate: tokens[0], vouchers: tokens.slice(1) };
}
