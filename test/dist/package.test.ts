// scripts/package.mjs: the module tarball and the static FreePBX module repository.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import {
  AGI_SCRIPTS, FIXTURE_BINDING, PACKAGE_SCRIPT, PackageRun, TarEntry, child, childText, makeFixtureRoot, md5, parseXml,
  readTgz, runPackage, sha1, sharedPackage, tmpDir,
} from './helpers';

/** What may be in the tarball, relative to bitrix/. */
function isRuntimeFile(rel: string): boolean {
  if (['module.xml', 'config.schema.json', 'LICENSE', 'README.md'].includes(rel)) return true;
  if (/^[^/]+\.php$/.test(rel)) return true;
  if (/^(views|assets)\/.+/.test(rel)) return !/(^|\/)(\.|node_modules\/)/.test(rel);
  if (/^(Console|Dialplan)\/[^/]+\.php$/.test(rel)) return true;
  if (/^i18n\/.+\.(po|mo|pot)$/.test(rel)) return true;
  if (/^agi-bin\/[^/]+\.js$/.test(rel)) return true;
  if (/^agi-bin\/itd_bitrix_sqlite3-[a-z0-9]+-[a-z0-9]+-glibc\d+\.\d+\.node$/.test(rel)) return true;
  return false;
}

/** The module's PHP files in a work tree: everything but tests, dev scripts and dependencies. */
function modulePhpFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const ent of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) {
      if (!/^(\.|node_modules$|utests$|test$|scripts$|bench$|dist$|agi-src$)/.test(ent.name)) out.push(...modulePhpFiles(root, r));
    } else if (ent.name.endsWith('.php')) out.push(r);
  }
  return out;
}

