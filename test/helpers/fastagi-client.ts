// Asterisk's side of a FastAGI session, `AGI(agi://127.0.0.1:<port>/<script>,<args…>)`, as
// res_agi (Asterisk 20–22) does it: connect (a refused connection is AGISTATUS=FAILURE at once,
// reference/asterisk-agi-observed.md §10), the environment with `agi_network: yes` and
// `agi_network_script` in front and the full URL as agi_request, replies from the same
// AsteriskSide as a local AGI gets, an asynchronous `HANGUP` line when the caller hangs up
// (unless AGISIGHUP=no), dead mode after it. The session ends when the server closes the
// connection; Asterisk then sends its closing `HANGUP` and closes its side.
import { connect, Socket } from 'net';
import { AsteriskSide, SessionOptions } from './fake-asterisk';

export interface FastAgiOptions extends SessionOptions {
  port: number;
  host?: string;
  /** The path after host:port: `incoming`, `show`, `hangup`. */
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
  const side = new AsteriskSide(opts, `agi://${host}:${opts.port}/${opts.script}`, { agi_network: 'yes', agi_network_script: opts.script });
  const result: FastAgiResult = {
    status: 'SUCCESS',
    commands: side.commands,
    vars: side.vars,
    verbose: side.verbose,
    rejected: side.rejected,
    durationMs: 0,
    reset: false,
    timedOut: false,
  };
  const sighup = opts.agiSighup ?? true;
  const started = Date.now();
  return new Promise((resolve) => {
    let connected = false;
    let finished = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = () => {
      if (finished) return;
      finished = true;
      timers.forEach(clearTimeout);
      result.durationMs ||= Date.now() - started;
      resolve(result);
    };
    const socket: Socket = connect({ host, port: opts.port });
    const send = (text: string) => {
      if (!socket.destroyed && socket.writable) socket.write(`${text}\n`);
    };
    const hangUp = () => {
      if (side.dead) return;
      side.dead = true;
      if (sighup) send('HANGUP');
    };
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      connected = true;
      socket.write(side.environment());
      if (opts.hangupAfterMs !== undefined) timers.push(setTimeout(hangUp, opts.hangupAfterMs));
    });
    socket.on('data', (chunk: string) =>
      side.feed(chunk, send, (n) => {
        if (opts.hangupAfterCommand === n) hangUp();
      }),
    );
    socket.on('end', () => {
      // The script "exited": res_agi tells it once more (send_sighup) and closes.
      result.durationMs = Date.now() - started;
      if (sighup) send('HANGUP');
      socket.end();
      finish();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) result.status = 'FAILURE';
      else result.reset = true;
      void err;
    });
    socket.on('close', () => finish());
    timers.push(
      setTimeout(() => {
        result.timedOut = true;
        socket.destroy();
        finish();
      }, opts.timeoutMs ?? 15_000),
    );
  });
}
