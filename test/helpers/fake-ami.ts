// A strict fake of Asterisk's manager interface (AMI) on loopback, speaking what Asterisk 20–22
// sends (recorded on the Asterisk 22.10.1 lab, /work/lab/FINDINGS.md): the banner, Login and its
// refusal (the connection is closed), FullyBooted, Ping, DBGet and CoreShowChannels as lists,
// Originate (Async) answered "queued" and then an OriginateResponse event carrying the ActionID,
// Newchannel / Hangup events of the Local pair, event classes filtered by the Login's Events;
// Getvar / Setvar on a channel (manager.c action_getvar/action_setvar: a name ending in ")" is a
// function, read or written on that channel), and the BlindTransfer / AttendedTransfer events
// with the fields main/stasis_bridges.c blind_transfer_to_ami / attended_transfer_to_ami write,
// channel snapshots as manager_channels.c and bridge snapshots as manager_bridges.c build them
// (Asterisk 22.9).
import { createServer, Server, Socket } from 'net';
import type { AddressInfo } from 'net';

export type Msg = Record<string, string>;

export interface OriginateRequest {
  actionId: string;
  channel: string;
  context: string;
  exten: string;
  priority: string;
  callerId: string;
  timeout: string;
  channelId: string;
  variables: string[];
}

/**
 * What happens to an originated call: the agent answers (the call then lives until hangup()), or
 * the originate fails with Asterisk's reason (3 no answer, 5 busy, 8 congestion, 0 failed).
 */
export type OriginateOutcome = { answer: true; afterMs?: number } | { answer: false; reason: number; afterMs?: number };

/** A channel as an AMI snapshot describes it (ast_manager_build_channel_state_string_prefix). */
export interface ChannelSnapshot {
  channel: string;
  /** ast_channel_state: 6 Up, 5 Ringing, 4 Ring, 0 Down. */
  state?: number;
  callerIdNum?: string;
  callerIdName?: string;
  connectedLineNum?: string;
  connectedLineName?: string;
  language?: string;
  accountCode?: string;
  context: string;
  exten: string;
  priority?: number;
  uniqueid: string;
  linkedid: string;
}

/** A bridge as an AMI snapshot describes it (ast_manager_build_bridge_state_string_prefix). */
export interface BridgeSnapshot {
  uniqueid: string;
  /** "basic" for the bridges Dial, Queue and transfers make. */
  type?: string;
  technology?: string;
  numChannels: number;
}

/**
 * Where Getvar/Setvar find channels: undefined = "No such channel". The default keeps variables
 * in memory (setChannel()); a test PBX can answer for its own live channels instead.
 */
export interface ChannelVariables {
  get(channel: string, variable: string): string | undefined;
  set(channel: string, variable: string, value: string): boolean;
}

const STATE_DESC: Record<number, string> = { 0: 'Down', 4: 'Ring', 5: 'Ringing', 6: 'Up' };

function channelFields(prefix: string, c: ChannelSnapshot): Array<[string, string]> {
  const state = c.state ?? 6;
  return [
    [`${prefix}Channel`, c.channel],
    [`${prefix}ChannelState`, String(state)],
    [`${prefix}ChannelStateDesc`, STATE_DESC[state] ?? 'Unknown'],
    [`${prefix}CallerIDNum`, c.callerIdNum || '<unknown>'],
    [`${prefix}CallerIDName`, c.callerIdName || '<unknown>'],
    [`${prefix}ConnectedLineNum`, c.connectedLineNum || '<unknown>'],
    [`${prefix}ConnectedLineName`, c.connectedLineName || '<unknown>'],
    [`${prefix}Language`, c.language ?? 'en'],
    [`${prefix}AccountCode`, c.accountCode ?? ''],
    [`${prefix}Context`, c.context],
    [`${prefix}Exten`, c.exten],
    [`${prefix}Priority`, String(c.priority ?? 1)],
    [`${prefix}Uniqueid`, c.uniqueid],
    [`${prefix}Linkedid`, c.linkedid],
  ];
}

