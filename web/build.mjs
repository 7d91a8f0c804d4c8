// Builds the web wallet into one folder of static files: `node web/build.mjs <out-dir>`.
// esbuild bundles the ES modules (and preact, htm, qrcode-generator from node_modules) into
// app.js; index.html and styles.css are copied as they are. No network, no config file.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
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
