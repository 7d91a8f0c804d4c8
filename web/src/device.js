// The device token: the one thing the wallet keeps in the browser's storage.
//
// POST /auth/login answers with a `device_token` that marks this browser as one that has signed
// in to that account before; sent on the next login, it keeps the browser out of the lockout
// that strangers' wrong guesses set off for everyone else (API.md, "Identity"). It is not a
// credential: it cannot sign anyone in or call the API, so unlike the access and refresh tokens
// (memory only, api.js) it may outlive the page, in localStorage under one key.
//
// A token is bound to one account, and a browser may be shared. So the key holds a small map
// from a digest of the e-mail (not the e-mail itself) to that account's token, the most recent
// few only.

export const STORAGE_KEY = 'ewallet.device_tokens';
export const MAX_ACCOUNTS = 5;

function storage() {
  try { return globalThis.localStorage || null; } catch (err) { return null; } // storage may be blocked
}

function readAll(store) {
  try {
    const map = JSON.parse(store.getItem(STORAGE_KEY) || '{}');
    return map && typeof map === 'object' && !Array.isArray(map) ? map : {};
  } catch (err) {
    return {};
  }
}

// Who the token is for: a SHA-256 of the lower-cased e-mail (the API matches e-mails without
// regard to case), so the storage names no address.
export async function accountKey(email) {
  const bytes = new TextEncoder().encode(String(email || '').trim().toLowerCase());
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

// Neither ever throws: without storage (blocked) or WebCrypto (a page not served over HTTPS),
// a login is simply an unknown browser's.
export async function deviceTokenFor(email, store = storage()) {
  try {
    if (!store) return undefined;
    const entry = readAll(store)[await accountKey(email)];
    return entry && typeof entry.token === 'string' ? entry.token : undefined;
  } catch (err) {
    return undefined;
  }
}

export async function keepDeviceToken(email, token, store = storage(), now = Date.now()) {
  try {
    if (!store || typeof token !== 'string' || !token) return;
    const map = readAll(store);
    map[await accountKey(email)] = { token, at: now };
    const newest = Object.entries(map).sort(([, x], [, y]) => (y.at || 0) - (x.at || 0)).slice(0, MAX_ACCOUNTS);
    store.setItem(STORAGE_KEY, JSON.stringify(Object.fromEntries(newest)));
  } catch (err) { /* full or blocked */ }
}
