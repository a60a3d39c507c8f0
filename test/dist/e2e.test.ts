// End to end: dist/repo/ served over loopback HTTP, fetched the way FreePBX's module admin does
// (POST <repo>/all-<maj.min>.xml, POST <repo>/modules/<location>, md5 check, tar zxf).
import { expect } from 'chai';
import fs from 'fs';
import path from 'path';
import {
  AGI_SCRIPTS, PackageRun, RepoServer, child, childText, md5, parseXml, post, serveDir, sharedPackage, tmpDir, untar,
} from './helpers';

// what FreePBX sends along (modulefunctions get_remote_contents with stats); the server ignores it
const STATS = { installid: 'e2e-test', machineid: 'e2e', sv: '2', phpver: '8.2.7', astver: '20.5.0', modules: 'core,framework' };

describe('dist: end to end through a loopback module repository', function () {
  this.timeout(120000);
  let pkg: PackageRun;
  let repo: RepoServer;
  before(async function () {
    pkg = sharedPackage();
    repo = await serveDir(path.join(pkg.out, 'repo'));
  });
  after(async function () { if (repo) await repo.close(); });

  for (const line of ['16.0', '17.0']) {
    it(`FreePBX ${line}: POST all-${line}.xml, POST the module, md5 ok, unpacks to bitrix/ with executable AGIs`, async function () {
      const list = await post(`${repo.url}/all-${line}.xml`, STATS);
      expect(list.status).to.equal(200);
      const xml = parseXml(list.body.toString('utf8'));
      expect(xml.name).to.equal('xml');
      const mod = xml.children.find((c) => c.name === 'module' && childText(c, 'rawname') === 'bitrix');
      expect(mod, 'bitrix in the list').to.not.equal(undefined);
      const location = childText(mod!, 'location');
      expect(location).to.match(/^bitrix\/bitrix-[\d.]+\.tgz$/);

      const dl = await post(`${repo.url}/modules/${location}`, STATS);
      expect(dl.status).to.equal(200);
      expect(md5(dl.body), 'md5sum').to.equal(childText(mod!, 'md5sum'));

      const cache = tmpDir('e2e');
      const tgz = path.join(cache, path.basename(location));
      fs.writeFileSync(tgz, dl.body);
      untar(tgz, cache);
      fs.unlinkSync(tgz);
      expect(fs.readdirSync(cache)).to.deep.equal(['bitrix']); // FreePBX moves _cache/<rawname>

      const moduleXml = parseXml(fs.readFileSync(path.join(cache, 'bitrix', 'module.xml'), 'utf8'));
      expect(childText(moduleXml, 'rawname')).to.equal('bitrix');
      expect(childText(moduleXml, 'version')).to.equal(pkg.version);
      expect(childText(moduleXml, 'version')).to.equal(childText(mod!, 'version'));
      expect(child(moduleXml, 'menuitems')).to.not.equal(undefined);

      for (const a of AGI_SCRIPTS) {
        const f = path.join(cache, 'bitrix', 'agi-bin', a);
        expect(fs.statSync(f).mode & 0o755, a).to.equal(0o755);
        expect(fs.readFileSync(f).subarray(0, 20).toString('latin1'), a).to.equal('#!/usr/bin/env node\n');
      }
    });
  }

  it('the requests were POSTs to the paths FreePBX derives from MODULE_REPO', function () {
    const posts = repo.requests.filter((q) => q.method === 'POST').map((q) => q.path);
    expect(posts).to.include('/all-17.0.xml').and.include('/all-16.0.xml');
    expect(posts).to.include(`/modules/bitrix/bitrix-${pkg.version}.tgz`);
    expect(repo.requests.every((q) => q.method !== 'POST' || q.body.includes('installid='))).to.equal(true);
  });
});
