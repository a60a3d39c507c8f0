#!/usr/bin/env node
// Builds agi-bin/: the three AGI executables and the operator CLI, each one self-contained
// CommonJS file for Node 18, plus the sqlite3 N-API binding as one file beside them.
import { build, transformSync } from 'esbuild';
import { createRequire } from 'module';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'fs';
import { dirname, join } from 'path';
import { fileURLToPath } from 'url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const outdir = join(root, 'agi-bin');

const entries = {
  itd_bitrix_incoming: 'agi-src/bin/incoming.ts',
  itd_bitrix_show: 'agi-src/bin/show.ts',
  itd_bitrix_hangup: 'agi-src/bin/hangup.ts',
  itd_bitrix: 'agi-src/bin/cli.ts',
};

function generateConfigValidator() {
  const Ajv = require('ajv');
  const standalone = require('ajv/dist/standalone').default;
  const schema = JSON.parse(readFileSync(join(root, 'config.schema.json'), 'utf8'));
  const ajv = new Ajv({ code: { source: true, esm: false }, useDefaults: true, allErrors: false, strict: false });
  // Generated code nobody reads: whitespace out, so the bundle the AGIs parse at start-up is smaller.
  const code = transformSync(standalone(ajv, ajv.compile(schema)), { minifyWhitespace: true, minifySyntax: true }).code;
  const dir = join(root, 'agi-src/config/generated');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'validate.js'), code);
}

// sqlite3 finds its binding through the `bindings` package, which searches build folders
// relative to node_modules; in agi-bin the binding sits next to the bundle instead.
const sqliteBindingBesideBundle = {
  name: 'sqlite-binding-beside-bundle',
  setup(b) {
    b.onLoad({ filter: /sqlite3[\\/]lib[\\/]sqlite3-binding\.js$/ }, () => ({
      contents: "module.exports = require(require('path').join(__dirname, 'node_sqlite3.node'));",
      loader: 'js',
    }));
  },
};

export async function buildAll({ quiet = false } = {}) {
  const started = Date.now();
  generateConfigValidator();
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, join(root, v)])),
    outdir,
    entryNames: '[name]',
    outExtension: { '.js': '.js' },
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    banner: { js: '#!/usr/bin/env node' },
    // The service reports its version in its status file.
    define: { 'process.env.ITD_BITRIX_VERSION': JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version) },
    charset: 'utf8',
    logLevel: quiet ? 'error' : 'warning',
    plugins: [sqliteBindingBesideBundle],
  });
  const binding = require.resolve('sqlite3/build/Release/node_sqlite3.node');
  copyFileSync(binding, join(outdir, 'node_sqlite3.node'));
  for (const name of Object.keys(entries)) {
    const file = join(outdir, `${name}.js`);
    const text = readFileSync(file, 'utf8');
    if (text.includes('\r')) throw new Error(`${file}: CR in bundle`);
    chmodSync(file, 0o755);
  }
  if (!existsSync(join(outdir, 'README.md'))) {
    writeFileSync(join(outdir, 'README.md'), 'Build output of `npm run build` (agi-src/ → esbuild). Shipped in the module tarball; not in git.\n');
  }
  if (!quiet) process.stderr.write(`agi-bin built in ${Date.now() - started} ms\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildAll().catch((err) => {
    process.stderr.write(`build failed: ${err.message}\n`);
    process.exitCode = 1;
  });
}
