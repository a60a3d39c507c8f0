// The SQLite store on a real file: leases, first-answer-wins, the shared bucket's headroom.
import { expect } from 'chai';
import { appendFileSync, symlinkSync } from 'fs';
import { join } from 'path';
import { BitrixError } from '../../agi-src/bitrix/errors';
import { Caches, MemoryCaches } from '../../agi-src/store/caches';
import { CallStore } from '../../agi-src/store/calls';
import { Db } from '../../agi-src/store/db';
import { appendHangup, journalDone, journalPath, markApplied, takeJournal } from '../../agi-src/store/journal';
import { DbRequestGate } from '../../agi-src/store/gate';
import { SCHEMA_VERSION } from '../../agi-src/store/migrations';
import { Leases } from '../../agi-src/store/leases';
import { Outbox } from '../../agi-src/store/outbox';
import { rejects } from '../helpers/assert';
import { tempDir } from '../helpers/tmp';

describe('SQLite store', () => {
  let db: Db;
  let path: string;
  beforeEach(async () => {
    path = join(tempDir('itd-store-'), 'calls.sqlite');
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

  it('records the answer fact as given: the same operator keeps the user found for them, another one replaces it', async () => {
    const calls = new CallStore(db);
    await calls.insertIncoming({ uniqueid: 'u1', linkedid: 'l1', callerNumber: '+7916', did: '7495', startedAt: 1000 }, 5000);
    await calls.recordAnswer('u1', { at: 2000, extension: '101', userId: 12, recordingPath: null }, 2100);
    await calls.recordAnswer('u1', { at: 2000, extension: '101', userId: null, recordingPath: '/r.wav' }, 2200);
    expect(await calls.get('u1')).to.include({ answered_at: 2000, operator_ext: '101', operator_user_id: 12, recording_path: '/r.wav' });
    await calls.recordAnswer('u1', { at: 1900, extension: '102', userId: null, recordingPath: '/other.wav' }, 2300);
    expect(await calls.get('u1')).to.include({ answered_at: 1900, operator_ext: '102', operator_user_id: null, recording_path: '/r.wav' });
  });

  it('a transfer: the card shown to the new operator, hidden for the one before; the first answer stays the talk time\'s start', async () => {
    const calls = new CallStore(db);
    await calls.insertIncoming({ uniqueid: 'u2', linkedid: 'l2', callerNumber: '+7916', did: '7495', startedAt: 1000 }, 5000);
    await calls.recordAnswer('u2', { at: 2000, extension: '101', userId: 12, recordingPath: null }, 2100);
    await calls.updateShownUsers('u2', [12], [], 2100);
    await calls.recordAnswer('u2', { at: 2000, extension: '102', userId: 15, recordingPath: null }, 9000);
    await calls.updateShownUsers('u2', [15], [], 9000);
    await calls.updateShownUsers('u2', [], [12], 9001);
    expect(await calls.get('u2')).to.include({ answered_at: 2000, operator_ext: '102', operator_user_id: 15, shown_user_ids: '[15]' });
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
    expect((await outbox.summary(10_000_000)).steps).to.include({ held: 1, due: 0, waiting: 0 });
    await outbox.unblock(200);
    expect(await outbox.leaseDueCalls(300, 1000, 10)).to.deep.equal(['a']);
  });

  it('never purges a finished call whose recording is still held for credentials', async () => {
    const calls = new CallStore(db);
    const outbox = new Outbox(db);
    await calls.insertIncoming({ uniqueid: 'r', linkedid: 'r', callerNumber: '1', did: '2', startedAt: 1000 }, 1000);
    await calls.markRegistered('r', 'externalCall.r', null, 1100);
    await calls.recordHangup('r', { hungupAt: 2000, recordingPath: '/rec.wav', finishUserId: 12, finishDuration: 5, finishStatus: '200', attach: true }, 2000);
    await calls.markFinished('r', 2100);
    await outbox.failed('r', 'attach', 'WRONG_AUTH_TYPE', 2200, true);
    expect(await calls.purge(10_000_000), 'the recording would be lost').to.equal(0);
    expect(await calls.get('r')).to.include({ state: 'finished' });
    await calls.markStepDone('r', 'attach');
    expect(await calls.purge(10_000_000)).to.equal(1);
  });

  it('a failed step holds back the rest of its call until the next attempt', async () => {
    const calls = new CallStore(db);
    const outbox = new Outbox(db);
    await calls.insertIncoming({ uniqueid: 'b', linkedid: 'b', callerNumber: '1', did: '2', startedAt: 1 }, 10);
    await calls.recordHangup('b', { hungupAt: 20, recordingPath: null, finishUserId: 1, finishDuration: 0, finishStatus: '304', attach: false }, 20);
    await outbox.failed('b', 'register', 'TRANSPORT', 100, false);
    expect(await outbox.leaseDueCalls(100 + 29_999, 1000, 10), 'finish is due, but not before register').to.deep.equal([]);
    expect(await outbox.leaseDueCalls(100 + 30_000, 1000, 10)).to.deep.equal(['b']);
  });

  it('one retry run at a time: a named lease, taken over once it expires', async () => {
    const leases = new Leases(db);
    expect(await leases.take('retry', 'run-a', 1000, 60_000)).to.deep.equal({ ok: true });
    expect(await leases.take('retry', 'run-b', 2000, 60_000)).to.deep.equal({ ok: false, until: 61_000 });
    await leases.release('retry', 'run-b');
    expect(await leases.take('retry', 'run-b', 3000, 60_000), 'only the holder releases').to.deep.equal({ ok: false, until: 61_000 });
    expect(await leases.take('retry', 'run-b', 61_001, 60_000), 'run-a died: its lease expired').to.deep.equal({ ok: true });
    await leases.release('retry', 'run-b');
    expect(await leases.take('retry', 'run-c', 61_002, 1000)).to.deep.equal({ ok: true });
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

describe('shared bucket and a clock that steps back', () => {
  let db: Db;
  beforeEach(async () => {
    db = await Db.open(join(tempDir('itd-clock-'), 'calls.sqlite'), 1000);
  });
  afterEach(() => db.close());

  it('holds a request no longer than the bucket would without the step', async () => {
    let offset = 0;
    const clock = () => Date.now() + offset;
    const gate = new DbRequestGate(db, 2, 6, 'call-path', clock); // 5 at once, then 2/s
    for (let i = 0; i < 5; i++) await gate.acquire('batch', clock() + 1000);
    offset = -3600_000; // NTP steps the clock back an hour
    // The next slot drains in half a second: well inside this deadline, step or no step.
    await gate.acquire('batch', clock() + 3000);
    await gate.acquire('batch', clock() + 3000);
  });

  it('an OPERATION_TIME_LIMIT pause does not grow by the step either', async () => {
    let offset = 0;
    const clock = () => Date.now() + offset;
    const gate = new DbRequestGate(db, 2, 50, 'call-path', clock);
    await gate.pauseMethod('telephony.externalcall.register', clock() + 2 * 3600_000); // a portal clock hours ahead
    await gate.acquire('telephony.externalcall.register', clock() + 1000).then(
      () => expect.fail('paused'),
      (err: BitrixError) => expect(err.code).to.equal('OPERATION_TIME_LIMIT'),
    );
    // The operating limit resets within 10 minutes: a pause ending further ahead than that is a
    // clock's doing (here: ours stepped back an hour) and would hold the method for 70 minutes.
    offset = -3600_000;
    await gate.acquire('telephony.externalcall.register', clock() + 1000);
  });
});

describe('shared bucket under a locked database', () => {
  it('the call path waits at most half a second for the limiter, then sends anyway; background work waits', async () => {
    const path = join(tempDir('itd-gate-'), 'calls.sqlite');
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
  const facts = (u: string, hungupAt = 5) => ({ uniqueid: u, hungupAt, callId: '', recording: '', linkedid: u, did: '7495', callerid: '+7916' });

  it('hands every line to one retry run, survives a line cut short, and files taken by a dead run', () => {
    const db = join(tempDir('itd-journal-'), 'calls.sqlite');
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

  it('a line the handler marked applied is not handed out again, wherever the mark landed', () => {
    const db = join(tempDir('itd-journal-'), 'calls.sqlite');
    appendHangup(db, facts('a'));
    appendHangup(db, facts('b'));
    markApplied(db, 'a');
    const first = takeJournal(db);
    expect(first.flatMap((f) => f.entries.map((e) => e.uniqueid))).to.deep.equal(['b']);
    // A retry took the file between a line and its mark: the mark is in the next file.
    markApplied(db, 'b');
    expect(takeJournal(db).flatMap((f) => f.entries.map((e) => e.uniqueid))).to.deep.equal([]);
  });

  it('a file another run took away meanwhile is skipped, not an error', () => {
    const dir = tempDir('itd-journal-');
    const db = join(dir, 'calls.sqlite');
    appendHangup(db, facts('a'));
    // What readdir listed and then vanished before it was read (the other run applied and deleted it).
    symlinkSync(join(dir, 'gone'), `${journalPath(db)}.000000000000001.1.1`);
    const taken = takeJournal(db);
    expect(taken.flatMap((f) => f.entries.map((e) => e.uniqueid))).to.deep.equal(['a']);
    taken.forEach((f) => journalDone(f.file));
    expect(() => taken.forEach((f) => journalDone(f.file)), 'deleted twice').not.to.throw();
  });
});
