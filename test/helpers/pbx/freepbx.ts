// What a FreePBX 17 box adds around its dialplan: the AstDB entries of its users and devices,
// queues.conf, and dialparties.agi (a PHP AGI; emulated here from FreePBX core release/17.0
// agi-bin/dialparties.agi for the ring-group paths: ringall and hunt, no confirm, no follow-me).
import { existsSync, readFileSync } from 'fs';
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

/** The fixture's queue 400: ring-all over Local members, as FreePBX writes queues_additional.conf. */
export function freepbxQueues(members = ['101', '102'], strategy: QueueConfig['strategy'] = 'ringall'): Record<string, QueueConfig> {
  return { '400': { strategy, timeout: 15, retry: 5, members: members.map((m) => `Local/${m}@from-queue/n`) } };
}

/** dialparties.agi for ring groups: FILTERED_DIAL, ds, HuntMember<N>, MACRODIALGOTO_PRI. */
export const dialparties: BuiltinAgi = ({ pbx, get, set }) => {
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

/**
 * The FreePBX-shaped dialplan. `path` may point at another generated dump (e.g. the one
 * utests/fixtures/dump-dialplan.php prints); default: this folder's hand-written fixture.
 */
export function freepbxDialplan(path = FIXTURE): Dialplan {
  if (!existsSync(path)) throw new Error(`no dialplan fixture at ${path}`);
  return parseDialplan({ file: path, text: readFileSync(path, 'utf8') });
}

export interface FreepbxPbxOptions extends Partial<PbxOptions> {
  users?: FreepbxUser[];
  agiDir: string;
  spoolDir: string;
}

/** A test PBX around the FreePBX fixture: users 101–103, queue 400, dialparties. */
export function freepbxPbx(opts: FreepbxPbxOptions): Pbx {
  const users = opts.users ?? [
    { ext: '101', name: 'Ivan Petrov' },
    { ext: '102', name: 'Anna Smirnova' },
    { ext: '103', name: 'Oleg Fired' },
  ];
  return new Pbx({
    dialplan: freepbxDialplan(),
    queues: freepbxQueues(),
    ...opts,
    astdb: { ...freepbxAstdb(users), ...opts.astdb },
    builtinAgi: { 'dialparties.agi': dialparties, ...opts.builtinAgi },
  });
}
