// Shared helpers for the distribution tests (test/dist/*.test.ts): a fixture module tree,
// running scripts/package.mjs once per process, reading the tarball (npm's tar) and XML
// (fast-xml-parser, strict: malformed input throws).
import { execFileSync, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import fs from 'fs';
import http from 'http';
import path from 'path';
import * as tar from 'tar';
import { tempDir } from '../helpers/tmp';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const PACKAGE_SCRIPT = path.join(REPO_ROOT, 'scripts', 'package.mjs');
export const INSTALL_SH = path.join(REPO_ROOT, 'install.sh');
export const FIXTURES = path.join(__dirname, 'fixtures');
export const AGI_SCRIPTS = ['itd_bitrix_incoming.js', 'itd_bitrix_show.js', 'itd_bitrix_hangup.js', 'itd_bitrix_outgoing.js', 'itd_bitrix.js', 'itd_bitrix_selftest.js'];
/** The fixture build's stand-in binding (a few ELF bytes). */
export const FIXTURE_BINDING = 'itd_bitrix_sqlite3-linux-x64-glibc2.28.node';

export function tmpDir(tag: string): string {
  return tempDir(`itd-bitrix-${tag}-`);
}

export function md5(buf: Buffer): string {
  return createHash('md5').update(buf).digest('hex');
}
export function sha1(buf: Buffer): string {
  return createHash('sha1').update(buf).digest('hex');
}

/**
 * True when the real module (module.xml + the lead's build) is in the work tree.
 * ITD_BITRIX_DIST_FIXTURE=1 forces the fixture tree (for working on packaging alone).
 */
export function realModulePresent(): boolean {
  if (process.env.ITD_BITRIX_DIST_FIXTURE === '1') return false;
  return fs.existsSync(path.join(REPO_ROOT, 'module.xml')) && fs.existsSync(path.join(REPO_ROOT, 'scripts', 'build.mjs'));
}

export function packageVersion(root: string): string {
  return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version as string;
}

const FIXTURE_BUILD = `// stub of the lead's build: writes agi-bin/ like the real one
import fs from 'node:fs';
fs.mkdirSync('agi-bin', { recursive: true });
for (const n of ${JSON.stringify(AGI_SCRIPTS)}) {
  fs.writeFileSync('agi-bin/' + n, '#!/usr/bin/env node\\n"use strict";\\nconsole.log(' + JSON.stringify(n) + ');\\n', { mode: 0o644 });
}
fs.writeFileSync('agi-bin/${FIXTURE_BINDING}', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]));
fs.writeFileSync('agi-bin/node_sqlite3.node', 'a binding under a generic name stays out');
fs.writeFileSync('agi-bin/itd_bitrix.js.map', '{}');
`;

/** A minimal module tree (plus files that must stay out of the tarball) for package.mjs --root. */
export function makeFixtureRoot(version = packageVersion(REPO_ROOT)): string {
  const root = tmpDir('fixture');
  const w = (rel: string, data: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
  };
  w('package.json', JSON.stringify({ name: 'itd-bitrix', version, private: true }, null, 2));
  w('module.xml', `<module>
	<rawname>bitrix</rawname>
	<repo>standard</repo>
	<name>Bitrix24 Integration</name>
	<version>${version}</version>
	<publisher>ITD</publisher>
	<license>GPLv3+</license>
	<licenselink>https://www.gnu.org/licenses/gpl-3.0.txt</licenselink>
	<category>Connectivity</category>
	<description>Bitrix24 CRM telephony &amp; call cards</description>
	<changelog>
		*${version}* First release
	</changelog>
	<menuitems>
		<itdbitrix category="Connectivity">Bitrix24</itdbitrix>
	</menuitems>
	<depends>
		<version>16.0</version>
		<module>core ge 16.0</module>
	</depends>
	<supported>
		<version>17.0</version>
	</supported>
	<location/>
	<md5sum/>
</module>
`);
  w('Bitrix.class.php', '<?php\nnamespace FreePBX\\modules;\nclass Bitrix extends \\FreePBX_Helpers implements \\BMO { public function install() {} public function uninstall() {} }\n');
  w('Dialplan/InboundSubroutine.php', '<?php\nnamespace FreePBX\\modules\\Bitrix\\Dialplan;\nclass InboundSubroutine {}\n');
  w('page.itdbitrix.php', "<?php if (!defined('FREEPBX_IS_AUTH')) { die('No direct script access allowed'); }\n");
  w('install.php', '<?php\n');
  w('uninstall.php', '<?php\n');
  w('views/main.php', '<div>bitrix</div>\n');
  w('assets/js/bitrix.js', '// page script\n');
  w('i18n/bitrix.pot', 'msgid ""\nmsgstr ""\n');
  w('i18n/ru_RU/LC_MESSAGES/bitrix.po', 'msgid ""\nmsgstr ""\n');
  w('i18n/ru_RU/LC_MESSAGES/bitrix.mo', Buffer.from([0xde, 0x12, 0x04, 0x95]));
  w('config.schema.json', '{}\n');
  w('LICENSE', 'GPLv3\n');
  w('README.md', '# itd-bitrix\n');
  w('scripts/build.mjs', FIXTURE_BUILD);
  w('install.sh', '#!/bin/bash\n');
  // must not be packaged
  w('agi-src/bin/incoming.ts', 'export {};\n');
  w('test/a.test.ts', 'export {};\n');
  w('node_modules/x/index.js', '\n');
  w('tsconfig.json', '{}\n');
  w('.editorconfig', 'root = true\n');
  w('docs/img/flow.png', Buffer.from([0x89, 0x50]));
  w('dist/old.tgz', 'x');
  w('views/.DS_Store', 'x');
  w('i18n/README.md', 'x');
  w('utests/BitrixTest.php', '<?php\n');
  return root;
}

export interface PackageRun {
  root: string;
  out: string;
  version: string;
  tgzPath: string;
  stdout: string;
  seconds: number;
}

export function runPackage(root: string, out: string, extra: string[] = []): PackageRun {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [PACKAGE_SCRIPT, '--root', root, '--out', out, ...extra], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`package.mjs failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  const version = packageVersion(root);
  return { root, out, version, tgzPath: path.join(out, `bitrix-${version}.tgz`), stdout: r.stdout, seconds: (Date.now() - t0) / 1000 };
}

let shared: PackageRun | Error | null = null;
/**
 * Packages once per mocha process: the real work tree when module.xml and the lead's build are
 * there, otherwise a fixture tree. Output goes to a temp dir, never to dist/.
 */
export function sharedPackage(): PackageRun {
  if (!shared) {
    const root = realModulePresent() ? REPO_ROOT : makeFixtureRoot();
    try {
      shared = runPackage(root, tmpDir('pkg'));
    } catch (e) {
      shared = e as Error; // fail every suite that needs it without building again
    }
  }
  if (shared instanceof Error) throw shared;
  return shared;
}

// ---------------------------------------------------------------------------------------------
// tarball reader

export interface TarEntry {
  name: string;
  type: string; // '0' file, '5' directory
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  data: Buffer;
}

const TYPE_FLAG: Record<string, string> = { File: '0', OldFile: '0', Directory: '5' };

export function readTgz(file: string): TarEntry[] {
  const entries: TarEntry[] = [];
  tar.t({
    file,
    sync: true,
    strict: true,
    onReadEntry(e) {
      const chunks: Buffer[] = [];
      e.on('data', (c: Buffer) => chunks.push(c));
      e.on('end', () => {
        entries.push({
          name: e.path, type: TYPE_FLAG[e.type] ?? e.type, mode: e.mode ?? 0, uid: e.uid ?? 0, gid: e.gid ?? 0,
          mtime: e.mtime ? Math.floor(e.mtime.getTime() / 1000) : 0, data: Buffer.concat(chunks),
        });
      });
    },
  });
  return entries;
}

// ---------------------------------------------------------------------------------------------
// XML as a tree of elements (attributes, children, the element's own text)

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

type Node = Record<string, unknown>;
const tagOf = (n: Node) => Object.keys(n).find((k) => k !== ':@') as string;

export function parseXml(src: string): XmlElement {
  const valid = XMLValidator.validate(src);
  if (valid !== true) throw new Error(`XML: ${valid.err.msg} at line ${valid.err.line}`);
  const nodes = new XMLParser({
    preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', trimValues: false,
    parseTagValue: false, parseAttributeValue: false, processEntities: true,
  }).parse(src) as Node[];
  const convert = (n: Node): XmlElement => {
    const name = tagOf(n);
    const kids = n[name] as Node[];
    return {
      name,
      attrs: { ...((n[':@'] as Record<string, string>) ?? {}) },
      children: kids.filter((k) => !['#text', '#comment'].includes(tagOf(k))).map(convert),
      text: kids.filter((k) => tagOf(k) === '#text').map((k) => String(k['#text'])).join(''),
    };
  };
  const roots = nodes.filter((n) => !['#text', '#comment', '?xml'].includes(tagOf(n)));
  if (roots.length !== 1) throw new Error(`XML: ${roots.length} root elements`);
  return convert(roots[0]);
}

export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}
export function childText(el: XmlElement, name: string): string {
  return (child(el, name)?.text ?? '').trim();
}

/** Unpacks a .tgz with the system tar the way FreePBX does (`tar zxf file -C dir`). */
export function untar(file: string, dir: string): void {
  execFileSync('tar', ['zxf', file, '-C', dir]);
}

// ---------------------------------------------------------------------------------------------
// a loopback static server for dist/repo/ that answers GET and (optionally) POST like Apache does


export interface RepoServer {
  url: string;
  requests: { method: string; path: string; body: string }[];
  close(): Promise<void>;
}

export function serveDir(dir: string, opts: { post?: boolean; corrupt?: boolean; redirectTo?: string } = {}): Promise<RepoServer> {
  const requests: RepoServer['requests'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString('utf8'); });
    req.on('end', () => {
      const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      requests.push({ method: req.method ?? '', path: p, body });
      if (opts.redirectTo) {
        res.writeHead(302, { Location: `${opts.redirectTo}${p}` });
        res.end();
        return;
      }
      if (req.method === 'POST' && opts.post === false) {
        res.writeHead(405, { 'Content-Type': 'text/html' });
        res.end('<html><body>405 Not Allowed</body></html>');
        return;
      }
      const file = path.join(dir, p);
      if ((req.method !== 'GET' && req.method !== 'POST' && req.method !== 'HEAD') || !file.startsWith(dir + path.sep)
        || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.writeHead(404);
        res.end('not found');
        return;
      }
      let data = fs.readFileSync(file);
      if (opts.corrupt && file.endsWith('.tgz')) data = Buffer.concat([data, Buffer.from('junk')]);
      res.writeHead(200, { 'Content-Length': data.length, 'Content-Type': file.endsWith('.xml') ? 'text/xml' : 'application/octet-stream' });
      res.end(req.method === 'HEAD' ? undefined : data);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address() as { port: number };
      resolve({
        url: `http://127.0.0.1:${addr.port}`,
        requests,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

/** POSTs like FreePBX's module admin (form-encoded statistics) and returns status and body. */
export function post(url: string, form: Record<string, string>): Promise<{ status: number; body: Buffer }> {
  const payload = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(payload) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}
