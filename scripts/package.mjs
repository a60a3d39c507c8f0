#!/usr/bin/env node
// Builds the FreePBX module tarball and a static FreePBX module repository.
//
//   node scripts/package.mjs [--root <dir>] [--out <dir>] [--no-build]
//
// 1. runs `node scripts/build.mjs` in <root> (fresh AGI bundles in agi-bin/), unless --no-build;
// 2. writes <out>/bitrix-<version>.tgz: only the module's runtime files, all under `bitrix/`;
// 3. writes <out>/repo/: all-16.0.xml, all-17.0.xml and modules/bitrix/bitrix-<version>.tgz,
//    i.e. what FreePBX module admin fetches from MODULE_REPO (it POSTs to
//    <MODULE_REPO>/all-<maj.min>.xml and <MODULE_REPO>/modules/<location>).
//
// The tar stream is written here by hand (POSIX ustar) and gzipped with Node's zlib, so the
// archive depends only on the input files: entries sorted by path, fixed mtime
// (SOURCE_DATE_EPOCH or FIXED_MTIME), uid/gid 0, fixed modes, no gzip name/timestamp.
// No GNU tar flags or tar/gzip versions are involved, so the same input gives the same md5.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const RAWNAME = 'bitrix';
/** FreePBX lines the repository serves (files all-<v>.xml). */
const REPO_VERSIONS = ['16.0', '17.0'];
/** 2024-01-01T00:00:00Z — mtime of every archive entry unless SOURCE_DATE_EPOCH is set. */
const FIXED_MTIME = 1704067200;
/** Download fields that module.xml may carry (informational there); the repository sets its own. */
const DOWNLOAD_FIELDS = new Set(['location', 'md5sum', 'sha1sum', 'signed']);
/** The executables the lead's build must produce in agi-bin/. */
const REQUIRED_AGI = ['itd_bitrix_incoming.js', 'itd_bitrix_show.js', 'itd_bitrix_hangup.js', 'itd_bitrix_outgoing.js', 'itd_bitrix.js'];

class PackageError extends Error {}
const fail = (msg) => { throw new PackageError(msg); };

// ---------------------------------------------------------------------------------------------
// arguments

function parseArgs(argv) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const opts = { root: path.resolve(here, '..'), out: null, build: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--root') opts.root = path.resolve(val());
    else if (a === '--out') opts.out = path.resolve(val());
    else if (a === '--no-build') opts.build = false;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: node scripts/package.mjs [--root <module dir>] [--out <dir, default <root>/dist>] [--no-build]\n');
      process.exit(0);
    } else fail(`unknown argument: ${a}`);
  }
  if (!opts.out) opts.out = path.join(opts.root, 'dist');
  return opts;
}

// ---------------------------------------------------------------------------------------------
// module.xml: a small strict scanner (well-formedness + spans of the root's child elements)

const NAME = /^[A-Za-z_][\w.\-]*/;

/**
 * Parses an XML document enough to (a) reject anything not well-formed in the ways that matter
 * (unbalanced/mismatched tags, bad attributes, stray '<' or '&', several roots) and (b) return
 * the root element name and each direct child element: name, verbatim source text, text content.
 */
