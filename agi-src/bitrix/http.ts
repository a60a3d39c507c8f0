// The one place that opens HTTP connections (node's own http/https: no fetch/undici start-up cost
// on the call path). Messages never include the URL path or query: those hold secrets.
import type { IncomingMessage, RequestOptions } from 'http';

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
}

const MAX_BODY = 8 * 1024 * 1024;

export function request(req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(req.url);
  const host = url.host;
  if (req.timeoutMs <= 0) return Promise.reject(new HttpError(`no time left for ${host}`));
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const lib: typeof import('http') = url.protocol === 'https:' ? require('https') : require('http');
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: Error | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(res as HttpResponse);
    };
    const options: RequestOptions = {
      method: req.method,
      headers: {
        'user-agent': 'itd-bitrix',
        accept: 'application/json',
        ...(req.body !== undefined ? { 'content-length': String(Buffer.byteLength(req.body)) } : {}),
        ...req.headers,
      },
    };
    const r = lib.request(url, options, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          r.destroy();
          done(new HttpError(`response from ${host} too large`));
        } else chunks.push(c);
      });
      res.on('end', () =>
        done(null, {
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', () => done(new HttpError(`connection to ${host} broke while reading`)));
    });
    const timer = setTimeout(() => {
      r.destroy();
      done(new HttpError(`${host} did not answer within ${req.timeoutMs} ms`));
    }, req.timeoutMs);
    r.on('error', (err: NodeJS.ErrnoException) => done(new HttpError(`cannot reach ${host} (${err.code ?? 'error'})`)));
    if (req.body !== undefined) r.end(req.body);
    else r.end();
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
