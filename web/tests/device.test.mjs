import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_ACCOUNTS, STORAGE_KEY, accountKey, deviceTokenFor, keepDeviceToken } from '../src/device.js';

function memoryStorage() {
  const items = new Map();
  return {
    items,
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    setItem: (k, v) => { items.set(k, String(v)); },
  };
}

test('the device token is kept per account, under one key, naming no e-mail', async () => {
  const store = memoryStorage();
  assert.equal(await deviceTokenFor('ana@example.com', store), undefined);
  await keepDeviceToken('Ana@Example.com', 'dt1.a', store);
  await keepDeviceToken('ben@example.com', 'dt1.b', store);
  assert.equal(await deviceTokenFor(' ana@example.COM ', store), 'dt1.a');
  assert.equal(await deviceTokenFor('ben@example.com', store), 'dt1.b');
  assert.deepEqual([...store.items.keys()], [STORAGE_KEY]);
  assert.doesNotMatch(store.getItem(STORAGE_KEY), /example/);
  assert.match(await accountKey('ana@example.com'), /^[0-9a-f]{64}$/);
  // A new login's token replaces the old one.
  await keepDeviceToken('ana@example.com', 'dt1.a2', store);
  assert.equal(await deviceTokenFor('ana@example.com', store), 'dt1.a2');
});

test('only the most recent accounts are kept, and bad storage is survived', async () => {
  const store = memoryStorage();
  for (let i = 0; i <= MAX_ACCOUNTS; i += 1) await keepDeviceToken(`p${i}@example.com`, `t${i}`, store, 1000 + i);
  assert.equal(Object.keys(JSON.parse(store.getItem(STORAGE_KEY))).length, MAX_ACCOUNTS);
  assert.equal(await deviceTokenFor('p0@example.com', store), undefined);
  assert.equal(await deviceTokenFor(`p${MAX_ACCOUNTS}@example.com`, store), `t${MAX_ACCOUNTS}`);
  store.setItem(STORAGE_KEY, 'not json');
  assert.equal(await deviceTokenFor('p1@example.com', store), undefined);
  await keepDeviceToken('p1@example.com', 't1', store);
  assert.equal(await deviceTokenFor('p1@example.com', store), 't1');
  const full = { getItem: () => null, setItem: () => { throw new Error('QuotaExceededError'); } };
  await keepDeviceToken('x@example.com', 'tx', full); // no throw
  assert.equal(await deviceTokenFor('x@example.com', null), undefined);
  await keepDeviceToken('x@example.com', undefined, store); // an answer without a token keeps what was there
});
