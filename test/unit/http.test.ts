// The HTTP/1.1 client on real sockets: whatever framing a proxy in front of Bitrix24 chooses.
import { expect } from 'chai';
import { execFile, execFileSync } from 'child_process';
import { promisify } from 'util';
import { existsSync, readFileSync } from 'fs';
import * as http from 'http';
import * as net from 'net';
import { AddressInfo } from 'net';
import { join } from 'path';
import { HttpError, parseResponse, request } from '../../agi-src/bitrix/http';
import { rejects } from '../helpers/assert';
import { tempDir } from '../helpers/tmp';

function rawServer(reply: (sock: net.Socket, req: string) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = net.createServer((sock) => {
    let req = '';
    sock.on('data', (d) => {
      req += d;
      if (req.includes('\r\n\r\n')) reply(sock, req);
    });
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/rest/1/c0de/batch.json`,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    ),
  );
}

describe('HTTP client', () => {
  it('posts the body with its length and reads a Content-Length answer', async () => {
    let seen = '';
    const srv = await rawServer((sock, req) => {
      seen = req;
      sock.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"result":1}\n');
    });
    const res = await request({ method: 'POST', url: srv.url, body: '{"a":"б"}', headers: { 'content-type': 'application/json' }, timeoutMs: 2000 });
    expect(res).to.deep.equal({ status: 200, contentType: 'application/json', body: '{"result":1}\n' });
    expect(seen).to.match(/^POST \/rest\/1\/c0de\/batch\.json HTTP\/1\.1\r\n/);
    expect(seen).to.contain('Content-Length: 10\r\n');
    await srv.close();
  });

  it('reads chunked answers split at awkward places', async () => {
    const srv = await rawServer((sock) => {
      const parts = ['HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"err', '\r\n', '9;ext=1\r\nor":"Q"}\n\r\n', '0\r\n\r\n'];
      parts.forEach((p, i) => setTimeout(() => sock.write(p), i * 5));
    });
    const res = await request({ method: 'GET', url: srv.url, timeoutMs: 2000 });
    expect(res.status).to.equal(503);
    expect(res.body).to.equal('{"error":"Q"}\n');
    await srv.close();
  });

  it('takes a body without length up to the end of the connection', () => {
    expect(parseResponse(Buffer.from('HTTP/1.0 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<html>'), false)).to.equal(null);
    expect(parseResponse(Buffer.from('HTTP/1.0 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<html>'), true)).to.deep.equal({
      status: 502,
      contentType: 'text/html',
      body: '<html>',
    });
  });

  it('works against node\'s own HTTP server (keep-alive, chunked by default)', async () => {
    const server = http.createServer((req, res) => {
      let b = '';
      req.on('data', (d) => (b += d));
      req.on('end', () => res.end(JSON.stringify({ result: JSON.parse(b) })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
    const res = await request({ method: 'POST', url, body: JSON.stringify({ n: 'Иван' }), timeoutMs: 2000 });
    expect(JSON.parse(res.body)).to.deep.equal({ result: { n: 'Иван' } });
    await new Promise((r) => server.close(r));
  });

  it('gives up at the timeout, refused connections and garbage with a message naming only the host', async () => {
    const silent = await rawServer(() => undefined);
    const e1 = await rejects(request({ method: 'GET', url: silent.url, timeoutMs: 100 }), HttpError);
    expect(e1.message).to.match(/did not answer within 100 ms/);
    expect(e1.message).not.to.contain('c0de');
    await silent.close();
    const junk = await rawServer((sock) => sock.end('SSH-2.0-OpenSSH\r\n\r\n'));
    const e2 = await rejects(request({ method: 'GET', url: junk.url, timeoutMs: 1000 }), HttpError);
    expect(e2.message).to.match(/sent not an HTTP response/);
    await junk.close();
    const e3 = await rejects(request({ method: 'GET', url: 'http://127.0.0.1:1/rest/1/c0de/', timeoutMs: 1000 }), HttpError);
    expect(e3.message).to.match(/cannot reach 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  });

  it('speaks TLS to https:// portals and verifies the certificate', async function () {
    this.timeout(20_000);
    const dir = tempDir('itd-tls-');
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    } catch {
      this.skip();
    }
    if (!existsSync(join(dir, 'cert.pem'))) this.skip();
    const https = await import('https');
    const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('{"result":true}'));
    await new Promise<void>((r) => server.listen(0, () => r()));
    const url = `https://localhost:${(server.address() as AddressInfo).port}/rest/1/c0de/x.json`;
    const err = await rejects(request({ method: 'GET', url, timeoutMs: 2000 }), HttpError);
    expect(err.message).to.match(/cannot reach localhost:\d+/);
    // Trusted the way an admin would trust a private CA: NODE_EXTRA_CA_CERTS, in a child process.
    const { stdout: out } = await promisify(execFile)(process.execPath, ['-r', 'tsx/cjs', '-e',
      `require(${JSON.stringify(join(__dirname, '../../agi-src/bitrix/http.ts'))}).request({method:'GET',url:${JSON.stringify(url)},timeoutMs:2000}).then(r=>process.stdout.write(r.body))`],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') }, encoding: 'utf8' },
    );
    expect(out).to.equal('{"result":true}');
    await new Promise((r) => server.close(r));
  });
});