export function scanXml(src) {
  let i = 0;
  const stack = [];
  let root = null;
  const children = [];
  let child = null; // { name, start, text[] }
  const err = (m) => fail(`module.xml: ${m} (at offset ${i}, line ${src.slice(0, i).split('\n').length})`);
  const checkText = (t) => {
    const bad = t.match(/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/);
    if (bad) err('bare "&" in text (write &amp;)');
  };
  const unescape = (t) => t
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-fA-F]+);/g, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&amp;/g, '&');
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const text = src.slice(i, lt < 0 ? src.length : lt);
    if (text) {
      if (!stack.length && text.trim()) err('text outside the root element');
      checkText(text);
      if (child && stack.length >= 2) child.text.push(unescape(text));
    }
    if (lt < 0) break;
    i = lt;
    if (src.startsWith('<!--', i)) {
      const e = src.indexOf('-->', i + 4);
      if (e < 0) err('unterminated comment');
      i = e + 3;
    } else if (src.startsWith('<![CDATA[', i)) {
      if (!stack.length) err('CDATA outside the root element');
      const e = src.indexOf(']]>', i + 9);
      if (e < 0) err('unterminated CDATA');
      if (child && stack.length >= 2) child.text.push(src.slice(i + 9, e));
      i = e + 3;
    } else if (src.startsWith('<?', i)) {
      const e = src.indexOf('?>', i + 2);
      if (e < 0) err('unterminated processing instruction');
      i = e + 2;
    } else if (src.startsWith('<!', i)) {
      if (root) err('DOCTYPE after the root element');
      const e = src.indexOf('>', i + 2);
      if (e < 0) err('unterminated declaration');
      i = e + 1;
    } else if (src.startsWith('</', i)) {
      const m = src.slice(i + 2).match(NAME);
      if (!m) err('bad closing tag');
      const name = m[0];
      let j = i + 2 + name.length;
      while (/\s/.test(src[j] || '')) j++;
      if (src[j] !== '>') err(`bad closing tag </${name}`);
      const open = stack.pop();
      if (open !== name) err(`</${name}> closes <${open ?? 'nothing'}>`);
      i = j + 1;
      if (stack.length === 1 && child) {
        children.push({ name: child.name, raw: src.slice(child.start, i), text: child.text.join('') });
        child = null;
      }
    } else {
      const start = i;
      const m = src.slice(i + 1).match(NAME);
      if (!m) err('stray "<" (write &lt;)');
      const name = m[0];
      let j = i + 1 + name.length;
      const seen = new Set();
      for (;;) {
        const ws = j;
        while (/\s/.test(src[j] || '')) j++;
        if (src[j] === '>' || src.startsWith('/>', j)) break;
        if (j === ws) err(`bad tag <${name}`);
        const am = src.slice(j).match(NAME);
        if (!am) err(`bad attribute in <${name}>`);
        if (seen.has(am[0])) err(`duplicate attribute ${am[0]} in <${name}>`);
        seen.add(am[0]);
        j += am[0].length;
        while (/\s/.test(src[j] || '')) j++;
        if (src[j] !== '=') err(`attribute ${am[0]} in <${name}> has no value`);
        j++;
        while (/\s/.test(src[j] || '')) j++;
        const q = src[j];
        if (q !== '"' && q !== "'") err(`attribute ${am[0]} in <${name}> is not quoted`);
        const e = src.indexOf(q, j + 1);
        if (e < 0) err('unterminated attribute value');
        const v = src.slice(j + 1, e);
        if (v.includes('<')) err(`"<" in attribute ${am[0]}`);
        checkText(v);
        j = e + 1;
      }
      const selfClosing = src.startsWith('/>', j);
      i = j + (selfClosing ? 2 : 1);
      if (!stack.length) {
        if (root) err('more than one root element');
        root = name;
      }
      if (stack.length === 1) child = { name, start, text: [] };
      if (!selfClosing) stack.push(name);
      else if (stack.length === 1) {
        children.push({ name, raw: src.slice(start, i), text: '' });
        child = null;
      }
    }
  }
  if (stack.length) fail(`module.xml: <${stack[stack.length - 1]}> is never closed`);
  if (!root) fail('module.xml: no root element');
  return { root, children };
}

function readModuleXml(root) {
  const file = path.join(root, 'module.xml');
  if (!fs.existsSync(file)) fail(`module.xml not found in ${root}`);
  const src = fs.readFileSync(file, 'utf8');
  const { root: rootName, children } = scanXml(src);
  if (rootName !== 'module') fail(`module.xml: root element is <${rootName}>, expected <module>`);
  const field = (n) => {
    const c = children.find((x) => x.name === n);
    return c ? c.text.trim() : '';
  };
  const rawname = field('rawname');
  const version = field('version');
  if (rawname !== RAWNAME) fail(`module.xml: <rawname> is "${rawname}", expected "${RAWNAME}"`);
  if (!/^\d+(\.\d+)+$/.test(version)) fail(`module.xml: <version> "${version}" is not a dotted number`);
  for (const n of ['name', 'license']) if (!field(n)) fail(`module.xml: <${n}> is missing or empty`);
  return { rawname, version, children };
}

