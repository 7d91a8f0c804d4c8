// What the app keeps on the device, in IndexedDB (never in the service worker's cache, so a new
// version of the app never drops it): the device key (a non-extractable CryptoKey), the chains of
// its allowances, the offline keys JWKS, the vouchers received and not yet redeemed, what the
// payee has seen per allowance, and the wallets as last seen, per user.
const DB = 'ewallet';
const VERSION = 1;
const listeners = new Set();
let opened = null;

function db() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, VERSION);
      req.onupgradeneeded = () => {
        const d = req.result;
        if (!d.objectStoreNames.contains('kv')) d.createObjectStore('kv');
        if (!d.objectStoreNames.contains('vouchers')) {
          d.createObjectStore('vouchers', { keyPath: 'id' }).createIndex('owner', 'owner');
        }
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    opened.catch(() => { opened = null; });
  }
  return opened;
}

function done(req) {
  return new Promise((resolve, reject) => { req.onsuccess = () => resolve(req.result); req.onerror = () => reject(req.error); });
}

async function tx(store, mode, fn) {
  const d = await db();
  const t = d.transaction(store, mode);
  const result = fn(t.objectStore(store));
  await new Promise((resolve, reject) => { t.oncomplete = resolve; t.onerror = () => reject(t.error); t.onabort = () => reject(t.error); });
  return result instanceof IDBRequest ? result.result : result;
}

export function onChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }
function changed() { listeners.forEach((fn) => fn()); }

export const get = (key) => tx('kv', 'readonly', (s) => s.get(key));
export async function put(key, value) { await tx('kv', 'readwrite', (s) => s.put(value, key)); changed(); }

// Vouchers received: { id: allowance_id:seq, owner (the payee: me), certificate, voucher, seq,
// amount, currency, payer, status: 'held' | 'credited' | 'rejected', code, received_at }.
export async function vouchers(owner) {
  const all = await tx('vouchers', 'readonly', (s) => s.index('owner').getAll(owner));
  return all.sort((a, b) => b.received_at - a.received_at);
}

export async function keepVoucher(record) {
  await tx('vouchers', 'readwrite', (s) => s.put(record));
  changed();
}

// Marks vouchers as redeemed or refused: { id: { status, code } }.
export async function settle(outcomes) {
  await tx('vouchers', 'readwrite', (s) => {
    Object.entries(outcomes).forEach(([id, fields]) => {
      const req = s.get(id);
      req.onsuccess = () => { if (req.result) s.put({ ...req.result, ...fields, settled_at: Date.now() }); };
    });
  });
  changed();
}
