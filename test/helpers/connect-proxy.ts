// A real HTTP proxy on loopback that opens CONNECT tunnels, as Squid does for https:// targets.
import * as http from 'http';
import * as net from 'net';
import type { AddressInfo } from 'net';

export interface ConnectProxy {
  /** `http://127.0.0.1:<port>` (add credentials yourself). */
  url: string;
  port: number;
  /** `host:port` of every tunnel asked for, in order. */
  tunnels: string[];
  /** The Proxy-Authorization header of every CONNECT ('' when absent). */
  auth: string[];
  close(): Promise<void>;
}

/**
 * `credentials`: `user:password` the proxy demands (407 otherwise). `refuse`: answer every
 * CONNECT with this status. `silent`: accept the connection, never answer.
 */
export async function startConnectProxy(opts: { credentials?: string; refuse?: number; silent?: boolean } = {}): Promise<ConnectProxy> {
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  const sockets = new Set<net.Socket>();
  const proxy: ConnectProxy = { url: '', port: 0, tunnels: [], auth: [], close: async () => undefined };
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    client.on('error', () => undefined);
    proxy.tunnels.push(String(req.url));
    const auth = String(req.headers['proxy-authorization'] ?? '');
    proxy.auth.push(auth);
    if (opts.silent) return;
    if (opts.refuse) return void client.end(`HTTP/1.1 ${opts.refuse} Refused\r\nContent-Length: 0\r\n\r\n`);
    if (opts.credentials && auth !== `Basic ${Buffer.from(opts.credentials).toString('base64')}`) {
      return void client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="pbx"\r\nContent-Length: 0\r\n\r\n');
    }
    const [host, port] = splitHostPort(String(req.url));
    const upstream = net.connect({ host, port }, () => {
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  proxy.port = (server.address() as AddressInfo).port;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  proxy.close = () => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  };
  return proxy;
}

function splitHostPort(target: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
  return m ? [m[1], Number(m[2])] : [target, 443];
}