// ---------------------------------------------------------------------------------------------
// what goes into the tarball

/** @returns {{ rel: string, abs: string, mode: number }[]} sorted by rel */
function collectFiles(root) {
  const files = [];
  const add = (rel, mode = 0o644) => files.push({ rel, abs: path.join(root, rel), mode });
  const hidden = (n) => n.startsWith('.') || n === 'node_modules' || n.endsWith('~');
  const walk = (relDir, filter) => {
    const absDir = path.join(root, relDir);
    if (!fs.existsSync(absDir)) return;
    for (const ent of fs.readdirSync(absDir, { withFileTypes: true })) {
      if (hidden(ent.name)) continue;
      const rel = `${relDir}/${ent.name}`;
      if (ent.isDirectory()) walk(rel, filter);
      else if (ent.isFile() && filter(rel)) add(rel);
      else if (ent.isSymbolicLink()) fail(`${rel} is a symlink; the tarball carries regular files only`);
    }
  };

  add('module.xml');
  for (const ent of fs.readdirSync(root, { withFileTypes: true })) {
    if (ent.isFile() && ent.name.endsWith('.php')) add(ent.name);
  }
  for (const n of ['config.schema.json', 'LICENSE', 'README.md']) {
    if (fs.existsSync(path.join(root, n))) add(n);
    else fail(`${n} not found in ${root}`);
  }
  walk('views', () => true);
  walk('assets', () => true);
  walk('Dialplan', (r) => r.endsWith('.php')); // generated dialplan, one class per hook
  walk('Console', (r) => r.endsWith('.php')); // fwconsole commands, if module.xml declares any
  walk('i18n', (r) => /\.(po|mo|pot)$/.test(r));

  const agiDir = path.join(root, 'agi-bin');
  if (!fs.existsSync(agiDir)) fail(`agi-bin/ not found in ${root}: the build did not run or failed`);
  const agi = fs.readdirSync(agiDir, { withFileTypes: true }).filter((e) => e.isFile() && !hidden(e.name));
  for (const req of REQUIRED_AGI) {
    if (!agi.some((e) => e.name === req)) fail(`agi-bin/${req} is missing: the build must produce it`);
  }
  if (!agi.some((e) => e.name.endsWith('.node'))) fail('agi-bin/*.node (SQLite binding) is missing: the build must copy it');
  for (const e of agi) {
    const rel = `agi-bin/${e.name}`;
    if (e.name.endsWith('.js')) {
      const head = fs.readFileSync(path.join(agiDir, e.name)).subarray(0, 64).toString('latin1');
      if (!head.startsWith('#!/usr/bin/env node\n')) fail(`${rel} must start with "#!/usr/bin/env node" and an LF line end`);
      add(rel, 0o755);
    } else if (e.name.endsWith('.node')) add(rel);
    // anything else in agi-bin (source maps, notes) stays out
  }

  files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return files;
}

// ---------------------------------------------------------------------------------------------
// ustar writer

