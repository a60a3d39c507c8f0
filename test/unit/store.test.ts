// The SQLite store on a real file: leases, first-answer-wins, the shared bucket's headroom.
import { expect } from 'chai';
import { mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { BitrixError } from '../../agi-src/bitrix/errors';
import { Caches, MemoryCaches } from '../../agi-src/store/caches';
import { CallStore } from '../../agi-src/store/calls';
import { Db } from '../../agi-src/store/db';
import { DbRequestGate } from '../../agi-src/store/gate';
import { SCHEMA_VERSION } from '../../agi-src/store/migrations';
import { Outbox } from '../../agi-src/store/outbox';
import { rejects } from '../helpers/assert';

describe('SQLite store', () => {
  let db: Db;
  let path: string;
  beforeEach(async () => {
    path = join(mkdtempSync(join(tmpdir(), 'itd-store-')), 'calls.sqlite');
    db = await Db.open(path, 1000);
  });
  afterEach(() => db.close());

  it('creates the schema once, in WAL mode, and reopens without migrating again', async () => {
    expect(await db.get('PRAGMA journal_mode')).to.deep.equal({ journal_mode: 'wal' });
    expect(await db.get('PRAGMA user_version')).to.deep.equal({ user_version: SCHEMA_VERSION });
    const again = await Db.open(path, 1000);
    expect(await again.get('PRAGMA user_version')).to.deep.equal({ user_version: SCHEMA_VERSION });
    await again.close();
  });

  it('keeps the first answer: a later leg does not move the answer time or the operator', async () => {
    const calls = new CallStore(db);
    await calls.insertIncoming({ uniqueid: 'u1', linkedid: 'l1', callerNumber: '+7916', did: '7495', startedAt: 1000 }, 5000);
    await calls.recordAnswer('u1', { at: 2000, extension: '101', userId: 12, recordingPath: null });
    await calls.recordAnswer('u1', { at: 3000, extension: '102', userId: 15, recordingPath: '/r.wav' });
    expect(await calls.get('u1')).to.include({ answered_at: 2000, operator_ext: '101', operator_user_id: 12, recording_path: '/r.wav' });
  });

  it('leases a due call to one retry run at a time, and skips what this run has seen', async () => {
    const calls = new CallStore(db);
    const outbox = new Outbox(db);
    for (const u of ['a', 'b']) await calls.insertIncoming({ uniqueid: u, linkedid: u, callerNumber: '1', did: '2', startedAt: 1 }, 10);
    expect(await outbox.leaseDueCalls(100, 60_000, 10)).to.deep.equal(['a', 'b']);
    expect(await outbox.leaseDueCalls(200, 60_000, 10), 'leased by the first run').to.deep.equal([]);
    await outbox.release('a');
    expect(await outbox.leaseDueCalls(300, 60_000, 10, ['a'])).to.deep.equal([]);
    expect(await outbox.leaseDueCalls(300, 60_000, 10)).to.deep.equal(['a']);
    expect(await outbox.leaseDueCalls(100_000, 60_000, 10), 'expired leases are taken over').to.deep.equal(['a', 'b']);
  });

  it('a refused step waits as blocked; new credentials make it due again', async () => {
    const calls = new CallStore(db);
    const outbox = new Outbox(db);
    await calls.insertIncoming({ uniqueid: 'a', linkedid: 'a', callerNumber: '1', did: '2', startedAt: 1 }, 10);
    await outbox.failed('a', 'register', 'WRONG_AUTH_TYPE', 100, true);
    expect(await outbox.leaseDueCalls(10_000_000, 1000, 10)).to.deep.equal([]);
    expect(await outbox.summary()).to.include({ blocked: 1, pending: 0 });
    await outbox.unblock(200);
    expect(await outbox.leaseDueCalls(300, 1000, 10)).to.deep.equal(['a']);
  });

  it('memory caches: bounded, expire with the same TTL, write through for the AGI processes', async () => {
    const mem = new MemoryCaches(db, { users: 2, names: 2 });
    await mem.putUser('101', 12, 1000);
    await mem.putUser('102', 15, 1000);
    await mem.putUser('103', null, 1000); // pushes out the least recently used, 101
    expect(mem.sizes().users).to.equal(2);
    expect(await mem.user('103', 2000, 60_000)).to.deep.equal({ userId: null, fetchedAt: 1000 });
    expect(await mem.user('101', 2000, 60_000), 'gone from memory, still in the database').to.deep.equal({ userId: 12, fetchedAt: 1000 });
    expect(await new Caches(db).user('102', 2000, 60_000)).to.deep.equal({ userId: 15, fetchedAt: 1000 });
    await mem.putName('79161234567', 'Иван', 1000);
    expect(await mem.name('79161234567', 1000 + 300_000, 300_000)).to.equal('Иван');
    expect(await mem.name('79161234567', 1000 + 300_001, 300_000), 'expired').to.equal(undefined);
    mem.sweep(1000 + 300_001, { userMs: 3600_000, nameMs: 300_000 });
    expect(mem.sizes().names).to.equal(0);
  });

  it('the shared bucket leaves background work a fifth short of the burst', async () => {
    const now = () => 1_000_000;
    const background = new DbRequestGate(db, 2, 51, 'background', now);
    let admitted = 0;
    for (;;) {
      try {
        await background.acquire('batch', 1_000_000);
        admitted++;
      } catch (err) {
        expect(err).to.be.instanceOf(BitrixError);
        break;
      }
    }
    expect(admitted).to.equal(40);
    const callPath = new DbRequestGate(db, 2, 51, 'call-path', now);
    for (let i = 0; i < 10; i++) await callPath.acquire('batch', 1_000_000);
    await rejects(callPath.acquire('batch', 1_000_000), BitrixError);
  });
});

describe('shared bucket under a locked database', () => {
  it('the call path waits at most half a second for the limiter, then sends anyway; background work waits', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'itd-gate-')), 'calls.sqlite');
    const db = await Db.open(path, 3000);
    const { spawn } = await import('child_process');
    const holder = spawn(process.execPath, [
      '-e',
      `const s=require(${JSON.stringify(require.resolve('sqlite3'))});const d=new s.Database(${JSON.stringify(path)});` +
        `d.exec('BEGIN EXCLUSIVE',()=>{process.stdout.write('locked\\n');setTimeout(()=>d.exec('COMMIT',()=>process.exit(0)),1500)})`,
    ]);
    const released = new Promise((res) => holder.on('exit', res));
    await new Promise<void>((res) => holder.stdout.once('data', () => res()));
    const started = Date.now();
    await new DbRequestGate(db, 2, 50, 'call-path').acquire('batch', Date.now() + 5000);
    const callPath = Date.now() - started;
    await new DbRequestGate(db, 2, 50, 'background').acquire('batch', Date.now() + 5000);
    const background = Date.now() - started;
    expect(callPath).to.be.within(400, 1000);
    expect(background, 'background work waits for the lock').to.be.at.least(1200);
    await released;
    await db.close();
  });
});

