// The resident service's WAL under steady writes: its checkpoints let the file start over, so it
// stays the size of a checkpoint interval instead of growing for as long as the load lasts.
import { expect } from 'chai';
import { closeSync, openSync, readSync } from 'fs';
import { loadConfig } from '../../agi-src/config/load';
import { Logger } from '../../agi-src/log/logger';
import { ServiceBackend } from '../../agi-src/service/backend';
import { testSetup } from '../helpers/config';

/** The WAL header's checkpoint sequence number: SQLite adds one each time the WAL starts over. */
function walRestarts(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, 12);
    return b.readUInt32BE(0);
  } finally {
    closeSync(fd);
  }
}

describe('the resident service database under steady writes', () => {
  it('the WAL starts over while statements keep committing during the checkpoints', async () => {
    const t = testSetup({ webhookUrl: 'http://127.0.0.1:9/rest/1/unused/' });
    const config = loadConfig(t.configPath);
    const backend = new ServiceBackend(config, new Logger('test', t.logPath));
    const { db } = await backend.stores();
    await db.exec('CREATE TABLE pad (x BLOB)');
    await backend.maintain(config); // opens its checkpoint connection
    const before = walRestarts(`${t.dbPath}-wal`);
    let done = false;
    const writes = (async () => {
      // ~75 MB in small commits, as the steps write them, one after another.
      for (let i = 0; i < 6000; i++) await db.run('INSERT INTO pad (x) VALUES (randomblob(5000))');
      done = true;
    })();
    let checkpoints = 0;
    while (!done) {
      await backend.maintain(config);
      checkpoints++;
      await new Promise((r) => setTimeout(r, 20));
    }
    await writes;
    const restarts = walRestarts(`${t.dbPath}-wal`) - before;
    await backend.close();
    // Measured: 7–12 restarts; without the steps' own checkpoint 0–1 (by chance) and 76 MB of WAL.
    expect(checkpoints).to.be.greaterThan(3);
    expect(restarts, `${restarts} restarts in ${checkpoints} checkpoints`).to.be.at.least(2);
  });
});
