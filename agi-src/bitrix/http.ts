// The one place that opens connections to Bitrix24: node's own HTTP client (`node:https`, and
// `node:http` for the loopback test portal), whose parser refuses malformed answers. No agent on
// the AGI path (one request per connection, `Connection: close`); a resident process may pass a
// keep-alive agent. Messages never include the URL path or query: those hold secrets.
import type { Agent, ClientRequest, IncomingMessage } from 'http';

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

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  /** A resident process's keep-alive agent, for the URL's protocol; none by default. */
  agent?: Agent;
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
        agent: req.agent ?? false,
      });
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
