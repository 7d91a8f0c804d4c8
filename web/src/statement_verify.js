// Checks a wallet statement in the browser, the way statement_verify/ (Python) does with no
// server of ours (docs/statements.md): the figures add up; each chain's items follow one another
// (seq one apart, prev_hash, hash = SHA-256(prev_hash || canonical JSON of the entry)); the
// proof's tail carries each chain to its head at the checkpoint, whose leaf, folded up the
// Merkle path, gives the checkpoint's root; the checkpoint is a compact JWS (EdDSA, Ed25519)
// by a key of the ledger's JWKS, over exactly its id, time and root. Pure: WebCrypto only
// (globalThis.crypto.subtle, in browsers and in node), no API call, no DOM.

export const GENESIS = '0'.repeat(64);

// Why a statement does not verify. `pending` is true when nothing is wrong yet, only not proven
// yet: entries not chained (seconds after posting) or no checkpoint covering the last one.
export class NotVerified extends Error {
  constructor(message, pending = false) {
    super(message);
    this.name = 'NotVerified';
    this.pending = pending;
  }
}

const subtle = () => globalThis.crypto.subtle;
const ascii = (text) => new TextEncoder().encode(text); // callers pass ASCII only

// Python's json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True): keys
// sorted, no whitespace, every character outside printable ASCII as a lower-case \uXXXX escape
// (a character past U+FFFF as its two surrogates, as Python writes it).
export function canonical(value) {
  const sorted = (v) => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]));
    }
    return v;
  };
  return JSON.stringify(sorted(value))
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function toHex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function fromHex(hex) {
  if (typeof hex !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(hex)) throw new NotVerified(`not a hex digest: ${hex}`);
  return Uint8Array.from(hex.match(/../g) || [], (h) => parseInt(h, 16));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await subtle().digest('SHA-256', bytes));
}

export async function entryHash(prevHash, walletId, currency, item) {
  const fields = {
    amount: item.amount, chain: item.chain, currency, direction: item.direction, posted_at: item.posted_at,
    seq: item.seq, transfer_id: item.transfer_id, type: item.type, wallet_id: walletId,
  };
  return toHex(await sha256(concat(ascii(prevHash), ascii(canonical(fields)))));
}

// leaf = SHA-256(0x00 || canonical {chain, hash, seq}); node = SHA-256(0x01 || left || right).
export async function merkleRoot(chain, head, path) {
  let node = await sha256(concat(Uint8Array.of(0), ascii(canonical({ chain, hash: head.hash, seq: head.seq }))));
  for (const step of path) {
    const other = fromHex(step.hash);
    node = await sha256(step.side === 'left' ? concat(Uint8Array.of(1), other, node) : concat(Uint8Array.of(1), node, other));
  }
  return toHex(node);
}

export function b64urlDecode(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// The checkpoint's JWS: EdDSA, by a key of `keys` (the JWKS of /.well-known/ledger-keys.json),
// over exactly the checkpoint_id, at and root shown.
export async function checkSignature(checkpoint, keys) {
  let head64; let payload64; let sig64; let header; let payload;
  try {
    const parts = String(checkpoint.jws).split('.');
    if (parts.length !== 3) throw new Error('not three parts');
    [head64, payload64, sig64] = parts;
    const text = (b) => new TextDecoder('utf-8', { fatal: true }).decode(b64urlDecode(b));
    header = JSON.parse(text(head64));
    payload = JSON.parse(text(payload64));
  } catch (err) {
    throw new NotVerified(`the checkpoint's JWS is malformed (${err.message})`);
  }
  if (header.alg !== 'EdDSA') throw new NotVerified(`the checkpoint is signed with ${header.alg}, not EdDSA`);
  const jwk = ((keys && keys.keys) || []).find((k) => k.kid === header.kid);
  if (!jwk || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') {
    throw new NotVerified(`no Ed25519 key ${header.kid} in the ledger keys`);
  }
  let good = false;
  try {
    const key = await subtle().importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, { name: 'Ed25519' },
      false, ['verify']);
    good = await subtle().verify({ name: 'Ed25519' }, key, b64urlDecode(sig64), ascii(`${head64}.${payload64}`));
  } catch (err) {
    good = false;
  }
  if (!good) throw new NotVerified("the checkpoint's signature does not verify");
  for (const name of ['checkpoint_id', 'at', 'root']) {
    if (payload[name] !== checkpoint[name]) throw new NotVerified(`the signed checkpoint's ${name} is not the one shown`);
  }
}

