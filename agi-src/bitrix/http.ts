// The one place that opens connections to Bitrix24: a small HTTP/1.1 client over node's `net`
// and `tls`. One request per connection (`Connection: close`), which is all an AGI process ever
// needs; node's `http` stack costs a new process several milliseconds more per request, and the
// caller is waiting. The resident service passes a keep-alive agent instead: its requests go
// through node's own http/https stack over a warm connection. Messages never include the URL path
// or query: those hold secrets.
import type { Agent, IncomingMessage } from 'http';
import type { Socket } from 'net';

export interface HttpResponse {
  status: number;
  contentType: string;
  body: string;
}

export class HttpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  /** A keep-alive agent for this URL's protocol; ignored when it speaks another one. */
  agent?: Agent;
}

const MAX_RESPONSE = 8 * 1024 * 1024;

export function request(req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.url);
  const host = url.host;
  if (req.timeoutMs <= 0) return Promise.reject(new HttpError(`no time left for ${host}`));
  if (req.agent && (req.agent as Agent & { protocol?: string }).protocol === url.protocol) return viaAgent(req, url, req.agent);
  const secure = url.protocol === 'https:';
  const port = Number(url.port) || (secure ? 443 : 80);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
  const head = [
    `${req.method} ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    'User-Agent: itd-bitrix',
    'Accept: application/json',
    'Connection: close',
    ...Object.entries(req.headers ?? {}).map(([k, v]) => `${k}: ${v.replace(/[\r\n]/g, ' ')}`),
    ...(body ? [`Content-Length: ${body.length}`] : []),
  ].join('\r\n');

  return new Promise((resolve, reject) => {
    let socket: Socket;
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = (err: Error | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(res as HttpResponse);
    };
    const onConnect = () => {
      socket.write(`${head}\r\n\r\n`);
      if (body) socket.write(body);
    };
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    if (secure) socket = (require('tls') as typeof import('tls')).connect({ host: hostname, port, servername: hostname }, onConnect);
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    else socket = (require('net') as typeof import('net')).connect({ host: hostname, port }, onConnect);
    const timer = setTimeout(() => done(new HttpError(`${host} did not answer within ${req.timeoutMs} ms`)), req.timeoutMs);
    const settle = (closed: boolean) => {
      try {
        const parsed = parseResponse(Buffer.concat(chunks), closed);
        if (parsed) done(null, parsed);
        else if (closed) done(new HttpError(`connection to ${host} closed before a complete answer`));
      } catch (err) {
        done(new HttpError(`${host} sent ${(err as Error).message}`));
      }
    };
    socket.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_RESPONSE) return done(new HttpError(`response from ${host} too large`));
      chunks.push(c);
      settle(false); // a complete response may arrive before the server closes the connection
    });
    socket.on('end', () => settle(true));
    socket.on('error', (err: NodeJS.ErrnoException) => done(new HttpError(`cannot reach ${host} (${err.code ?? 'error'})`)));
  });
}

/**
 * One request over a pooled keep-alive connection. A connection the server closed while it sat
 * idle fails at once with a reset: that request is sent once more on a fresh connection (every
 * request we send is safe to repeat: register and finish are idempotent for Bitrix24).
 */
function viaAgent(req: HttpRequest, url: URL, agent: Agent, retried = false): Promise<HttpResponse> {
  const host = url.host;
  const started = Date.now();
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const lib = (url.protocol === 'https:' ? require('https') : require('http')) as typeof import('https');
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        outgoing.destroy();
        reject(err);
      } else resolve(res as HttpResponse);
    };
    const outgoing = lib.request(
      url,
      {
        method: req.method,
        agent,
        headers: {
          'User-Agent': 'itd-bitrix',
          Accept: 'application/json',
          ...Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k, v.replace(/[\r\n]/g, ' ')])),
          ...(body ? { 'Content-Length': String(body.length) } : {}),
        },
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE) done(new HttpError(`response from ${host} too large`));
          else chunks.push(c);
        });
        res.on('end', () =>
          done(null, { status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', () => done(new HttpError(`connection to ${host} closed before a complete answer`)));
      },
    );
    const timer = setTimeout(() => done(new HttpError(`${host} did not answer within ${req.timeoutMs} ms`)), req.timeoutMs);
    outgoing.on('error', (err: NodeJS.ErrnoException) => {
      const stale = outgoing.reusedSocket && !retried && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
      const left = req.timeoutMs - (Date.now() - started);
      if (stale && left > 0 && !settled) {
        settled = true;
        clearTimeout(timer);
        viaAgent({ ...req, timeoutMs: left }, url, agent, true).then(resolve, reject);
        return;
      }
      done(new HttpError(`cannot reach ${host} (${err.code ?? 'error'})`));
    });
    outgoing.end(body);
  });
}

/**
 * Parses an HTTP/1.1 response; null while it is incomplete. With `closed`, a body without a
 * length runs to the end of the connection.
 */
export function parseResponse(data: Buffer, closed: boolean): HttpResponse | null {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = data.toString('latin1', 0, end).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!status) throw new HttpError('not an HTTP response');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = data.subarray(end + 4);
  let body: Buffer | null;
  if (/\bchunked\b/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(rest);
  else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    body = rest.length >= length ? rest.subarray(0, length) : null;
  } else body = closed ? rest : null;
  if (!body) return null;
  return { status: Number(status[1]), contentType: headers['content-type'] ?? '', body: body.toString('utf8') };
}

/** Chunked transfer coding; null until the terminating zero-size chunk has arrived. */
function dechunk(data: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const sizeText = data.toString('latin1', at, lineEnd).split(';')[0].trim();
    const size = parseInt(sizeText, 16);
    if (!Number.isFinite(size) || !/^[0-9a-f]+$/i.test(sizeText)) throw new HttpError('bad chunked encoding');
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (data.length < start + size + 2) return null;
    parts.push(data.subarray(start, start + size));
    at = start + size + 2;
  }
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
