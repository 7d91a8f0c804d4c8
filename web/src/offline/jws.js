// Compact JWS with Ed25519 (alg EdDSA), as offline_wallet/jws.py writes and reads them: the
// header and payload are JSON with no spaces (Python's separators=(",", ":") and JavaScript's
// JSON.stringify write the same bytes for these ASCII objects of strings and integers).
import { b64url, fromUtf8, unb64url, utf8 } from './b64.js';

export const VOUCHER_TYP = 'offline-voucher+jwt';
export const CERTIFICATE_TYP = 'offline-allowance+jwt';

export async function sign(header, payload, privateKey) {
  const input = `${b64url(utf8(JSON.stringify(header)))}.${b64url(utf8(JSON.stringify(payload)))}`;
  const signature = await crypto.subtle.sign({ name: 'Ed25519' }, privateKey, utf8(input));
  return `${input}.${b64url(new Uint8Array(signature))}`;
}

// { header, payload, input, signature } of a compact JWS, or null if it is not one we can read.
export function read(compact) {
  if (typeof compact !== 'string' || compact.length > 8192) return null;
  const parts = compact.split('.');
  if (parts.length !== 3) return null;
  const raw = parts.map(unb64url);
  if (raw.some((r) => r === null)) return null;
  let header;
  let payload;
  try {
    header = JSON.parse(fromUtf8(raw[0]));
    payload = JSON.parse(fromUtf8(raw[1]));
  } catch (err) { return null; }
  const isObject = (o) => o !== null && typeof o === 'object' && !Array.isArray(o);
  if (!isObject(header) || !isObject(payload)) return null;
  return { header, payload, input: utf8(`${parts[0]}.${parts[1]}`), signature: raw[2] };
}

export async function publicKey(text) {
  const raw = unb64url(String(text));
  if (!raw || raw.length !== 32) return null;
  try {
    return await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
  } catch (err) { return null; }
}

export async function verifies(token, key) {
  if (!token || !key || token.header.alg !== 'EdDSA') return false;
  try {
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, token.signature, token.input);
  } catch (err) { return false; }
}

// What the next voucher's `prev` names: base64url SHA-256 of the compact form.
export async function voucherHash(compact) {
  return b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8(compact))));
}
