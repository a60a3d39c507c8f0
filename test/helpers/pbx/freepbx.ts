// What a FreePBX 17 box adds around its dialplan: the AstDB entries of its users and devices,
// queues.conf, and dialparties.agi (a PHP AGI; emulated here from FreePBX core release/17.0
// agi-bin/dialparties.agi for the ring-group paths: ringall and hunt, no confirm, no follow-me).
import { execFileSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import type { BuiltinAgi } from './agi';
import { Pbx, PbxOptions, QueueConfig } from './engine';
import { parseDialplan, Dialplan } from './parser';

export const FIXTURE = join(__dirname, 'fixtures', 'freepbx17.conf');

export interface FreepbxUser {
  ext: string;
  name?: string;
}

/** AstDB as FreePBX keeps it for extensions with one PJSIP device each (device = extension). */
export function freepbxAstdb(users: FreepbxUser[]): Record<string, string> {
  const db: Record<string, string> = {};
  for (const u of users) {
    const name = u.name ?? `Ext ${u.ext}`;
    Object.assign(db, {
      [`AMPUSER/${u.ext}/device`]: u.ext,
      [`AMPUSER/${u.ext}/cidname`]: name,
      [`AMPUSER/${u.ext}/cidnum`]: u.ext,
      [`AMPUSER/${u.ext}/ringtimer`]: '0',
      [`AMPUSER/${u.ext}/voicemail`]: 'novm',
      [`AMPUSER/${u.ext}/answermode`]: 'disabled',
      [`AMPUSER/${u.ext}/cwtone`]: '',
      [`DEVICE/${u.ext}/dial`]: `PJSIP/${u.ext}`,
      [`DEVICE/${u.ext}/user`]: u.ext,
      [`DEVICE/${u.ext}/type`]: 'fixed',
      [`DEVICE/${u.ext}/tech`]: 'pjsip',
      [`CW/${u.ext}`]: 'ENABLED',
    });
  }
  return db;
}

/** AstDB from `database put FAMILY KEY "VALUE"` lines (what dump-dialplan.php --astdb writes). */
export function astdbFromPutLines(text: string): Record<string, string> {
  const db: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^database put (\S+) (\S+) "((?:[^"\\]|\\.)*)"\s*$/.exec(line.trim());
    if (m) db[`${m[1]}/${m[2]}`] = m[3].replace(/\\(.)/g, '$1');
    else if (line.trim()) throw new Error(`not a database put line: ${line}`);
  }
  return db;
}

/** queues.conf sections as FreePBX writes them (queues_additional.conf), the keys the test PBX uses. */
export function queuesFromConf(text: string): Record<string, QueueConfig> {
  const out: Record<string, QueueConfig> = {};
  let q: QueueConfig | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/;.*$/, '').trim();
    if (!line) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      q = out[section[1]] = { members: [] };
      continue;
    }
    const eq = line.indexOf('=');
    if (!q || eq < 0) throw new Error(`queues.conf: unexpected line ${raw}`);
    const key = line.slice(0, eq).replace(/>$/, '').trim();
    const value = line.slice(eq + 1).replace(/^>/, '').trim();
    const yes = /^(yes|true|1|on)$/i.test(value);
    if (key === 'member') {
      const [iface, penalty, name] = value.split(',');
      q.members.push({ interface: iface, name: name || iface, penalty: Number(penalty) || 0 });
    } else if (key === 'strategy') q.strategy = value as QueueConfig['strategy'];
    else if (key === 'timeout') q.timeout = Number(value);
    else if (key === 'retry') q.retry = Number(value);
    else if (key === 'setinterfacevar') q.setinterfacevar = yes;
    else if (key === 'setqueuevar') q.setqueuevar = yes;
    else if (key === 'setqueueentryvar') q.setqueueentryvar = yes;
  }
  return out;
}

