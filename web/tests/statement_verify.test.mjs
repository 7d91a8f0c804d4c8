// node --test web/tests (run by tests/unit/test_web_modules.py)
// A statement built here the way the service builds one (docs/statements.md: the canonical
// encoding, the chain, the Merkle tree, the checkpoint's compact JWS signed with Ed25519 by
// node's WebCrypto), checked by web/src/statement_verify.js; and, where the repository's venv is
// there, the same files checked by the Python reference (python -m statement_verify): both agree.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  canonical, entryHash, GENESIS, merkleRoot, NotVerified, toHex, verifyStatement,
} from '../src/statement_verify.js';

const { subtle } = globalThis.crypto;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const sha = async (bytes) => new Uint8Array(await subtle.digest('SHA-256', bytes));
const cat = (...parts) => Buffer.concat(parts.map((p) => Buffer.from(p)));

// The tree of docs/statements.md: leaves over heads sorted by chain id, pairs from the left, an
// odd last node carried up; each leaf's path of {side, hash}.
async function tree(heads) {
  const sorted = [...heads].sort((a, b) => (a.chain < b.chain ? -1 : 1));
  let level = await Promise.all(sorted.map(async (h) => ({
    digest: await sha(cat([0], canonical({ chain: h.chain, hash: h.hash, seq: h.seq }))), members: [h.chain],
  })));
  const paths = Object.fromEntries(sorted.map((h) => [h.chain, []]));
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) {
      const [l, r] = [level[i], level[i + 1]];
      if (!r) { next.push(l); continue; }
      l.members.forEach((c) => paths[c].push({ side: 'right', hash: toHex(r.digest) }));
      r.members.forEach((c) => paths[c].push({ side: 'left', hash: toHex(l.digest) }));
      next.push({ digest: await sha(cat([1], l.digest, r.digest)), members: [...l.members, ...r.members] });
    }
    level = next;
  }
  return { root: toHex(level[0].digest), paths };
}

async function ledger() {
  const pair = await subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const jwk = await subtle.exportKey('jwk', pair.publicKey);
  const kid = 'ledger-1';
  return {
    keys: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: 'EdDSA', use: 'sig' }] },
    async sign(payload) {
      const head = b64url(JSON.stringify({ alg: 'EdDSA', typ: 'ledger-checkpoint+jws', kid }));
      const body = b64url(JSON.stringify(payload));
      const sig = await subtle.sign({ name: 'Ed25519' }, pair.privateKey, Buffer.from(`${head}.${body}`));
      return `${head}.${body}.${b64url(new Uint8Array(sig))}`;
    },
  };
}

// wal_1's chain has four links (the statement shows 1-3, the 4th is after it: the proof's
// tail) and a credit shard with one; two other wallets' chains make the tree deeper.
async function statement() {
  const wallet = 'wal_1';
  const links = {};
  const add = async (chain, n, direction, amount) => {
    const list = links[chain] || (links[chain] = []);
    const prev = list.length ? list[list.length - 1].hash : GENESIS;
    const link = { seq: list.length + 1, chain, posted_at: `2025-01-${String(n).padStart(2, '0')}T00:00:00.000Z`,
      transfer_id: `tr_${n}`, type: 'transfer', direction, amount, prev_hash: prev };
    link.hash = await entryHash(prev, wallet, 'USD', link);
    list.push(link);
    return link;
  };
  const items = [await add('wal_1', 1, 'credit', 1000), await add('wal_1', 2, 'debit', 250),
    await add('wal_1#credit0', 3, 'credit', 7), await add('wal_1', 4, 'credit', 1)];
  const tail = [await add('wal_1', 40, 'debit', 5)]; // posted after the statement's period
  let balance = 500;
  for (const item of items) {
    balance += item.direction === 'credit' ? item.amount : -item.amount;
    item.balance_after = balance;
  }
  const heads = Object.entries(links).map(([chain, list]) => ({ chain, seq: list.length, hash: list[list.length - 1].hash }));
  heads.push({ chain: 'wal_2', seq: 9, hash: 'ab'.repeat(32) }, { chain: 'wal_3', seq: 1, hash: 'cd'.repeat(32) });
  const { root, paths } = await tree(heads);
  const l = await ledger();
  const checkpoint = { checkpoint_id: 'cp_1', at: '2025-02-01T00:15:00.000Z', root };
  checkpoint.jws = await l.sign({ checkpoint_id: checkpoint.checkpoint_id, at: checkpoint.at, root });
  const chainProof = (chain, after) => ({ chain, head: heads.find((h) => h.chain === chain), path: paths[chain],
    tail: after.map(({ balance_after: _, ...rest }) => rest) });
  return {
    keys: l.keys,
    statement: {
      wallet_id: wallet, currency: 'USD', period: { from: '2025-01-01T00:00:00.000Z', to: '2025-01-31T23:59:59.999Z' },
      opening_balance: 500, closing_balance: balance, items,
      proof: { checkpoint, chains: [chainProof('wal_1', tail), chainProof('wal_1#credit0', [])] },
    },
  };
}

const copy = (v) => JSON.parse(JSON.stringify(v));

async function refusal(s, keys) {
  try {
    await verifyStatement(s, keys);
  } catch (err) {
    assert.ok(err instanceof NotVerified, err);
    return err;
  }
  assert.fail('the statement verified');
  return null;
}