// Walks links of one chain; returns [seq, hash] of the last.
async function follow(links, after, walletId, currency, what) {
  let [seq, prev] = after || [links[0].seq - 1, links[0].prev_hash];
  if (!after && seq === 0 && prev !== GENESIS) throw new NotVerified(`${what}: the chain's first entry must follow 64 zeros`);
  for (const link of links) {
    if (link.seq !== seq + 1) throw new NotVerified(`${what}: seq ${link.seq} follows seq ${seq} (an entry inserted or removed)`);
    if (link.prev_hash !== prev) throw new NotVerified(`${what}: entry seq ${link.seq} does not follow the previous entry's hash`);
    if (await entryHash(prev, walletId, currency, link) !== link.hash) {
      throw new NotVerified(`${what}: entry seq ${link.seq} (${link.transfer_id}) was changed: its hash differs`);
    }
    [seq, prev] = [link.seq, link.hash];
  }
  return [seq, prev];
}

export function checkFigures(statement) {
  let balance = statement.opening_balance;
  for (const item of statement.items) {
    balance += item.direction === 'credit' ? item.amount : -item.amount;
    if (item.balance_after !== balance) {
      throw new NotVerified(`the balance after ${item.transfer_id} is ${item.balance_after}, not ${balance}`);
    }
  }
  if (balance !== statement.closing_balance) {
    throw new NotVerified(`opening + credits - debits = ${balance}, not the closing balance ${statement.closing_balance}`);
  }
}

// Resolves to {checkpoint_id, at, entries} when the statement verifies; rejects with
// NotVerified (its message says why) otherwise. `saved`: a checkpoint kept earlier
// ({checkpoint_id, root}) the proof must be against.
export async function verifyStatement(statement, keys, saved = null) {
  const { wallet_id: walletId, currency, items } = statement;
  checkFigures(statement);
  if (items.some((item) => item.seq === null || item.seq === undefined)) {
    throw new NotVerified('some entries are not chained yet (seconds after posting): try again in a moment', true);
  }
  const { proof } = statement;
  if (!proof) {
    throw new NotVerified('no checkpoint covers this statement\'s last entry yet (one is made at least hourly): '
      + 'try again later', true);
  }
  const { checkpoint } = proof;
  if (saved && (saved.checkpoint_id !== checkpoint.checkpoint_id || saved.root !== checkpoint.root)) {
    throw new NotVerified(`the proof is against checkpoint ${checkpoint.checkpoint_id}, not the saved ${saved.checkpoint_id}`);
  }
  await checkSignature(checkpoint, keys);
  const chains = new Map();
  for (const item of items) {
    if (!chains.has(item.chain)) chains.set(item.chain, []);
    chains.get(item.chain).push(item);
  }
  const proven = new Map(proof.chains.map((c) => [c.chain, c]));
  for (const chain of [...chains.keys()].sort()) {
    const links = [...chains.get(chain)].sort((a, b) => a.seq - b.seq);
    let last = await follow(links, null, walletId, currency, `chain ${chain}`);
    const p = proven.get(chain);
    if (!p) throw new NotVerified(`the proof does not cover chain ${chain}`);
    if (p.tail && p.tail.length) last = await follow(p.tail, last, walletId, currency, `chain ${chain} after the statement`);
    if (last[0] !== p.head.seq || last[1] !== p.head.hash) {
      throw new NotVerified(`chain ${chain} does not lead to its head at checkpoint ${checkpoint.checkpoint_id}`);
    }
    if (await merkleRoot(chain, p.head, p.path) !== checkpoint.root) {
      throw new NotVerified(`chain ${chain}'s head is not under the checkpoint's root (its Merkle path fails)`);
    }
  }
  return { checkpoint_id: checkpoint.checkpoint_id, at: checkpoint.at, entries: items.length };
}
