// A real config file in a temp folder, as the module writes it.
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { tempDir } from './tmp';

export interface TestSetup {
  dir: string;
  configPath: string;
  dbPath: string;
  logPath: string;
  config: Record<string, unknown>;
  write(changes?: Record<string, unknown>): void;
  log(): string;
}

export function testSetup(config: Record<string, unknown>): TestSetup {
  const dir = tempDir('itd-bitrix-');
  const setup: TestSetup = {
    dir,
    configPath: join(dir, 'itd_bitrix.json'),
    dbPath: join(dir, 'itd_bitrix.sqlite'),
    logPath: join(dir, 'itd_bitrix.log'),
    config: {},
    write(changes = {}) {
      setup.config = { ...setup.config, ...changes };
      writeFileSync(setup.configPath, JSON.stringify(setup.config, null, 2), { mode: 0o640 });
    },
    log() {
      try {
        return readFileSync(setup.logPath, 'utf8');
      } catch {
        return '';
      }
    },
  };
  setup.config = {
    version: 1,
    enabled: true,
    dids: ['74951234567'],
    defaultUserId: 1,
    countryCode: '7',
    databasePath: setup.dbPath,
    logPath: setup.logPath,
    logLevel: 'debug',
    ...config,
  };
  setup.write();
  return setup;
}