test('the canonical encoding and the hash pinned in docs/statements.md', async () => {
  assert.equal(canonical({ b: 1, a: 'é' }), '{"a":"\\u00e9","b":1}');
  assert.equal(canonical({ s: 'a\u007f😀"\n' }), '{"s":"a\\u007f\\ud83d\\ude00\\"\\n"}');
  const fields = { amount: 1250, chain: 'wal_1', direction: 'credit', posted_at: '2025-01-02T03:04:05.678Z', seq: 1,
    transfer_id: 'tr_1', type: 'topup' };
  const text = '{"amount":1250,"chain":"wal_1","currency":"USD","direction":"credit","posted_at":'
    + '"2025-01-02T03:04:05.678Z","seq":1,"transfer_id":"tr_1","type":"topup","wallet_id":"wal_1"}';
  const expected = toHex(await sha(Buffer.from(GENESIS + text)));
  assert.equal(await entryHash(GENESIS, 'wal_1', 'USD', fields), expected);
});

test('a single chain is its own root', async () => {
  const head = { seq: 3, hash: 'ab'.repeat(32) };
  const leaf = toHex(await sha(cat([0], canonical({ chain: 'c', hash: head.hash, seq: 3 }))));
  assert.equal(await merkleRoot('c', head, []), leaf);
});

test('a good statement verifies against its checkpoint', async () => {
  const { statement: s, keys } = await statement();
  assert.deepEqual(await verifyStatement(s, keys), { checkpoint_id: 'cp_1', at: '2025-02-01T00:15:00.000Z', entries: 4 });
  assert.deepEqual(await verifyStatement(s, keys, { checkpoint_id: 'cp_1', root: s.proof.checkpoint.root }),
    { checkpoint_id: 'cp_1', at: '2025-02-01T00:15:00.000Z', entries: 4 });
});

test('each kind of tampering is named', async () => {
  const { statement: good, keys } = await statement();
  const cases = [
    [(s) => { s.items[1].amount = 200; s.items.slice(1).forEach((i) => { i.balance_after += 50; }); s.closing_balance += 50; },
      /entry seq 2 \(tr_2\) was changed/],
    [(s) => { s.items[0].balance_after += 1; }, /balance after tr_1/],
    [(s) => { s.closing_balance += 1; }, /not the closing balance/],
    [(s) => { s.items.splice(1, 1); s.items.forEach((i) => { i.balance_after = 0; }); s.opening_balance = 0;
      let b = 0; s.items.forEach((i) => { b += i.direction === 'credit' ? i.amount : -i.amount; i.balance_after = b; });
      s.closing_balance = b; }, /seq 3 follows seq 1/],
    [(s) => { s.proof.chains[0].tail[0].amount = 6; }, /after the statement: entry seq 4 .* was changed/],
    [(s) => { s.proof.chains[0].path[0].hash = '00'.repeat(32); }, /Merkle path fails/],
    [(s) => { s.proof.chains.pop(); }, /does not cover chain wal_1#credit0/],
    [(s) => { s.proof.checkpoint.root = 'ee'.repeat(32); }, /signed checkpoint's root is not the one shown/],
    // A character inside the signature: the last one carries padding bits a flip may not change.
    [(s) => { const [h, p, sig] = s.proof.checkpoint.jws.split('.');
      s.proof.checkpoint.jws = [h, p, (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1)].join('.'); },
      /signature does not verify/],
    [(s) => { s.proof.checkpoint.jws = 'nonsense'; }, /malformed/],
  ];
  for (const [edit, reason] of cases) {
    const s = copy(good);
    edit(s);
    const err = await refusal(s, keys);
    assert.match(err.message, reason);
    assert.equal(err.pending, false);
  }
  const other = await ledger(); // signed, but not by the ledger's published key
  assert.match((await refusal(copy(good), { keys: other.keys.keys.map((k) => ({ ...k, kid: 'other' })) })).message,
    /no Ed25519 key ledger-1/);
  assert.match((await refusal(copy(good), other.keys)).message, /signature does not verify/);
  await assert.rejects(verifyStatement(copy(good), keys, { checkpoint_id: 'cp_0', root: 'x' }), /not the saved cp_0/);
});

test('not proven yet is said plainly, and is not a failure', async () => {
  const { statement: good, keys } = await statement();
  const unproven = { ...copy(good), proof: null };
  const err = await refusal(unproven, keys);
  assert.equal(err.pending, true);
  assert.match(err.message, /no checkpoint covers/);
  const unchained = copy(good);
  Object.assign(unchained.items[3], { seq: null, hash: null, prev_hash: null });
  assert.equal((await refusal(unchained, keys)).pending, true);
});

test('the Python reference verifier agrees (python -m statement_verify)', async (t) => {
  const python = join(ROOT, '.venv', 'bin', 'python');
  if (!existsSync(python)) { t.skip('no .venv'); return; }
  const { statement: good, keys } = await statement();
  const dir = mkdtempSync(join(tmpdir(), 'statement-'));
  writeFileSync(join(dir, 'keys.json'), JSON.stringify(keys));
  const check = (s) => {
    writeFileSync(join(dir, 's.json'), JSON.stringify(s));
    return spawnSync(python, ['-m', 'statement_verify', join(dir, 's.json'), '--keys', join(dir, 'keys.json')],
      { cwd: ROOT, encoding: 'utf8' });
  };
  const ok = check(good);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^OK: 4 entries of wal_1/);
  const bad = copy(good);
  bad.proof.chains[0].tail[0].amount = 6;
  const refused = check(bad);
  assert.equal(refused.status, 1);
  assert.match(refused.stdout, /NOT VERIFIED: chain wal_1 after the statement: entry seq 4/);
  assert.match((await refusal(bad, keys)).message, /chain wal_1 after the statement: entry seq 4/);
});
