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
// The archive depends only on the input files: npm's `tar` writes it portable (no owner, no
// atime/ctime, no pax headers) with entries in sorted order, fixed modes and a fixed mtime on
// files (SOURCE_DATE_EPOCH or FIXED_MTIME; directories carry none, as `portable` has it); gzip
// through zlib adds no name or timestamp. So the same input gives the same md5. module.xml is
// read, and the repository XML written, with fast-xml-parser.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import * as tar from 'tar';

const RAWNAME = 'bitrix';
/** FreePBX lines the repository serves (files all-<v>.xml). */
const REPO_VERSIONS = ['16.0', '17.0'];
/** 2024-01-01T00:00:00Z — mtime of every archive entry unless SOURCE_DATE_EPOCH is set. */
const FIXED_MTIME = 1704067200;
/** Download fields that module.xml may carry (informational there); the repository sets its own. */
const DOWNLOAD_FIELDS = new Set(['location', 'md5sum', 'sha1sum', 'signed']);
/** The executables the lead's build must produce in agi-bin/. */
const REQUIRED_AGI = ['itd_bitrix_incoming.js', 'itd_bitrix_show.js', 'itd_bitrix_hangup.js', 'itd_bitrix_outgoing.js', 'itd_bitrix.js', 'itd_bitrix_selftest.js'];
/** The sqlite3 bindings (scripts/build-sqlite3.sh): module-prefixed, one per platform. */
const BINDING = /^itd_bitrix_sqlite3-[a-z0-9]+-[a-z0-9]+-glibc\d+\.\d+\.node$/;

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
// module.xml

/** Element order, attributes, whitespace and comments kept, so the repository XML copies them. */
const XML_OPTIONS = {
  preserveOrder: true, ignoreAttributes: false, trimValues: false, parseTagValue: false,
  parseAttributeValue: false, processEntities: true, commentPropName: '#comment',
};
const tagOf = (node) => Object.keys(node).find((k) => k !== ':@');
const isElement = (node) => !['#text', '#comment', '?xml'].includes(tagOf(node));
const textOf = (node) => (node[tagOf(node)] || []).filter((c) => tagOf(c) === '#text').map((c) => String(c['#text'])).join('');

/** Well-formed or a one-line error; returns the root element name and its child nodes. */
export function parseModuleXml(src, what = 'module.xml') {
  const valid = XMLValidator.validate(src);
  if (valid !== true) fail(`${what}: ${valid.err.msg} (line ${valid.err.line})`);
  const roots = new XMLParser(XML_OPTIONS).parse(src).filter(isElement);
  if (roots.length !== 1) fail(`${what}: expected one root element, found ${roots.length}`);
  return { root: tagOf(roots[0]), children: roots[0][tagOf(roots[0])] };
}

function readModuleXml(root) {
  const file = path.join(root, 'module.xml');
  if (!fs.existsSync(file)) fail(`module.xml not found in ${root}`);
  const src = fs.readFileSync(file, 'utf8');
  const { root: rootName, children } = parseModuleXml(src);
  if (rootName !== 'module') fail(`module.xml: root element is <${rootName}>, expected <module>`);
  const field = (n) => {
    const c = children.find((x) => tagOf(x) === n);
    return c ? textOf(c).trim() : '';
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
  if (!agi.some((e) => BINDING.test(e.name))) fail('agi-bin/itd_bitrix_sqlite3-*.node (SQLite binding) is missing: the build must copy it');
  for (const e of agi) {
    const rel = `agi-bin/${e.name}`;
    if (e.name.endsWith('.js')) {
      const head = fs.readFileSync(path.join(agiDir, e.name)).subarray(0, 64).toString('latin1');
      if (!head.startsWith('#!/usr/bin/env node\n')) fail(`${rel} must start with "#!/usr/bin/env node" and an LF line end`);
      add(rel, 0o755);
    } else if (BINDING.test(e.name)) add(rel);
    // anything else in agi-bin (source maps, notes, a binding under another name) stays out
  }

  files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return files;
}

// ---------------------------------------------------------------------------------------------
// the archive

/** Entries in order: each directory before what it holds, all under `topDir/`. */
function archiveEntries(files) {
  const list = ['.'];
  const seen = new Set(list);
  for (const f of files) {
    const segs = f.rel.split('/');
    for (let k = 1; k < segs.length; k++) {
      const d = segs.slice(0, k).join('/');
      if (!seen.has(d)) { seen.add(d); list.push(d); }
    }
    list.push(f.rel);
  }
  return list;
}

function buildTgz(root, files, topDir, mtime) {
  const modes = new Map(files.map((f) => [f.rel, f.mode]));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'itd-bitrix-pkg-'));
  const out = path.join(tmp, 'module.tgz');
  try {
    tar.create({
      sync: true, file: out, cwd: root, gzip: { level: 9 }, portable: true, noPax: true, noDirRecurse: true,
      strict: true, mtime: new Date(mtime * 1000),
      onWriteEntry(entry) {
        const rel = entry.path.replace(/^\.\/?/, '').replace(/\/$/, '');
        const dir = entry.type === 'Directory';
        if (!dir && entry.type !== 'File') fail(`${rel} is not a regular file`);
        entry.path = rel ? `${topDir}/${rel}${dir ? '/' : ''}` : `${topDir}/`;
        entry.stat.mode = (entry.stat.mode & ~0o7777) | (dir ? 0o755 : modes.get(rel));
      },
    }, archiveEntries(files));
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// repository XML: <xml><module> module.xml's fields, then where the file is and its sums

function repoXml(mod, location, md5, sha1) {
  const el = (name, text) => ({ [name]: [{ '#text': text }] });
  const ws = (t) => ({ '#text': t });
  const body = [];
  for (const c of mod.children) {
    if (!isElement(c) || DOWNLOAD_FIELDS.has(tagOf(c))) continue;
    body.push(ws('\n\t\t'), c);
  }
  body.push(ws('\n\t\t'), el('location', location), ws('\n\t\t'), el('md5sum', md5), ws('\n\t\t'), el('sha1sum', sha1), ws('\n\t'));
  return `${new XMLBuilder({ ...XML_OPTIONS, format: false, suppressEmptyNode: true }).build([{ xml: [ws('\n\t'), { module: body }, ws('\n')] }])}\n`;
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
  const tgz = buildTgz(root, files, RAWNAME, mtime);
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
  if (parseModuleXml(xml, 'repository XML').root !== 'xml') fail('internal: repository XML root is not <xml>');
  for (const v of REPO_VERSIONS) writeAtomic(path.join(repo, `all-${v}.xml`), xml);

  const rel = (p) => path.relative(process.cwd(), p) || '.';
  const agiBytes = files.filter((f) => f.rel.startsWith('agi-bin/')).reduce((n, f) => n + fs.statSync(f.abs).size, 0);
  process.stdout.write(
    `package: ${rel(path.join(out, base))}  ${files.length} files, ${tgz.length} bytes; agi-bin/ ${agiBytes} bytes unpacked\n` +
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