function octal(n, width) {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function splitName(name) {
  if (Buffer.byteLength(name) <= 100) return { name, prefix: '' };
  const cut = name.lastIndexOf('/', 155);
  if (cut > 0 && Buffer.byteLength(name.slice(cut + 1)) <= 100 && Buffer.byteLength(name.slice(0, cut)) <= 155) {
    return { name: name.slice(cut + 1), prefix: name.slice(0, cut) };
  }
  return fail(`path too long for ustar: ${name}`);
}

function tarHeader(name, { size, mode, type, mtime }) {
  const h = Buffer.alloc(512, 0);
  const { name: n, prefix } = splitName(name);
  h.write(n, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.fill(0x20, 148, 156); // checksum placeholder: spaces
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii'); // uname
  h.write('root', 297, 'ascii'); // gname
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

function buildTar(files, topDir, mtime) {
  const parts = [];
  const dirs = new Set();
  for (const f of files) {
    const segs = f.rel.split('/');
    for (let k = 0; k <= segs.length - 1; k++) {
      const d = [topDir, ...segs.slice(0, k)].join('/') + '/';
      if (dirs.has(d)) continue;
      dirs.add(d);
      parts.push(tarHeader(d, { size: 0, mode: 0o755, type: '5', mtime }));
    }
    const data = fs.readFileSync(f.abs);
    parts.push(tarHeader(`${topDir}/${f.rel}`, { size: data.length, mode: f.mode, type: '0', mtime }));
    parts.push(data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(1024, 0)); // two zero blocks end the archive
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// repository XML

function repoXml(mod, location, md5, sha1) {
  const lines = ['<xml>', '\t<module>'];
  for (const c of mod.children) {
    if (DOWNLOAD_FIELDS.has(c.name)) continue;
    lines.push(`\t\t${c.raw}`);
  }
  lines.push(`\t\t<location>${location}</location>`);
  lines.push(`\t\t<md5sum>${md5}</md5sum>`);
  lines.push(`\t\t<sha1sum>${sha1}</sha1sum>`);
  lines.push('\t</module>', '</xml>', '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------

function writeAtomic(file, data) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

function main() {
  const t0 = Date.now();
  const opts = parseArgs(process.argv.slice(2));
  const { root, out } = opts;

  const pkgFile = path.join(root, 'package.json');
  if (!fs.existsSync(pkgFile)) fail(`package.json not found in ${root}`);
  const pkgVersion = JSON.parse(fs.readFileSync(pkgFile, 'utf8')).version;
  const mod = readModuleXml(root);
  if (pkgVersion !== mod.version) {
    fail(`version mismatch: package.json says ${pkgVersion}, module.xml says ${mod.version} — set both to the same version`);
  }
  const version = mod.version;

  if (opts.build) {
    const build = path.join(root, 'scripts', 'build.mjs');
    if (!fs.existsSync(build)) fail(`${build} not found (use --no-build to package an existing agi-bin/)`);
    process.stdout.write(`package: node scripts/build.mjs (in ${root})\n`);
    const r = spawnSync(process.execPath, [build], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) fail(`node scripts/build.mjs failed (exit ${r.status ?? r.signal})`);
  }

  const files = collectFiles(root);
  const envEpoch = process.env.SOURCE_DATE_EPOCH;
  const mtime = envEpoch && /^\d+$/.test(envEpoch) ? Number(envEpoch) : FIXED_MTIME;
  const tgz = zlib.gzipSync(buildTar(files, RAWNAME, mtime), { level: 9 });
  const md5 = createHash('md5').update(tgz).digest('hex');
  const sha1 = createHash('sha1').update(tgz).digest('hex');

  const base = `${RAWNAME}-${version}.tgz`;
  const location = `${RAWNAME}/${base}`;
  fs.mkdirSync(out, { recursive: true });
  for (const old of fs.readdirSync(out)) {
    if (old.startsWith(`${RAWNAME}-`) && old.endsWith('.tgz') && old !== base) fs.rmSync(path.join(out, old));
  }
  writeAtomic(path.join(out, base), tgz);
  const repo = path.join(out, 'repo');
  fs.rmSync(repo, { recursive: true, force: true });
  writeAtomic(path.join(repo, 'modules', location), tgz);
  const xml = repoXml(mod, location, md5, sha1);
  if (scanXml(xml).root !== 'xml') fail('internal: repository XML root is not <xml>'); // must be well-formed
  for (const v of REPO_VERSIONS) writeAtomic(path.join(repo, `all-${v}.xml`), xml);

  const rel = (p) => path.relative(process.cwd(), p) || '.';
  process.stdout.write(
    `package: ${rel(path.join(out, base))}  ${files.length} files, ${tgz.length} bytes\n` +
    `package: md5 ${md5}  sha1 ${sha1}\n` +
    `package: ${rel(repo)}/  ${REPO_VERSIONS.map((v) => `all-${v}.xml`).join(', ')}, modules/${location}\n` +
    `package: done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
  );
}

const invoked = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invoked) {
  try {
    main();
  } catch (e) {
    if (e instanceof PackageError) {
      process.stderr.write(`package: ERROR: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}