function bridgeFields(prefix: string, b: BridgeSnapshot): Array<[string, string]> {
  return [
    [`${prefix}BridgeUniqueid`, b.uniqueid],
    [`${prefix}BridgeType`, b.type ?? 'basic'],
    [`${prefix}BridgeTechnology`, b.technology ?? 'simple_bridge'],
    [`${prefix}BridgeCreator`, '<unknown>'],
    [`${prefix}BridgeName`, '<unknown>'],
    [`${prefix}BridgeNumChannels`, String(b.numChannels)],
    [`${prefix}BridgeVideoSourceMode`, 'none'],
  ];
}

export type TransferResult = 'Fail' | 'Invalid' | 'Not Permitted' | 'Success';

export interface BlindTransferEvent {
  result: TransferResult;
  transferer: ChannelSnapshot;
  transferee?: ChannelSnapshot;
  bridge?: BridgeSnapshot;
  isExternal: boolean;
  context: string;
  extension: string;
}

export interface AttendedTransferEvent {
  result: TransferResult;
  origTransferer: ChannelSnapshot;
  origBridge?: BridgeSnapshot;
  secondTransferer: ChannelSnapshot;
  secondBridge?: BridgeSnapshot;
  transferee?: ChannelSnapshot;
  transferTarget?: ChannelSnapshot;
  isExternal: boolean;
  dest:
    | { type: 'Bridge'; bridgeUniqueid: string }
    | { type: 'App'; app: string }
    | { type: 'Link'; localOne: ChannelSnapshot; localTwo: ChannelSnapshot }
    | { type: 'Threeway'; bridgeUniqueid: string; transfererChannel: string }
    | { type: 'Fail' };
}

interface Session {
  socket: Socket;
  authenticated: boolean;
  events: Set<string> | 'all' | 'none';
  buffer: string;
}

const CRLF = '\r\n';

function format(msg: Array<[string, string]>): string {
  return msg.map(([k, v]) => `${k}: ${v}${CRLF}`).join('') + CRLF;
}

/** "call,system" → the classes; on/all → all; off/none → none (manager.c's set_eventmask). */
function eventMask(value: string | undefined): Session['events'] {
  const v = (value ?? 'on').trim().toLowerCase();
  if (v === 'on' || v === 'all' || v === 'yes' || v === 'true' || v === '') return 'all';
  if (v === 'off' || v === 'no' || v === 'false' || v === 'none') return 'none';
  return new Set(v.split(',').map((s) => s.trim()));
}

export class FakeAmi {
  readonly actions: Msg[] = [];
  readonly originates: OriginateRequest[] = [];
  /** AstDB as FreePBX fills it: AMPUSER/<ext>/device for every extension. */
  readonly astdb = new Map<string, string>();
  onOriginate: (o: OriginateRequest) => OriginateOutcome = () => ({ answer: true });
  /** Refuse every Originate with this message (a manager user without the originate right). */
  refuseOriginate: string | null = null;
  /** Delay before a refused login is answered (Asterisk sleeps 1 s). */
  loginFailDelayMs = 20;
  logins = 0;
  /** A hung Asterisk: actions are read and never answered. */
  stalled = false;
  /** Channel variables in memory (setChannel()), unless a test wires `channelVariables` to its PBX. */
  private readonly memoryChannels = new Map<string, Map<string, string>>();
  channelVariables: ChannelVariables = {
    get: (channel, variable) => {
      const vars = this.memoryChannels.get(channel);
      return vars ? (vars.get(variable) ?? '') : undefined;
    },
    set: (channel, variable, value) => {
      const vars = this.memoryChannels.get(channel);
      if (!vars) return false;
      vars.set(variable, value);
      return true;
    },
  };
  private server: Server;
  private readonly sessions = new Set<Session>();
  private readonly channels = new Map<string, { name: string; linkedid: string; exten: string; context: string }>();
  private seq = 0x50;
  private usedIds = new Set<string>();
  private down = false;

