// Builds the web wallet into one folder of static files: `node web/build.mjs <out-dir>`.
// esbuild bundles the ES modules (and preact, htm, qrcode-generator, jsqr from node_modules) into
// app.js; index.html and styles.css are copied as they are. For the installable app: the web app
// manifest, its icons (PNGs drawn here) and the service worker, whose VERSION is a hash of every
// other file (a new build is a new worker, which replaces the old one). No network, no config file.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error('usage: node web/build.mjs <out-dir>');
  process.exit(2);
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  format: 'esm',
  target: ['es2020'],
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
  legalComments: 'linked',
});
for (const file of ['index.html', 'styles.css']) copyFileSync(join(here, file), join(out, file));

// A square icon: the wallet's blue, a white card with a darker stripe. PNG written by hand
// (IHDR, one IDAT, IEND) so the build needs no image library.
function crc32(bytes) {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
function icon(size) {
  const rows = [];
  const inCard = (x, y) => x > size * 0.18 && x < size * 0.82 && y > size * 0.3 && y < size * 0.7;
  const stripe = (y) => y > size * 0.38 && y < size * 0.46;
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 3);
    for (let x = 0; x < size; x++) {
      const rgb = inCard(x, y) ? (stripe(y) ? [0x0b, 0x2e, 0x6b] : [0xff, 0xff, 0xff]) : [0x1d, 0x4e, 0xd8];
      row.set(rgb, 1 + x * 3);
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}
const icons = [192, 512].map((size) => {
  const name = `icon-${size}.png`;
  writeFileSync(join(out, name), icon(size));
  return { src: name, sizes: `${size}x${size}`, type: 'image/png', purpose: 'any maskable' };
});
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify({
  name: 'E-wallet', short_name: 'E-wallet', description: 'Your wallet: pay and be paid, even with no network.',
  start_url: './', scope: './', display: 'standalone', background_color: '#ffffff', theme_color: '#1d4ed8', icons,
}, null, 2)}\n`);

// What the service worker keeps for offline start (config.json is written later by
// deploy/web.py publish; the worker fetches it like the rest when it installs).
const shell = ['./', 'index.html', 'app.js', 'styles.css', 'manifest.json', 'config.json', ...icons.map((i) => i.src)];
const hash = createHash('sha256');
for (const file of ['index.html', 'app.js', 'styles.css', 'manifest.json']) hash.update(readFileSync(join(out, file)));
const version = hash.digest('hex').slice(0, 16);
writeFileSync(join(out, 'sw.js'), readFileSync(join(here, 'sw.js'), 'utf8')
  .replace('__VERSION__', version).replace('__FILES__', JSON.stringify(shell)));
