// Files the runtime creates: private modes, and owned by the asterisk user when root creates them.
import { expect } from 'chai';
import { statSync } from 'fs';
import { join } from 'path';
import { fileOwner } from '../../agi-src/config/owner';
import { Logger } from '../../agi-src/log/logger';
import { tempDir } from '../helpers/tmp';

describe('files the runtime creates', () => {
  it('the log (caller numbers, CRM names) is created 0640, like the database', () => {
    const path = join(tempDir('itd-log-'), 'itd_bitrix.log');
    new Logger('test', path).info('call from +79161234567 (Иван Петров)');
    expect(statSync(path).mode & 0o777).to.equal(0o640);
  });

  it('the log and its folder are handed to the owner when root creates them', () => {
    const dir = tempDir('itd-log-');
    const claimed: string[] = [];
    const log = new Logger('test', join(dir, 'boot.log'));
    log.configure({ path: join(dir, 'a', 'b', 'itd_bitrix.log'), claim: (p) => claimed.push(p) });
    log.info('one');
    log.info('two');
    expect(claimed).to.deep.equal([join(dir, 'a'), join(dir, 'a', 'b'), join(dir, 'a', 'b', 'itd_bitrix.log')]);
  });

  describe('who owns what the CLI creates', () => {
    const passwd = 'root:x:0:0:root:/root:/bin/bash\nasterisk:x:995:994:Asterisk PBX:/var/lib/asterisk:/sbin/nologin\n';
    const deps = (uid: number, configOwner: { uid: number; gid: number } | null) => ({
      getuid: () => uid,
      stat: (p: string) => {
        if (!configOwner) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
        return configOwner;
      },
      passwd: () => passwd,
    });

    it('not root: nobody is changed (files are the running user\'s)', () => {
      expect(fileOwner('/etc/asterisk/itd_bitrix.json', deps(995, { uid: 995, gid: 994 }))).to.equal(null);
    });
    it('root: the owner of the config file', () => {
      expect(fileOwner('/etc/asterisk/itd_bitrix.json', deps(0, { uid: 1001, gid: 1002 }))).to.deep.equal({ uid: 1001, gid: 1002 });
    });
    it('root, config owned by root: the asterisk user', () => {
      expect(fileOwner('/etc/asterisk/itd_bitrix.json', deps(0, { uid: 0, gid: 994 }))).to.deep.equal({ uid: 995, gid: 994 });
      expect(fileOwner('/etc/asterisk/itd_bitrix.json', deps(0, null))).to.deep.equal({ uid: 995, gid: 994 });
    });
    it('root, no asterisk user anywhere: nothing to hand over', () => {
      expect(fileOwner('/x.json', { ...deps(0, { uid: 0, gid: 0 }), passwd: () => 'root:x:0:0::/root:/bin/sh\n' })).to.equal(null);
    });
  });
});
