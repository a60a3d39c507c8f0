// A portal far away, on loopback: TLS in front of the fake Bitrix24, and a proxy that delays every
// chunk in both directions by half the round-trip time, so TCP and TLS handshakes cost what they
// cost over the internet. The client's connect() completes locally at once, so its first bytes are
// held one more round trip: the SYN / SYN-ACK exchange it would have waited for.
import { execFileSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync } from 'fs';
import { createConnection, createServer, Server, Socket } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { createServer as createTlsServer } from 'tls';

export interface Listening {
  port: number;
  close(): Promise<void>;
}

function listen(server: Server, sockets: Set<Socket>): Promise<Listening> {
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    ),
  );
}

/** A self-signed certificate for `localhost` (trusted by the children through NODE_EXTRA_CA_CERTS); null without openssl. */
export function localhostCertificate(): { key: Buffer; cert: Buffer; certPath: string } | null {
  const dir = mkdtempSync(join(tmpdir(), 'itd-bench-tls-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
  } catch {
    return null;
  }
  if (!existsSync(join(dir, 'cert.pem'))) return null;
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')), certPath: join(dir, 'cert.pem') };
}

/** TLS termination in front of a plain TCP service on loopback. */
export function tlsFront(targetPort: number, key: Buffer, cert: Buffer): Promise<Listening> {
  const sockets = new Set<Socket>();
  const server = createTlsServer({ key, cert }, (tlsSock) => {
    const up = createConnection(targetPort, '127.0.0.1');
    up.setNoDelay(true);
    tlsSock.pipe(up).pipe(tlsSock);
    const kill = () => {
      tlsSock.destroy();
      up.destroy();
    };
    tlsSock.on('error', kill);
    up.on('error', kill);
    tlsSock.on('close', kill);
    up.on('close', kill);
  });
  return listen(server as unknown as Server, sockets);
}

/** Every chunk crosses in `oneWayMs` (half the RTT), in order; the client's first bytes a round trip later. */
export function delayProxy(targetPort: number, oneWayMs: number): Promise<Listening> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const acceptedAt = Date.now();
    const up = createConnection(targetPort, '127.0.0.1');
    client.setNoDelay(true);
    up.setNoDelay(true);
    const relay = (from: Socket, to: Socket, notBefore: number) => {
      let last = 0;
      const at = (t: number, fn: () => void) => setTimeout(fn, Math.max(0, t - Date.now()));
      from.on('data', (chunk: Buffer) => {
        const when = Math.max(Date.now() + oneWayMs, notBefore, last);
        last = when;
        at(when, () => {
          if (!to.destroyed) to.write(chunk);
        });
      });
      from.on('end', () => at(Math.max(Date.now() + oneWayMs, last), () => to.end()));
      from.on('error', () => undefined);
      from.on('close', () => at(Math.max(Date.now() + oneWayMs, last) + 1, () => to.destroy()));
    };
    relay(client, up, acceptedAt + 3 * oneWayMs);
    relay(up, client, 0);
  });
  return listen(server, sockets);
}
