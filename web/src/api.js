// The one place that talks to the wallet API, which the page reaches under its own origin
// (config.apiUrl is WEB_URL/api). The access token lives in this module's memory only; the
// refresh token never reaches a script at all: every login, refresh and logout sends
// `X-Refresh-Cookie: 1`, so the API keeps it in an HttpOnly, SameSite=Strict cookie scoped to
// the refresh and logout routes. A reload (or reopening the app) restores the session with
// `restore()`: one refresh, which the browser sends that cookie with. (The device token of
// device.js is kept in localStorage: it is no credential, it only marks a browser that signed
// in before.)
import { deviceTokenFor, keepDeviceToken } from './device.js';

let config = null;
let tokens = null;
let refreshing = null;
let refreshTimer = null;
let expiresAt = 0; // ms since the epoch: when the access token stops working
const listeners = new Set();
const refusals = new Set();

export class ApiError extends Error {
  constructor(status, code, message, details = null, retryAfter = null) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

export function configure(c) { config = c; }
export function settings() { return config; }
export function signedIn() { return tokens !== null; }
export function accessToken() { return tokens ? tokens.access_token : null; }

// Called with true/false whenever the person signs in or out (a failed refresh signs out).
export function onAuthChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

// Called with the ApiError of every refusal that concerns the whole account rather than one
// form (403 `verification_required`: the shell then shows the verify screen).
const ACCOUNT_WIDE = new Set(['verification_required']);
export function onAccountRefusal(fn) { refusals.add(fn); return () => refusals.delete(fn); }

function schedule(seconds) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    // A refresh that failed for a passing reason (offline, 5xx, 429) is tried again later; a
    // refused one (401) has already signed the person out.
    refresh().catch(() => { if (tokens) schedule(30); });
  }, seconds * 1000);
}

function setTokens(next) {
  const was = tokens !== null;
  tokens = next;
  clearTimeout(refreshTimer);
  if (next) {
    // Refresh a little before the access token expires, so a person never sees a 401.
    const life = next.expires_in || 300;
    expiresAt = Date.now() + life * 1000;
    schedule(Math.max(5, Math.floor(life * 0.8)));
  }
  if (was !== (next !== null)) listeners.forEach((fn) => fn(next !== null));
}

// A token good for at least the next half minute (refreshed first if needed), or null.
export async function freshToken() {
  if (tokens && Date.now() > expiresAt - 30000) {
    try { await refresh(); } catch (err) { return accessToken(); }
  }
  return accessToken();
}

// A fresh idempotency key for a money action; keys.js decides when one is reused (only while
// an attempt's outcome is unknown).
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// Asks the API to keep the refresh token in its HttpOnly cookie (chalicelib/api/refresh_cookie.py).
const COOKIE = { 'X-Refresh-Cookie': '1' };

async function raw(method, path, body, headers = {}) {
  const h = { ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(config.apiUrl + path, {
      method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin',
    });
  } catch (err) {
    throw new ApiError(0, 'network', 'The wallet could not be reached.');
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch (err) { data = null; }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || 'unknown', e.message, e.details || null,
      res.headers.get('Retry-After'));
  }
  return data;
}

function authorized(extra = {}) {
  return tokens ? { ...extra, Authorization: `Bearer ${tokens.access_token}` } : extra;
}

// One refresh at a time: the API treats a refresh token presented twice as stolen and ends
// the whole login, so two parallel 401s must share the same refresh.
// The cookie is the browser's, so a login is told apart by a generation number instead.
let generation = 0;

export function refresh() {
  if (!tokens) return Promise.reject(new ApiError(401, 'unauthorized', 'Signed out.'));
  if (!refreshing) {
    const presented = generation;
    // Only a refresh of the login still in use counts: one that ends after a sign-out (or
    // after another login) must neither sign back in nor sign the new login out.
    const current = () => tokens !== null && generation === presented;
    refreshing = raw('POST', '/auth/refresh', undefined, COOKIE)
      .then((t) => { if (current()) setTokens(pairOf(t)); })
      .catch((err) => { if (err.status === 401 && current()) setTokens(null); throw err; })
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

// What is kept of an answer: the access token and its life (a refresh token, if an API ever
// sent one in JSON, is dropped, never kept).
function pairOf(answer) {
  return { access_token: answer.access_token, expires_in: answer.expires_in };
}

// On load: the session this browser still has (its refresh cookie), if any. Resolves true
// (signed in), false (no session: 401), or rejects with the ApiError of a network failure
// (offline: the page then shows what it cached).
export async function restore() {
  if (tokens) return true;
  const started = generation;
  try {
    const answer = await raw('POST', '/auth/refresh', undefined, COOKIE);
    if (generation !== started || tokens) return tokens !== null;
    generation += 1;
    setTokens(pairOf(answer));
    return true;
  } catch (err) {
    if (err.status === 401 || err.status === 400) return false;
    throw err;
  }
}

// An authorized call. `key` sends an Idempotency-Key; a call that failed only because the
// access token expired is sent once more after a refresh, with the same key.
export async function api(method, path, body, options = {}) {
  try {
    return await call(method, path, body, options);
  } catch (err) {
    if (ACCOUNT_WIDE.has(err.code) && tokens) refusals.forEach((fn) => fn(err));
    throw err;
  }
}

async function call(method, path, body, { key } = {}) {
  const extra = key ? { 'Idempotency-Key': key } : {};
  const sentWith = accessToken();
  try {
    return await raw(method, path, body, authorized(extra));
  } catch (err) {
    if (err.status !== 401 || err.code !== 'unauthorized' || !tokens) throw err;
    // Refreshed meanwhile (by a call that failed first)? Then the new token is enough.
    if (accessToken() === sentWith) await refresh();
    return raw(method, path, body, authorized(extra));
  }
}

// The browser's device token for this account goes with every login, and the one the API
// answers with replaces it (device.js).
export async function signIn(email, password) {
  const body = { email, password };
  const device = await deviceTokenFor(email);
  if (device) body.device_token = device;
  const answer = await raw('POST', '/auth/login', body, COOKIE);
  await keepDeviceToken(email, answer.device_token);
  generation += 1;
  setTokens(pairOf(answer));
}

export async function register(fields) {
  return raw('POST', '/auth/register', fields);
}

export async function forgotPassword(email) {
  return raw('POST', '/auth/password/forgot', { email });
}

export async function resetPassword(fields) {
  return raw('POST', '/auth/password/reset', fields);
}

export async function signOut() {
  const old = tokens;
  generation += 1;
  setTokens(null);
  try {
    // The API reads the refresh token from its cookie and clears the cookie.
    await raw('POST', '/auth/logout', undefined,
      old ? { ...COOKIE, Authorization: `Bearer ${old.access_token}` } : COOKIE);
  } catch (err) { /* signed out here either way */ }
}
