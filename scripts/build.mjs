#!/usr/bin/env node
// Builds agi-bin/: the AGI executables and the operator CLI, each one self-contained
// CommonJS file for Node 18; the self-test (itd_bitrix_selftest.js), built for Node 8 syntax so
// an old Node gets an answer; and beside them the sqlite3 N-API bindings, one per architecture
// (scripts/build-sqlite3.sh builds them once in Debian 11 and caches them).
import { build, transformSync } from 'esbuild';
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { createRequire } from 'module';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'fs';
import { dirname, join } from 'path';
import { fileURLToPath } from 'url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const outdir = join(root, 'agi-bin');

const entries = {
  itd_bitrix_incoming: 'agi-src/bin/incoming.ts',
  itd_bitrix_show: 'agi-src/bin/show.ts',
  itd_bitrix_hangup: 'agi-src/bin/hangup.ts',
  itd_bitrix_outgoing: 'agi-src/bin/outgoing.ts',
  itd_bitrix: 'agi-src/bin/cli.ts',
};
const selftestEntry = { itd_bitrix_selftest: 'agi-src/bin/selftest.ts' };
const BINDING = /^itd_bitrix_sqlite3-[a-z0-9]+-[a-z0-9]+-glibc\d+\.\d+\.node$/;

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
  // The keys the schema knows, per object ('' = top level): the loader names near-misses of them.
  writeFileSync(join(dir, 'keys.js'), `module.exports = ${JSON.stringify(knownKeys(schema))};\n`);
}

function knownKeys(schema) {
  const out = {};
  const walk = (node, path) => {
    if (!node || typeof node !== 'object') return;
    if (node.properties) {
      out[path] = [...new Set([...(out[path] ?? []), ...Object.keys(node.properties)])];
      for (const [k, v] of Object.entries(node.properties)) walk(v, path ? `${path}.${k}` : k);
    }
    for (const alt of [...(node.oneOf ?? []), ...(node.anyOf ?? [])]) walk(alt, path);
  };
  walk(schema, '');
  return out;
}

// sqlite3 finds its binding through the `bindings` package, which searches build folders
// relative to node_modules; in agi-bin the bindings sit next to the bundle instead, and
// agi-src/platform/sqlite3-binding.ts picks the one that fits the host.
const sqliteBindingBesideBundle = {
  name: 'sqlite-binding-beside-bundle',
  setup(b) {
    b.onLoad({ filter: /sqlite3[\\/]lib[\\/]sqlite3-binding\.js$/ }, () => ({
      contents: `module.exports = require(${JSON.stringify(join(root, 'agi-src/platform/sqlite3-binding.ts'))}).loadSqlite3Binding(__dirname);`,
      loader: 'js',
      resolveDir: root,
    }));
  },
};

/** Folder with the built bindings (scripts/build-sqlite3.sh prints it; builds them when missing). */
function sqlite3Bindings() {
  const r = spawnSync('bash', [join(root, 'scripts/build-sqlite3.sh')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`scripts/build-sqlite3.sh failed (exit ${r.status ?? r.signal})`);
  const dir = r.stdout.trim().split('\n').pop();
  const names = readdirSync(dir).filter((n) => BINDING.test(n)).sort();
  if (!names.length) throw new Error(`${dir} holds no itd_bitrix_sqlite3-*.node`);
  // The bundles check a binding against its build's hash before they copy it (agi-src/platform/sqlite3-binding.ts).
  const sha256 = Object.fromEntries(names.map((n) => [n, createHash('sha256').update(readFileSync(join(dir, n))).digest('hex')]));
  return { dir, names, sha256 };
}

export async function buildAll({ quiet = false } = {}) {
  const started = Date.now();
  generateConfigValidator();
  mkdirSync(outdir, { recursive: true });
  const bindings = sqlite3Bindings();
  const common = {
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
    charset: 'utf8',
    logLevel: quiet ? 'error' : 'warning',
    plugins: [sqliteBindingBesideBundle],
    define: {
      // The service reports its version in its status file.
      'process.env.ITD_BITRIX_VERSION': JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version),
      ITD_SQLITE3_BINDINGS: JSON.stringify(bindings.names),
      ITD_SQLITE3_BINDING_SHA256: JSON.stringify(JSON.stringify(bindings.sha256)),
    },
  };
  const entry = (list) => Object.fromEntries(Object.entries(list).map(([k, v]) => [k, join(root, v)]));
  await Promise.all([
    build({ ...common, entryPoints: entry(entries) }),
    build({ ...common, entryPoints: entry(selftestEntry), target: 'node8' }),
  ]);
  for (const old of readdirSync(outdir)) {
    if (old.endsWith('.node') && !bindings.names.includes(old)) rmSync(join(outdir, old));
  }
  for (const name of bindings.names) copyFileSync(join(bindings.dir, name), join(outdir, name));
  for (const name of [...Object.keys(entries), ...Object.keys(selftestEntry)]) {
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
