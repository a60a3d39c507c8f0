// The one place that opens connections to Bitrix24: node's own HTTP client (`node:https`, and
// `node:http` for the loopback test portal), whose parser refuses malformed answers. No agent on
// the AGI path (one request per connection, `Connection: close`); a resident process may pass a
// keep-alive agent. Many PBXs reach the internet only through an HTTP proxy: then every
// connection is a CONNECT tunnel opened by node's own client, with TLS end to end inside it.
// Messages never include the URL path or query (they hold secrets) nor the proxy's credentials.
import type { Agent, AgentOptions, ClientRequest, ClientRequestArgs, IncomingMessage } from 'http';
import type { Duplex } from 'stream';

export interface HttpResponse {
  status: number;
  contentType: string;
  body: string;
  /** The Location header, when the answer has one (a 3xx). */
  location?: string;
}

export class HttpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

/** How connections are made: directly (the default), through a proxy, or by a resident process's agent. */
export interface Transport {
  /** A resident process's keep-alive agent, for the URL's protocol (see `tunnelAgent`); none by default. */
  agent?: Agent;
  /** `http://[user:password@]host:port`: reach the host through this proxy (ignored when `agent` is given). */
  proxy?: string;
}

export interface HttpRequest extends Transport {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
}

export const MAX_RESPONSE = 8 * 1024 * 1024;

export function request(req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.url);
  const host = url.host;
  if (req.timeoutMs <= 0) return Promise.reject(new HttpError(`no time left for ${host}`));
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') return Promise.reject(new HttpError(`${host}: not an http(s) URL`));
  // Required here, not at the top: a process that never talks to Bitrix24 does not load them.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const transport = (secure ? require('https') : require('http')) as typeof import('https');
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
  const headers: Record<string, string | number> = { 'User-Agent': 'itd-bitrix', Accept: 'application/json' };
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k] = v.replace(/[\r\n]/g, ' ');
  if (body) headers['Content-Length'] = body.length;

  return new Promise((resolve, reject) => {
    let settled = false;
    let creq: ClientRequest | undefined;
    const done = (err: Error | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        creq?.destroy();
        reject(err);
      } else resolve(res as HttpResponse);
    };
    const timer = setTimeout(() => done(new HttpError(`${host} did not answer within ${req.timeoutMs} ms`)), req.timeoutMs);
    try {
      creq = transport.request({
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: req.method,
        headers,
        agent: req.agent ?? (req.proxy ? tunnelAgent(req.proxy, secure) : false),
        // Read by a tunnel agent: the CONNECT to the proxy gets no more time than the request.
        deadline: Date.now() + req.timeoutMs,
      } as ClientRequestArgs);
    } catch (err) {
      done(new HttpError(`cannot reach ${host} (${(err as NodeJS.ErrnoException).code ?? 'error'})`));
      return;
    }
    creq.on('error', (err) => done(transportError(err, host)));
    creq.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      // llhttp 6 (Node 18) lets a two-digit status through.
      if (status < 100 || status > 599) return done(new HttpError(`${host} sent a malformed HTTP answer (status ${status})`));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE) return done(new HttpError(`response from ${host} too large`));
        chunks.push(c);
      });
      res.on('end', () => {
        if (!res.complete) return done(new HttpError(`connection to ${host} closed before a complete answer`));
        const location = res.headers.location;
        done(null, {
          status,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
          ...(location ? { location } : {}),
        });
      });
      res.on('error', (err) => done(transportError(err, host)));
      res.on('aborted', () => done(new HttpError(`connection to ${host} closed before a complete answer`)));
    });
    creq.end(body);
  });
}

function transportError(err: Error, host: string): HttpError {
  if (err instanceof HttpError) return err;
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = e.code ?? 'error';
  if (code.startsWith('HPE_')) return new HttpError(`${host} sent a malformed HTTP answer (${e.reason ?? code})`);
  if (code === 'ECONNRESET' && /aborted/i.test(e.message)) return new HttpError(`connection to ${host} closed before a complete answer`);
  return new HttpError(`cannot reach ${host} (${code})`);
}

type TunnelRequestArgs = ClientRequestArgs & { deadline?: number; servername?: string };

/**
 * An agent that reaches every host through an HTTP proxy's CONNECT tunnel, TLS inside it for
 * https:// (verified as without a proxy). Used per request on the AGI path; a resident process
 * may keep one with `{ keepAlive: true }`.
 */
export function tunnelAgent(proxy: string, secure: boolean, options: AgentOptions = {}): Agent {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const http = require('http') as typeof import('http');
  const proxyUrl = new URL(proxy);
  class TunnelAgent extends http.Agent {
    createConnection(opts: TunnelRequestArgs, callback: (err: Error | null, stream: Duplex) => void): undefined {
      const host = String(opts.hostname ?? opts.host ?? 'localhost');
      const port = Number(opts.port) || (secure ? 443 : 80);
      openTunnel(proxyUrl, host, port, opts.deadline ?? Date.now() + 30_000).then((socket) => {
        if (!secure) return callback(null, socket);
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const tls = require('tls') as typeof import('tls');
        // SNI with the host name (never an IP address), as node's own https agent sends it.
        const isIp = (require('net') as typeof import('net')).isIP(host) !== 0;
        const servername = opts.servername || (isIp ? undefined : host);
        callback(null, tls.connect({ socket, host, servername }));
      }, (err: Error) => callback(err, undefined as unknown as Duplex));
      return undefined;
    }
  }
  const agent = new TunnelAgent(options);
  // node checks the request's protocol against its agent's; the tunnel serves either.
  (agent as unknown as { protocol: string }).protocol = secure ? 'https:' : 'http:';
  return agent;
}

function openTunnel(proxy: URL, host: string, port: number, deadline: number): Promise<import('net').Socket> {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const http = require('http') as typeof import('http');
  const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const name = proxy.host; // host:port, never the credentials
  const headers: Record<string, string> = { Host: target };
  if (proxy.username || proxy.password) {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers['Proxy-Authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  return new Promise((resolve, reject) => {
    const connect = http.request({
      hostname: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: Number(proxy.port) || 80,
      method: 'CONNECT',
      path: target,
      headers,
      agent: false,
    });
    const timer = setTimeout(() => {
      connect.destroy();
      reject(new HttpError(`proxy ${name} did not open a tunnel to ${target} in time`));
    }, Math.max(1, deadline - Date.now()));
    connect.on('connect', (res: IncomingMessage, socket: import('net').Socket, head: Buffer) => {
      clearTimeout(timer);
      if (res.statusCode !== 200) {
        socket.destroy();
        return reject(new HttpError(`proxy ${name} refused the tunnel to ${target} (HTTP ${res.statusCode})`));
      }
      if (head.length) socket.unshift(head);
      resolve(socket);
    });
    connect.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new HttpError(`cannot reach proxy ${name} (${err.code ?? 'error'})`));
    });
    connect.end();
  });
}

/** multipart/form-data with one file field, for attachRecord's upload URL. */
export function multipartFile(field: string, filename: string, data: Buffer): { body: Buffer; contentType: string } {
  const boundary = `----itdbitrix${Date.now().toString(16)}${Math.random().toString(16).slice(2)}`;
  const safeName = filename.replace(/["\r\n\\]/g, '_');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${safeName}"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, data, tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}