describe('dist: package.mjs tarball', function () {
  this.timeout(120000);
  let run: PackageRun;
  let entries: TarEntry[];
  let files: Map<string, TarEntry>;

  before(function () {
    run = sharedPackage();
    entries = readTgz(run.tgzPath);
    files = new Map(entries.filter((e) => e.type === '0').map((e) => [e.name, e]));
  });

  it('is named after the version and holds everything under bitrix/', function () {
    expect(fs.existsSync(run.tgzPath), run.tgzPath).to.equal(true);
    expect(entries.length).to.be.greaterThan(5);
    for (const e of entries) {
      expect(e.name, e.name).to.match(/^bitrix\//);
      expect(e.name, e.name).not.to.match(/(^|\/)\.\.?(\/|$)/);
      expect(['0', '5'], `${e.name} type`).to.include(e.type);
      expect([e.uid, e.gid], `${e.name} owner`).to.deep.equal([0, 0]);
    }
  });

  it('contains only runtime files', function () {
    for (const name of files.keys()) {
      expect(isRuntimeFile(name.slice('bitrix/'.length)), `${name} should not be packaged`).to.equal(true);
    }
  });

  it('contains module.xml, PHP, config schema, LICENSE, README and the AGI bundles', function () {
    for (const f of ['module.xml', 'config.schema.json', 'LICENSE', 'README.md', ...AGI_SCRIPTS.map((a) => `agi-bin/${a}`)]) {
      expect(files.has(`bitrix/${f}`), f).to.equal(true);
    }
    expect([...files.keys()].some((n) => /^bitrix\/[^/]+\.php$/.test(n)), 'some *.php').to.equal(true);
    expect([...files.keys()].some((n) => /^bitrix\/agi-bin\/itd_bitrix_sqlite3-[^/]+\.node$/.test(n)), 'agi-bin/itd_bitrix_sqlite3-*.node').to.equal(true);
    // every *.php of the module in the work tree is shipped (root, Dialplan/, views/, …)
    for (const f of modulePhpFiles(run.root)) {
      expect(files.has(`bitrix/${f}`), f).to.equal(true);
    }
  });

  it('ships AGI scripts with a node shebang, LF line ends and mode 0755', function () {
    const js = [...files.values()].filter((e) => /^bitrix\/agi-bin\/[^/]+\.js$/.test(e.name));
    expect(js.length).to.be.at.least(AGI_SCRIPTS.length);
    for (const e of js) {
      expect(e.data.subarray(0, 20).toString('latin1'), e.name).to.equal('#!/usr/bin/env node\n');
      expect(e.mode & 0o777, `${e.name} mode`).to.equal(0o755);
    }
    for (const e of files.values()) {
      if (!/\.js$/.test(e.name) || !e.name.includes('/agi-bin/')) expect(e.mode & 0o777, `${e.name} mode`).to.equal(0o644);
    }
  });

  it('matches the work tree byte for byte', function () {
    for (const [name, e] of files) {
      const src = fs.readFileSync(path.join(run.root, name.slice('bitrix/'.length)));
      expect(e.data.equals(src), name).to.equal(true);
    }
  });

  it('is reproducible: a second package run gives the same md5', function () {
    const again = runPackage(run.root, tmpDir('pkg2'));
    expect(md5(fs.readFileSync(again.tgzPath))).to.equal(md5(fs.readFileSync(run.tgzPath)));
  });

  it('uses one version everywhere: package.json, module.xml, tarball name, repository XML', function () {
    const pkg = JSON.parse(fs.readFileSync(path.join(run.root, 'package.json'), 'utf8')).version as string;
    const mod = parseXml(fs.readFileSync(path.join(run.root, 'module.xml'), 'utf8'));
    const shipped = parseXml(files.get('bitrix/module.xml')!.data.toString('utf8'));
    expect(childText(mod, 'version')).to.equal(pkg);
    expect(childText(shipped, 'version')).to.equal(pkg);
    expect(path.basename(run.tgzPath)).to.equal(`bitrix-${pkg}.tgz`);
    for (const v of ['16.0', '17.0']) {
      const m = child(parseXml(fs.readFileSync(path.join(run.out, 'repo', `all-${v}.xml`), 'utf8')), 'module')!;
      expect(childText(m, 'version'), v).to.equal(pkg);
      expect(childText(m, 'location'), v).to.equal(`bitrix/bitrix-${pkg}.tgz`);
    }
  });
});

describe('dist: package.mjs repository', function () {
  this.timeout(120000);
  let run: PackageRun;
  before(function () { run = sharedPackage(); });

  for (const v of ['16.0', '17.0']) {
    it(`all-${v}.xml parses, has the module.xml fields, and md5/sha1/location match the file`, function () {
      const xml = parseXml(fs.readFileSync(path.join(run.out, 'repo', `all-${v}.xml`), 'utf8'));
      expect(xml.name).to.equal('xml');
      const mods = xml.children.filter((c) => c.name === 'module');
      expect(mods).to.have.length(1);
      const m = mods[0];
      const src = parseXml(fs.readFileSync(path.join(run.root, 'module.xml'), 'utf8'));
      expect(childText(m, 'rawname')).to.equal('bitrix');
      for (const f of ['rawname', 'name', 'version', 'license', 'licenselink', 'category', 'publisher', 'repo']) {
        if (child(src, f)) expect(childText(m, f), f).to.equal(childText(src, f));
      }
      for (const f of ['name', 'version', 'license']) expect(childText(m, f), f).not.to.equal('');
      for (const f of ['depends', 'supported', 'menuitems', 'changelog', 'description']) {
        if (child(src, f)) expect(JSON.stringify(child(m, f)), f).to.equal(JSON.stringify(child(src, f)));
      }
      const location = childText(m, 'location');
      const file = path.resolve(run.out, 'repo', 'modules', location);
      expect(file.startsWith(path.resolve(run.out, 'repo', 'modules') + path.sep), location).to.equal(true);
      const data = fs.readFileSync(file);
      expect(childText(m, 'md5sum')).to.equal(md5(data));
      expect(childText(m, 'sha1sum')).to.equal(sha1(data));
      expect(data.equals(fs.readFileSync(run.tgzPath))).to.equal(true);
      for (const f of ['location', 'md5sum', 'sha1sum']) {
        expect(m.children.filter((c) => c.name === f), f).to.have.length(1);
      }
    });
  }
});

describe('dist: package.mjs on a fixture tree', function () {
  this.timeout(60000);
  let root: string;
  before(function () { root = makeFixtureRoot('9.8.7'); });

  it('leaves sources, tests, node_modules, dev configs, docs and dist out', function () {
    const run = runPackage(root, tmpDir('fx'));
    const names = readTgz(run.tgzPath).filter((e) => e.type === '0').map((e) => e.name).sort();
    expect(names).to.deep.equal([
      'bitrix/Bitrix.class.php', 'bitrix/Dialplan/InboundSubroutine.php', 'bitrix/LICENSE', 'bitrix/README.md',
      'bitrix/agi-bin/itd_bitrix.js', 'bitrix/agi-bin/itd_bitrix_hangup.js', 'bitrix/agi-bin/itd_bitrix_incoming.js',
      'bitrix/agi-bin/itd_bitrix_outgoing.js', 'bitrix/agi-bin/itd_bitrix_selftest.js', 'bitrix/agi-bin/itd_bitrix_show.js', `bitrix/agi-bin/${FIXTURE_BINDING}`,
      'bitrix/assets/js/bitrix.js', 'bitrix/config.schema.json',
      'bitrix/i18n/bitrix.pot', 'bitrix/i18n/ru_RU/LC_MESSAGES/bitrix.mo', 'bitrix/i18n/ru_RU/LC_MESSAGES/bitrix.po',
      'bitrix/install.php', 'bitrix/module.xml', 'bitrix/page.itdbitrix.php', 'bitrix/uninstall.php', 'bitrix/views/main.php',
    ]);
    const xml = fs.readFileSync(path.join(run.out, 'repo', 'all-17.0.xml'), 'utf8');
    expect(xml.match(/<location>/g)).to.have.length(1); // module.xml's empty <location/> is replaced
    expect(xml).to.include('&amp;'); // verbatim copy keeps escaping
    expect(fs.existsSync(path.join(run.out, 'repo', 'modules', 'bitrix', 'bitrix-9.8.7.tgz'))).to.equal(true);
  });

  function pkgFails(r: string): string {
    const res = spawnSync(process.execPath, [PACKAGE_SCRIPT, '--root', r, '--out', tmpDir('bad'), '--no-build'], { encoding: 'utf8' });
    expect(res.status).to.equal(1);
    return res.stderr;
  }

  it('refuses a package.json / module.xml version mismatch, naming both', function () {
    const r = makeFixtureRoot('1.2.3');
    fs.writeFileSync(path.join(r, 'package.json'), JSON.stringify({ version: '1.2.4' }));
    const err = pkgFails(r);
    expect(err).to.include('version mismatch');
    expect(err).to.include('1.2.3').and.include('1.2.4');
  });

  it('refuses a malformed module.xml', function () {
    const r = makeFixtureRoot('1.2.3');
    const f = path.join(r, 'module.xml');
    fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('</depends>', '</supported>'));
    expect(pkgFails(r)).to.include('module.xml');
  });

  it('refuses an AGI bundle without a node shebang', function () {
    const r = makeFixtureRoot('1.2.3');
    spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: r });
    fs.writeFileSync(path.join(r, 'agi-bin', 'itd_bitrix_show.js'), '"use strict";\n');
    expect(pkgFails(r)).to.include('itd_bitrix_show.js');
  });
});