describe('hangup journal', () => {
  it('hands every line to one retry run, survives a line cut short, and files taken by a dead run', () => {
    const { appendHangup, journalDone, journalPath, takeJournal } = require('../../agi-src/store/journal') as typeof import('../../agi-src/store/journal');
    const { appendFileSync } = require('fs') as typeof import('fs');
    const db = join(mkdtempSync(join(tmpdir(), 'itd-journal-')), 'calls.sqlite');
    const facts = (u: string) => ({ uniqueid: u, hungupAt: 5, callId: '', recording: '', linkedid: u, did: '7495', callerid: '+7916' });
    appendHangup(db, facts('a'));
    appendHangup(db, facts('b'));
    appendFileSync(journalPath(db), '{"uniqueid":"c","hung');
    const first = takeJournal(db);
    expect(first.flatMap((f) => f.entries.map((e) => e.uniqueid))).to.deep.equal(['a', 'b']);
    appendHangup(db, facts('d'));
    // The first run died before finishing: its file is taken again, with the new one.
    const second = takeJournal(db);
    expect(second.flatMap((f) => f.entries.map((e) => e.uniqueid))).to.deep.equal(['a', 'b', 'd']);
    second.forEach((f) => journalDone(f.file));
    expect(takeJournal(db)).to.deep.equal([]);
  });
});