  private constructor(
    server: Server,
    readonly port: number,
    readonly username: string,
    readonly secret: string,
  ) {
    this.server = server;
  }

  static async start(opts: { username?: string; secret?: string; port?: number } = {}): Promise<FakeAmi> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    const fake = new FakeAmi(server, (server.address() as AddressInfo).port, opts.username ?? 'admin', opts.secret ?? 'amp111');
    server.on('connection', (socket) => fake.onConnection(socket));
    return fake;
  }

  /** Asterisk restarting: every connection is closed; new ones are refused until up(). */
  goDown(): void {
    this.down = true;
    for (const s of this.sessions) s.socket.destroy();
    this.sessions.clear();
  }

  up(): void {
    this.down = false;
  }

  connectedSessions(): number {
    return [...this.sessions].filter((s) => s.authenticated).length;
  }

  /** A channel Getvar/Setvar can find (in-memory variables), with what the dialplan set on it. */
  setChannel(name: string, vars: Record<string, string> = {}): void {
    this.memoryChannels.set(name, new Map(Object.entries(vars)));
  }

  /** The in-memory variables of a channel (Setvar writes `SHARED(X)` under that name). */
  channelVars(name: string): Map<string, string> | undefined {
    return this.memoryChannels.get(name);
  }

  /** What Asterisk sends when a blind transfer is done (or refused), to sessions with the call class. */
  emitBlindTransfer(e: BlindTransferEvent): void {
    this.broadcast('call', [
      ['Event', 'BlindTransfer'],
      ['Privilege', 'call,all'],
      ['Result', e.result],
      ...channelFields('Transferer', e.transferer),
      ...(e.transferee ? channelFields('Transferee', e.transferee) : []),
      ...(e.bridge ? bridgeFields('', e.bridge) : []),
      ['IsExternal', e.isExternal ? 'Yes' : 'No'],
      ['Context', e.context],
      ['Extension', e.extension],
    ]);
  }

  /** What Asterisk sends when an attended transfer completes (or fails). */
  emitAttendedTransfer(e: AttendedTransferEvent): void {
    const dest: Array<[string, string]> = [['DestType', e.dest.type]];
    if (e.dest.type === 'Bridge') dest.push(['DestBridgeUniqueid', e.dest.bridgeUniqueid]);
    else if (e.dest.type === 'App') dest.push(['DestApp', e.dest.app]);
    else if (e.dest.type === 'Link') dest.push(...channelFields('LocalOne', e.dest.localOne), ...channelFields('LocalTwo', e.dest.localTwo));
    else if (e.dest.type === 'Threeway') dest.push(['DestBridgeUniqueid', e.dest.bridgeUniqueid], ['DestTransfererChannel', e.dest.transfererChannel]);
    this.broadcast('call', [
      ['Event', 'AttendedTransfer'],
      ['Privilege', 'call,all'],
      ['Result', e.result],
      ...channelFields('OrigTransferer', e.origTransferer),
      ...(e.origBridge ? bridgeFields('Orig', e.origBridge) : []),
      ...channelFields('SecondTransferer', e.secondTransferer),
      ...(e.secondBridge ? bridgeFields('Second', e.secondBridge) : []),
      ...(e.transferee ? channelFields('Transferee', e.transferee) : []),
      ...(e.transferTarget ? channelFields('TransferTarget', e.transferTarget) : []),
      ['IsExternal', e.isExternal ? 'Yes' : 'No'],
      ...dest,
    ]);
  }

  /** Channels that are up now (CoreShowChannels sees them), by uniqueid. */
  liveChannels(): string[] {
    return [...this.channels.keys()];
  }

  /** The originated call ends: the ;2 half, then the ;1 half (its uniqueid is the ChannelId). */
  hangup(uniqueid: string, cause = 16): void {
    const ch = this.channels.get(uniqueid);
    if (!ch) throw new Error(`fake AMI: no live channel ${uniqueid}`);
    this.channels.delete(uniqueid);
    const txt = cause === 16 ? 'Normal Clearing' : cause === 17 ? 'User busy' : cause === 19 ? 'User alerting, no answer' : 'Unknown';
    for (const half of [';2', ';1']) {
      this.broadcast('call', [
        ['Event', 'Hangup'],
        ['Privilege', 'call,all'],
        ['Channel', `${ch.name}${half}`],
        ['ChannelState', '6'],
        ['ChannelStateDesc', 'Up'],
        ['CallerIDNum', ch.exten],
        ['CallerIDName', `Ext ${ch.exten}`],
        ['Context', ch.context],
        ['Exten', ch.exten],
        ['Priority', '1'],
        ['Uniqueid', half === ';1' ? uniqueid : `${uniqueid};2`],
        ['Linkedid', ch.linkedid],
        ['Cause', String(cause)],
        ['Cause-txt', txt],
      ]);
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sessions) s.socket.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private onConnection(socket: Socket): void {
    if (this.down) {
      socket.destroy();
      return;
    }
    const session: Session = { socket, authenticated: false, events: 'all', buffer: '' };
    this.sessions.add(session);
    socket.setEncoding('latin1');
    socket.on('close', () => this.sessions.delete(session));
    socket.on('error', () => undefined);
    socket.write(`Asterisk Call Manager/11.0.0${CRLF}`);
    socket.on('data', (chunk: string) => {
      session.buffer += chunk;
      for (;;) {
        const end = session.buffer.indexOf(CRLF + CRLF);
        if (end < 0) break;
        const block = session.buffer.slice(0, end);
        session.buffer = session.buffer.slice(end + 4);
        const msg: Msg = {};
        const variables: string[] = [];
        for (const line of block.split(CRLF)) {
          const i = line.indexOf(':');
          if (i <= 0) continue;
          const k = line.slice(0, i).trim();
          const v = line.slice(i + 1).trim();
          if (k.toLowerCase() === 'variable') variables.push(v);
          else msg[k] = v;
        }
        this.onAction(session, msg, variables);
      }
    });
  }

  private reply(session: Session, fields: Array<[string, string]>): void {
    if (!session.socket.destroyed) session.socket.write(format(fields));
  }

  private withId(msg: Msg, fields: Array<[string, string]>): Array<[string, string]> {
    return msg.ActionID !== undefined ? [fields[0], ['ActionID', msg.ActionID], ...fields.slice(1)] : fields;
  }

  private error(session: Session, msg: Msg, message: string): void {
    this.reply(session, this.withId(msg, [['Response', 'Error'], ['Message', message]]));
  }

  private broadcast(cls: string, fields: Array<[string, string]>): void {
    for (const s of this.sessions) {
      if (!s.authenticated || s.events === 'none') continue;
      if (s.events !== 'all' && !s.events.has(cls)) continue;
      this.reply(s, fields);
    }
  }

  private onAction(session: Session, msg: Msg, variables: string[]): void {
    const action = (msg.Action ?? '').toLowerCase();
    this.actions.push({ ...msg });
    if (this.stalled) return;
    if (!action) return this.error(session, msg, 'Missing action in request');
    if (!session.authenticated && action !== 'login' && action !== 'logoff' && action !== 'challenge') {
      return this.error(session, msg, 'Permission denied');
    }
    switch (action) {
      case 'login':
        return this.login(session, msg);
      case 'logoff':
        this.reply(session, this.withId(msg, [['Response', 'Goodbye'], ['Message', 'Thanks for all the fish.']]));
        session.socket.end();
        return;
      case 'ping':
        return this.reply(session, this.withId(msg, [['Response', 'Success'], ['Ping', 'Pong'], ['Timestamp', (Date.now() / 1000).toFixed(6)]]));
      case 'dbget':
        return this.dbget(session, msg);
      case 'coreshowchannels':
        return this.coreShowChannels(session, msg);
      case 'originate':
        return this.originate(session, msg, variables);
      // astman_get_header: the first Variable header (Originate repeats it, these take one).
      case 'getvar':
        return this.getvar(session, { ...msg, Variable: variables[0] ?? '' });
      case 'setvar':
        return this.setvar(session, { ...msg, Variable: variables[0] ?? '' });
      default:
        return this.error(session, msg, 'Invalid/unknown command');
    }
  }

  private login(session: Session, msg: Msg): void {
    if (msg.Username !== this.username || msg.Secret !== this.secret) {
      setTimeout(() => {
        this.error(session, msg, 'Authentication failed');
        session.socket.end();
      }, this.loginFailDelayMs);
      return;
    }
    this.logins++;
    session.authenticated = true;
    session.events = eventMask(msg.Events);
    this.reply(session, this.withId(msg, [['Response', 'Success'], ['Message', 'Authentication accepted']]));
    if (session.events === 'all' || (session.events !== 'none' && session.events.has('system'))) {
      this.reply(session, [['Event', 'FullyBooted'], ['Privilege', 'system,all'], ['Uptime', '2126'], ['LastReload', '2126'], ['Status', 'Fully Booted']]);
    }
  }

  private dbget(session: Session, msg: Msg): void {
    if (!msg.Family) return this.error(session, msg, 'No family specified.');
    if (!msg.Key) return this.error(session, msg, 'No key specified.');
    const val = this.astdb.get(`${msg.Family}/${msg.Key}`);
    if (val === undefined) return this.error(session, msg, 'Database entry not found');
    this.reply(session, this.withId(msg, [['Response', 'Success'], ['EventList', 'start'], ['Message', 'Result will follow']]));
    this.reply(session, [['Event', 'DBGetResponse'], ['Family', msg.Family], ['Key', msg.Key], ['Val', val], ...this.idField(msg)]);
    this.reply(session, this.withId(msg, [['Event', 'DBGetComplete'], ['EventList', 'Complete'], ['ListItems', '1']]));
  }

  /** action_getvar: "Response: Success" (no Message), then Variable and Value. */
  private getvar(session: Session, msg: Msg): void {
    if (!msg.Variable) return this.error(session, msg, 'No variable specified');
    if (!msg.Channel) return this.error(session, msg, 'this fake answers Getvar on a channel only');
    const value = this.channelVariables.get(msg.Channel, msg.Variable);
    if (value === undefined) return this.error(session, msg, 'No such channel');
    this.reply(session, this.withId(msg, [['Response', 'Success'], ['Variable', msg.Variable], ['Value', value]]));
  }

  private setvar(session: Session, msg: Msg): void {
    if (!msg.Variable) return this.error(session, msg, 'No variable specified');
    if (!msg.Channel) return this.error(session, msg, 'this fake answers Setvar on a channel only');
    if (!this.channelVariables.set(msg.Channel, msg.Variable, msg.Value ?? '')) return this.error(session, msg, 'No such channel');
    this.reply(session, this.withId(msg, [['Response', 'Success'], ['Message', 'Variable Set']]));
  }

  private idField(msg: Msg): Array<[string, string]> {
    return msg.ActionID !== undefined ? [['ActionID', msg.ActionID]] : [];
  }

  private coreShowChannels(session: Session, msg: Msg): void {
    this.reply(session, this.withId(msg, [['Response', 'Success'], ['EventList', 'start'], ['Message', 'Channels will follow']]));
    for (const [uniqueid, ch] of this.channels) {
      this.reply(session, this.withId(msg, [
        ['Event', 'CoreShowChannel'],
        ['Channel', `${ch.name};1`],
        ['ChannelState', '6'],
        ['ChannelStateDesc', 'Up'],
        ['Context', ch.context],
        ['Exten', ch.exten],
        ['Uniqueid', uniqueid],
        ['Linkedid', ch.linkedid],
        ['Application', 'Dial'],
      ]));
    }
    this.reply(session, this.withId(msg, [['Event', 'CoreShowChannelsComplete'], ['EventList', 'Complete'], ['ListItems', String(this.channels.size)]]));
  }

  private originate(session: Session, msg: Msg, variables: string[]): void {
    if (this.refuseOriginate) return this.error(session, msg, this.refuseOriginate);
    if (!msg.Channel) return this.error(session, msg, 'Channel not specified');
    if (!msg.Exten && !msg.Application) return this.error(session, msg, 'Exten not specified');
    if (!/^true$/i.test(msg.Async ?? '')) return this.error(session, msg, 'this fake answers Async originates only');
    const channelId = msg.ChannelId ?? '';
    if (channelId && (this.usedIds.has(channelId) || channelId.length > 149)) return this.error(session, msg, 'Uniqueid already in use');
    if (channelId) this.usedIds.add(channelId);
    const req: OriginateRequest = {
      actionId: msg.ActionID ?? '',
      channel: msg.Channel,
      context: msg.Context ?? '',
      exten: msg.Exten ?? '',
      priority: msg.Priority ?? '',
      callerId: msg.CallerID ?? '',
      timeout: msg.Timeout ?? '',
      channelId,
      variables,
    };
    this.originates.push(req);
    this.reply(session, this.withId(msg, [['Response', 'Success'], ['Message', 'Originate successfully queued']]));
    const outcome = this.onOriginate(req);
    const uniqueid = channelId || `1796210900.${++this.seq}`;
    const m = /^Local\/([^@]+)@([^/]+)/.exec(req.channel);
    const exten = m?.[1] ?? '';
    const name = `Local/${exten}@${m?.[2] ?? 'x'}-${(++this.seq).toString(16).padStart(8, '0')}`;
    const cid = /^"?([^"<]*)"?\s*<([^>]*)>/.exec(req.callerId);
    const response = (ok: boolean, reason: number, channel: string): Array<[string, string]> => [
      ['Event', 'OriginateResponse'],
      ['Privilege', 'call,all'],
      ...this.idField(msg),
      ['Response', ok ? 'Success' : 'Failure'],
      ['Channel', channel],
      ['Context', req.context],
      ['Exten', req.exten],
      ['Reason', String(reason)],
      ['Uniqueid', uniqueid],
      ['CallerIDNum', cid?.[2] || '<unknown>'],
      ['CallerIDName', cid?.[1]?.trim() || '<unknown>'],
    ];
    setTimeout(() => {
      for (const half of [';1', ';2']) {
        this.broadcast('call', [
          ['Event', 'Newchannel'],
          ['Privilege', 'call,all'],
          ['Channel', `${name}${half}`],
          ['ChannelState', half === ';1' ? '0' : '4'],
          ['ChannelStateDesc', half === ';1' ? 'Down' : 'Ring'],
          ['CallerIDNum', '<unknown>'],
          ['CallerIDName', '<unknown>'],
          ['Context', m?.[2] ?? ''],
          ['Exten', exten],
          ['Priority', '1'],
          ['Uniqueid', half === ';1' ? uniqueid : `${uniqueid};2`],
          ['Linkedid', uniqueid],
        ]);
      }
      setTimeout(() => {
        if (outcome.answer) {
          this.channels.set(uniqueid, { name, linkedid: uniqueid, exten, context: req.context });
          this.broadcast('call', response(true, 4, `${name};1`));
        } else {
          this.broadcast('call', response(false, outcome.reason, req.channel));
          this.channels.set(uniqueid, { name, linkedid: uniqueid, exten, context: m?.[2] ?? '' });
          this.hangup(uniqueid, outcome.reason === 5 ? 17 : outcome.reason === 3 ? 19 : 0);
        }
      }, outcome.afterMs ?? 20);
    }, 5);
  }
}
