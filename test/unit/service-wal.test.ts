// The resident service's WAL under steady writes: its checkpoints let the file start over, so it
// stays the size of a checkpoint interval instead of growing for as long as the load lasts.
import { expect } from 'chai';
import { statSync } from 'fs';
import { loadConfig } from '../../agi-src/config/load';
import { Logger } from '../../agi-src/log/logger';
import { ServiceBackend } from '../../agi-src/service/backend';
import { testSetup } from '../helpers/config';

describe('the resident service database under steady writes', () => {
  it('the WAL starts over while statements keep committing during the checkpoints', async () => {
    const t = testSetup({ webhookUrl: 'http://127.0.0.1:9/rest/1/unused/' });
    const backend = new ServiceBackend(loadConfig(t.configPath), new Logger('test', t.logPath));
    const { db } = await backend.stores();
    await db.exec('CREATE TABLE pad (x BLOB)');
    await backend.maintain(loadConfig(t.configPath)); // opens its checkpoint connection
    let done = false;
    const writes = (async () => {
      // ~75 MB in small commits, as the steps write them, one after another.
      for (let i = 0; i < 6000; i++) await db.run('INSERT INTO pad (x) VALUES (randomblob(5000))');
      done = true;
    })();
    let checkpoints = 0;
    while (!done) {
      await backend.maintain(loadConfig(t.configPath));
      checkpoints++;
      await new Promise((r) => setTimeout(r, 20));
    }
    await writes;
    const walMB = statSync(`${t.dbPath}-wal`).size / 2 ** 20;
    await backend.close();
    expect(checkpoints).to.be.greaterThan(3);
    // Never starting over, it would hold all of it. Starting over, the file keeps the size it
    // reached in the longest interval between two checkpoints (≤ 25 MB measured on a busy machine).
    expect(walMB, `WAL ${walMB.toFixed(1)} MB after ${checkpoints} checkpoints`).to.be.below(40);
  });
});
