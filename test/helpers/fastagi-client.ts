// Asterisk's side of a FastAGI session, `AGI(agi://127.0.0.1:<port>/<script>,<args…>)`, as
// res_agi (Asterisk 20–22) does it: connect (a refused connection is AGISTATUS=FAILURE at once,
// reference/asterisk-agi-observed.md §10), the environment with `agi_network: yes` and
// `agi_network_script` in front and the full URL as agi_request, replies from the same AgiSession
// as a local AGI gets, an asynchronous `HANGUP` line when the caller hangs up (unless
// AGISIGHUP=no), dead mode after it. The session ends when the server closes the connection;
// Asterisk then sends its closing `HANGUP` and closes its side.
import { connect, Socket } from 'net';
import { AgiSession } from './agi-session';
import { fakeChannel, FakeChannelOptions } from './fake-asterisk';

export interface FastAgiOptions extends FakeChannelOptions {
  port: number;
  host?: string;
  /** The path after host:port: `incoming`, `show`, `outgoing`, `hangup`. */
  script: string;
  /** The caller hangs up this many ms after the environment was sent. */
  hangupAfterMs?: number;
  /** The caller hangs up right after the server's Nth command was answered. */
  hangupAfterCommand?: number;
  /** AGISIGHUP on the channel (default yes): with `false` no HANGUP line is sent, commands just go dead. */
  agiSighup?: boolean;
  /** Asterisk would wait for a silent server forever; a test gives up after this long. */
  timeoutMs?: number;
}

export interface FastAgiResult {
  /** AGISTATUS as the dialplan sees it after AGI(): FAILURE only when the connection failed. */
  status: 'SUCCESS' | 'FAILURE';
  commands: string[];
  vars: Record<string, string>;
  verbose: string[];
  rejected: string[];
  /** connect → the server closed the session. */
  durationMs: number;
  /** The server went away without closing properly (killed): the dialplan still sees SUCCESS. */
  reset: boolean;
  /** The server never closed the session within timeoutMs. */
  timedOut: boolean;
}

export function runFastAgi(opts: FastAgiOptions): Promise<FastAgiResult> {
  const host = opts.host ?? '127.0.0.1';
  const channel = fakeChannel(opts, `agi://${host}:${opts.port}/${opts.script}`);
  const env = { agi_network: 'yes', agi_network_script: opts.script, ...channel.env };
  const sighup = opts.agiSighup ?? true;
  const started = Date.now();
  return new Promise((resolve) => {
    let connected = false;
    let finished = false;
    let reset = false;
    let timedOut = false;
    let durationMs = 0;
    const timers: NodeJS.Timeout[] = [];
    const socket: Socket = connect({ host, port: opts.port });
    const write = (text: string) => {
      if (!socket.destroyed && socket.writable) socket.write(text);
    };
    const session = new AgiSession(channel.side, write, !!opts.dead, (n) => {
      if (opts.hangupAfterCommand === n) hangUp();
    });
    const finish = (status: 'SUCCESS' | 'FAILURE') => {
      if (finished) return;
      finished = true;
      timers.forEach(clearTimeout);
      void session.settled().then(() =>
        resolve({
          status,
          commands: session.transcript.commands,
          vars: channel.vars,
          verbose: channel.verbose,
          rejected: session.transcript.rejected,
          durationMs: durationMs || Date.now() - started,
          reset,
          timedOut,
        }),
      );
    };
    const hangUp = () => {
      if (session.dead) return;
      session.dead = true;
      if (sighup) session.send('HANGUP');
    };
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      connected = true;
      session.start(env);
      if (opts.hangupAfterMs !== undefined) timers.push(setTimeout(hangUp, opts.hangupAfterMs));
    });
    socket.on('data', (chunk: string) => session.feed(chunk));
    socket.on('end', () => {
      // The script "exited": res_agi tells it once more (send_sighup) and closes.
      durationMs = Date.now() - started;
      if (sighup) write('HANGUP\n');
      socket.end();
      finish('SUCCESS');
    });
    socket.on('error', () => {
      if (!connected) finish('FAILURE');
      else reset = true;
    });
    socket.on('close', () => finish(connected ? 'SUCCESS' : 'FAILURE'));
    timers.push(
      setTimeout(() => {
        timedOut = true;
        socket.destroy();
        finish('SUCCESS');
      }, opts.timeoutMs ?? 15_000),
    );
  });
}
