// FastAGI: Asterisk connects (`AGI(agi://127.0.0.1:<port>/<script>,…)`), sends the AGI
// environment with `agi_network: yes` and `agi_network_script: <script>` in front, then talks the
// same protocol as with a local AGI; a `HANGUP` line may arrive at any time. The script "exits"
// by closing the connection. Loopback only: the protocol has no authentication.
import { createServer, Server, Socket } from 'net';
import { AgiChannel } from './channel';

export interface FastAgiSession {
  channel: AgiChannel;
  /** When the connection was accepted: the step's budget counts from here. */
  acceptedAt: number;
  /** Ends the session (Asterisk goes on with the dialplan). Safe to call more than once. */
  end(): void;
}

const CLOSE_GRACE_MS = 2000;

export class FastAgiServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly onSession: (session: FastAgiSession) => void) {}

  /** Listens on 127.0.0.1; resolves with the port (0 picks a free one). */
  listen(port: number): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1' }, () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  /** Stops accepting: from now on Asterisk's connect is refused and the dialplan falls back. */
  stopAccepting(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  get connections(): number {
    return this.sockets.size;
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  private accept(socket: Socket): void {
    const acceptedAt = Date.now();
    socket.setNoDelay(true); // one short line per command: never wait for Nagle
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const channel = new AgiChannel({ input: socket, output: socket });
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      socket.end();
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    };
    this.onSession({ channel, acceptedAt, end });
  }
}