/** dialparties.agi for ring groups: FILTERED_DIAL, ds, HuntMember<N>, MACRODIALGOTO_PRI. */
export const dialparties: BuiltinAgi = ({ pbx, chan, get, set }) => {
  set('__KEEPCID', 'TRUE');
  set('DIALSTATUS_CW', '');
  const timer = get('ARG1');
  let dialopts = get('ARG2');
  const rgmethod = get('RingGroupMethod');
  const nodest = get('NODEST');
  const exts: string[] = [];
  for (let n = 3; get(`ARG${n}`); n++) exts.push(...get(`ARG${n}`).split('-').filter(Boolean));
  const dialstrings = new Map<string, string>();
  for (const ext of exts) {
    if (pbx.astdb.get(`DND/${ext}`)) continue;
    const state = pbx.deviceState(ext, 'ext-local');
    if ((state === 'INUSE' || state === 'BUSY') && !pbx.astdb.get(`CW/${ext}`)) continue;
    const parts: string[] = [];
    for (const dev of (pbx.astdb.get(`AMPUSER/${ext}/device`) ?? '').split('&').filter(Boolean)) {
      let ds = pbx.astdb.get(`DEVICE/${dev}/dial`) ?? '';
      if (ds.startsWith('PJSIP')) ds = pbx.dialContacts(ds.slice(6));
      if (ds) parts.push(ds);
    }
    if (parts.length) dialstrings.set(ext, parts.join('&'));
  }
  set('FILTERED_DIAL', [...dialstrings.keys()].join('-'));
  const hunt = ['hunt', 'random', 'memoryhunt', 'firstavailable', 'firstnotonphone'].includes(rgmethod);
  if (hunt) {
    // $cidnum is agi_callerid, "unknown" when there is none: always set.
    set('CALLTRACE_HUNT', chan.caller.num || 'unknown');
    let i = 0;
    let memory = '';
    for (const ds of dialstrings.values()) {
      memory = memory ? `${memory}&${ds}` : ds;
      set(`HuntMember${i++}`, rgmethod === 'memoryhunt' ? memory : ds);
    }
  }
  if (nodest && !/U\((macro-auto-blkvm|macro-auto-confirm|macro-confirm)/.test(dialopts)) dialopts += 'U(macro-auto-blkvm)';
  if (get('DIRECTION') === 'INBOUND' || get('FROMQ') === 'true') dialopts = dialopts.replace(/T/g, '');
  const ds = [...dialstrings.values()].join('&');
  if (!ds) return;
  if (hunt) {
    set('ds', `,${timer},${dialopts}`);
    set('HuntMembers', String(dialstrings.size));
    set('MACRODIALGOTO_PRI', 'huntdial');
  } else {
    set('ds', `${ds},${timer},${dialopts}`);
    set('MACRODIALGOTO_PRI', 'normdial');
  }
};

/** A FreePBX box to run calls on: its dialplan, AstDB, queues, and which DID goes where. */
export interface FreepbxFixture {
  name: string;
  dialplan: Dialplan;
  astdb: Record<string, string>;
  queues: Record<string, QueueConfig>;
  dids: { direct: string; queue: string; ringall: string; hunt: string; ivr?: string; followme?: string; responsible?: string };
  /** The Bitrix24 user names of the extensions (CALLERID names differ per fixture). */
  users: FreepbxUser[];
}

/** The hand-written fixture beside this file (contexts condensed from FreePBX core/queues/ringgroups 17). */
export function handFixture(): FreepbxFixture {
  const users = [
    { ext: '101', name: 'Ivan Petrov' },
    { ext: '102', name: 'Anna Smirnova' },
    { ext: '103', name: 'Oleg Fired' },
  ];
  return {
    name: 'hand-written FreePBX 17 fixture',
    dialplan: parseDialplan({ file: FIXTURE, text: readFileSync(FIXTURE, 'utf8') }),
    astdb: freepbxAstdb(users),
    queues: { '400': { strategy: 'ringall', timeout: 15, retry: 5, members: users.map((u) => `Local/${u.ext}@from-queue/n`) } },
    dids: { queue: '74951234567', ringall: '74951234568', hunt: '74951234569', direct: '74951234570' },
    users,
  };
}

/**
 * The dialplan `utests/fixtures/dump-dialplan.php` prints (FreePBX 17 core fixture + the module's
 * real doDialplanHook), with its AstDB seed and queues.conf; undefined when the script or PHP is
 * not there. Local FreePBX AGIs, as with LAUNCH_AGI_AS_FASTAGI off.
 */
export function dumpedFixture(repoRoot = join(__dirname, '..', '..', '..'), extraArgs: string[] = []): FreepbxFixture | undefined {
  const script = join(repoRoot, 'utests', 'fixtures', 'dump-dialplan.php');
  if (!existsSync(script)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'dump-dialplan-'));
  try {
    const text = execFileSync('php', [script, '--fastagi', '0', '--astdb', join(dir, 'astdb'), '--queues', join(dir, 'queues'), ...extraArgs], { encoding: 'utf8' });
    return {
      name: 'utests/fixtures/dump-dialplan.php',
      dialplan: parseDialplan({ file: 'dump-dialplan.php output', text }),
      astdb: astdbFromPutLines(readFileSync(join(dir, 'astdb'), 'utf8')),
      queues: queuesFromConf(readFileSync(join(dir, 'queues'), 'utf8')),
      dids: {
        direct: '74951234567', ringall: '74951234568', queue: '74951234569', hunt: '74951234570', ivr: '74951234571', followme: '74951234572',
        responsible: '74951234573',
      },
      users: ['101', '102', '103', '104', '105'].map((ext) => ({ ext })),
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // no php
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every fixture available here: the hand-written one, and the generated one when it exists. */
export function freepbxFixtures(): FreepbxFixture[] {
  const dumped = dumpedFixture();
  return dumped ? [handFixture(), dumped] : [handFixture()];
}

export interface FreepbxPbxOptions extends Partial<PbxOptions> {
  fixture?: FreepbxFixture;
  agiDir: string;
  spoolDir: string;
}

/** A test PBX around a FreePBX fixture (default: the hand-written one), with dialparties.agi. */
export function freepbxPbx(opts: FreepbxPbxOptions): Pbx {
  const fx = opts.fixture ?? handFixture();
  return new Pbx({
    dialplan: fx.dialplan,
    queues: fx.queues,
    ...opts,
    astdb: { ...fx.astdb, ...opts.astdb },
    builtinAgi: { 'dialparties.agi': dialparties, ...opts.builtinAgi },
  });
}
