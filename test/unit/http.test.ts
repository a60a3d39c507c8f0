// The HTTP client on real sockets: whatever framing a proxy in front of Bitrix24 chooses, and
// every malformed answer refused by node's own parser.
import { expect } from 'chai';
import { ChildProcess, execFile, execFileSync, spawn } from 'child_process';
import { promisify } from 'util';
import { existsSync, readFileSync } from 'fs';
import * as http from 'http';
import * as net from 'net';
import { AddressInfo } from 'net';
import { join } from 'path';
import { HttpError, MAX_RESPONSE, request } from '../../agi-src/bitrix/http';
import { rejects } from '../helpers/assert';
import { tempDir } from '../helpers/tmp';
import { startConnectProxy } from '../helpers/connect-proxy';

function rawServer(reply: (sock: net.Socket, req: string) => void): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server = net.createServer((sock) => {
    connections++;
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
        connections: () => connections,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    ),
  );
}

/** A raw server in another process, so that the CPU this process spends is the client's alone. */
async function rawServerProcess(script: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [
    '-e',
    `const net=require('net');const s=net.createServer((sock)=>{sock.on('error',()=>{});let r='';sock.on('data',(d)=>{r+=d;if(r.includes('\\r\\n\\r\\n')&&!sock.started){sock.started=1;(${script})(sock)}})});` +
      `s.listen(0,'127.0.0.1',()=>process.stdout.write(String(s.address().port)+'\\n'))`,
  ]);
  const port = await new Promise<string>((r) => child.stdout!.once('data', (d) => r(String(d).trim())));
  return { url: `http://127.0.0.1:${port}/rest/1/c0de/x.json`, child };
}

const nodeMajor = Number(process.versions.node.split('.')[0]);

describe('HTTP client', () => {
  it('posts the body with its length and reads a Content-Length answer', async () => {
    let seen = '';
    const srv = await rawServer((sock, req) => {
      seen = req;
      sock.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"result":1}\n');
    });
    const res = await request({ method: 'POST', url: srv.url, body: '{"a":"б"}', headers: { 'content-type': 'application/json' }, timeoutMs: 2000 });
    expect(res).to.include({ status: 200, contentType: 'application/json', body: '{"result":1}\n' });
    expect(seen).to.match(/^POST \/rest\/1\/c0de\/batch\.json HTTP\/1\.1\r\n/);
    expect(seen).to.match(/\r\ncontent-length: 10\r\n/i);
    expect(seen, 'no agent on the AGI path: one request per connection').to.match(/\r\nconnection: close\r\n/i);
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

  it('takes a body without length up to the end of the connection', async () => {
    const srv = await rawServer((sock) => sock.end('HTTP/1.0 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<html>'));
    expect(await request({ method: 'GET', url: srv.url, timeoutMs: 2000 })).to.include({ status: 502, contentType: 'text/html', body: '<html>' });
    await srv.close();
  });

  it("works against node's own HTTP server (keep-alive, chunked by default)", async () => {
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

  it('a 100 Continue is not the answer: the final status and body are', async () => {
    const srv = await rawServer((sock) =>
      sock.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"result":1}'),
    );
    expect(await request({ method: 'POST', url: srv.url, body: '{}', timeoutMs: 2000 })).to.include({ status: 200, body: '{"result":1}' });
    await srv.close();
  });

  it('hands a redirect back with its Location (the client decides what it means)', async () => {
    const srv = await rawServer((sock) => sock.end('HTTP/1.1 301 Moved Permanently\r\nLocation: https://new.example.bitrix24.ru/rest/1/c0de/batch.json\r\nContent-Length: 0\r\n\r\n'));
    const res = await request({ method: 'POST', url: srv.url, body: '{}', timeoutMs: 2000 });
    expect(res).to.include({ status: 301, location: 'https://new.example.bitrix24.ru/rest/1/c0de/batch.json' });
    await srv.close();
  });

  describe('refuses malformed answers', () => {
    const malformed: Array<[string, string, number?]> = [
      ['a duplicate Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}'],
      ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nContent-Length: 2\r\n\r\n{"result":1}'],
      ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{"result":1}'],
      ['status 2000', 'HTTP/1.1 2000 OK\r\nContent-Length: 12\r\n\r\n{"result":1}'],
      ['a two-digit status', 'HTTP/1.1 20 OK\r\nContent-Length: 12\r\n\r\n{"result":1}'],
      ['Content-Length and chunked together', 'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n{"result":1}\r\n0\r\n\r\n'],
      // llhttp 6 (Node 18, Debian 12's runtime) skips the two bytes after a chunk unchecked;
      // Node 20 and later refuse them.
      ['a bad chunk terminator', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n{"result":1}XX0\r\n\r\n', 20],
      ['something that is not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n'],
    ];
    for (const [what, answer, minNode] of malformed) {
      it(what, async function () {
        if (minNode && nodeMajor < minNode) this.skip();
        const srv = await rawServer((sock) => sock.end(answer));
        const err = await rejects(request({ method: 'POST', url: srv.url, body: '{}', timeoutMs: 2000 }), HttpError);
        expect(err.message).to.match(/^127\.0\.0\.1:\d+ sent a malformed HTTP answer/);
        await srv.close();
      });
    }
  });

  it('gives up at the timeout, on refused connections and on a body cut short, naming only the host', async () => {
    const silent = await rawServer(() => undefined);
    const e1 = await rejects(request({ method: 'GET', url: silent.url, timeoutMs: 100 }), HttpError);
    expect(e1.message).to.match(/did not answer within 100 ms/);
    expect(e1.message).not.to.contain('c0de');
    await silent.close();
    // Headers at once, then the body trickles: the deadline still holds.
    const trickle = await rawServer((sock) => {
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{');
      const t = setInterval(() => (sock.destroyed ? clearInterval(t) : sock.write(' ')), 20);
    });
    const e2 = await rejects(request({ method: 'GET', url: trickle.url, timeoutMs: 300 }), HttpError);
    expect(e2.message).to.match(/did not answer within 300 ms/);
    await trickle.close();
    const e3 = await rejects(request({ method: 'GET', url: 'http://127.0.0.1:1/rest/1/c0de/', timeoutMs: 1000 }), HttpError);
    expect(e3.message).to.match(/cannot reach 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
    const cut = await rawServer((sock) => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"res'));
    const e4 = await rejects(request({ method: 'GET', url: cut.url, timeoutMs: 1000 }), HttpError);
    expect(e4.message).to.match(/closed before a complete answer/);
    await cut.close();
  });

  it(`refuses an answer larger than ${MAX_RESPONSE / 1048576} MiB without reading it all`, async () => {
    const { url, child } = await rawServerProcess(
      `(sock)=>{sock.write('HTTP/1.1 200 OK\\r\\nContent-Length: 67108864\\r\\n\\r\\n');const c=Buffer.alloc(65536,32);let n=0;` +
        `const more=()=>{while(n<1024){n++;if(!sock.write(c))return sock.once('drain',more)}sock.end()};more()}`,
    );
    try {
      const err = await rejects(request({ method: 'GET', url, timeoutMs: 15_000 }), HttpError);
      expect(err.message).to.match(/too large/);
    } finally {
      child.kill();
    }
  });

  it('reads a 7.5 MiB answer arriving in small packets with bounded CPU (no re-parsing per packet)', async function () {
    this.timeout(60_000);
    const size = 7.5 * 1048576;
    // 8 KiB every millisecond, so the answer arrives in about a thousand small reads.
    const { url, child } = await rawServerProcess(
      `(sock)=>{sock.setNoDelay(true);sock.write('HTTP/1.1 200 OK\\r\\nContent-Length: ${size}\\r\\n\\r\\n');const c=Buffer.alloc(8192,97);let n=0;` +
        `const more=()=>{sock.write(c);if(++n<${size / 8192})setTimeout(more,1);else sock.end()};more()}`,
    );
    try {
      const before = process.cpuUsage();
      const res = await request({ method: 'GET', url, timeoutMs: 50_000 });
      const cpu = process.cpuUsage(before);
      expect(res.body.length).to.equal(size);
      // Node's parser is incremental: tens of milliseconds. Parsing the whole buffer again on
      // every packet took the hand-written client seconds.
      expect((cpu.user + cpu.system) / 1000, 'client CPU ms').to.be.below(500);
    } finally {
      child.kill();
    }
  });

  it('uses the agent it is given (a resident process keeps the connection alive)', async () => {
    const server = http.createServer((_req, res) => res.end('{"result":true}'));
    let connections = 0;
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
    const agent = new http.Agent({ keepAlive: true });
    for (let i = 0; i < 3; i++) expect((await request({ method: 'POST', url, body: '{}', timeoutMs: 2000, agent })).body).to.equal('{"result":true}');
    expect(connections).to.equal(1);
    agent.destroy();
    for (let i = 0; i < 2; i++) await request({ method: 'POST', url, body: '{}', timeoutMs: 2000 });
    expect(connections, 'without an agent: a connection per request').to.equal(3);
    await new Promise((r) => server.close(r));
  });

  describe('over TLS (a private CA, trusted the way an admin would: NODE_EXTRA_CA_CERTS)', () => {
    let dir: string;
    let server: import('https').Server;
    let url: string;
    before(async function () {
      this.timeout(20_000);
      dir = tempDir('itd-tls-');
      try {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
          '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      } catch {
        this.skip();
      }
      if (!existsSync(join(dir, 'cert.pem'))) this.skip();
      const https = await import('https');
      server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('{"result":true}'));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      url = `https://localhost:${(server.address() as AddressInfo).port}/rest/1/c0de/x.json`;
    });
    after(() => new Promise((r) => (server ? server.close(r) : r(undefined))));

    /** One request in a child process that trusts the test CA; resolves to its stdout. */
    const inChild = async (req: Record<string, unknown>) => {
      const { stdout } = await promisify(execFile)(process.execPath, ['-r', 'tsx/cjs', '-e',
        `require(${JSON.stringify(join(__dirname, '../../agi-src/bitrix/http.ts'))}).request(${JSON.stringify(req)})` +
          `.then(r=>process.stdout.write(r.body),e=>process.stdout.write('ERR '+e.message))`],
        { env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') }, encoding: 'utf8' },
      );
      return stdout;
    };

    it('verifies the certificate', async () => {
      const err = await rejects(request({ method: 'GET', url, timeoutMs: 2000 }), HttpError);
      expect(err.message).to.match(/cannot reach localhost:\d+ \((SELF_SIGNED|DEPTH_ZERO)/);
      expect(err.message).not.to.contain('c0de');
      expect(await inChild({ method: 'GET', url, timeoutMs: 5000 })).to.equal('{"result":true}');
    });

    it('through an HTTPS proxy: TLS end to end inside the CONNECT tunnel, certificate still verified', async () => {
      const proxy = await startConnectProxy({ credentials: 'pbx:s3cret pass' });
      try {
        const proxyUrl = `http://pbx:s3cret%20pass@127.0.0.1:${proxy.port}`;
        expect(await inChild({ method: 'GET', url, timeoutMs: 5000, proxy: proxyUrl })).to.equal('{"result":true}');
        expect(proxy.tunnels).to.deep.equal([`localhost:${new URL(url).port}`]);
        const err = await rejects(request({ method: 'GET', url, timeoutMs: 3000, proxy: proxyUrl }), HttpError);
        expect(err.message, 'a proxy is no reason to trust a certificate').to.match(/cannot reach localhost:\d+ \((SELF_SIGNED|DEPTH_ZERO)/);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('through an HTTPS proxy (CONNECT)', () => {
    const portal = () => rawServer((sock) => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{"result":1}'));

    it('opens a tunnel to the portal with the proxy credentials, percent-decoded', async () => {
      const srv = await portal();
      const proxy = await startConnectProxy({ credentials: 'pbx:p@ss:w0rd' });
      try {
        const res = await request({ method: 'POST', url: srv.url, body: '{}', timeoutMs: 3000, proxy: `http://pbx:p%40ss%3Aw0rd@127.0.0.1:${proxy.port}` });
        expect(res.body).to.equal('{"result":1}');
        expect(proxy.tunnels).to.deep.equal([new URL(srv.url).host]);
        expect(proxy.auth).to.deep.equal([`Basic ${Buffer.from('pbx:p@ss:w0rd').toString('base64')}`]);
        // Without credentials in the URL, no Proxy-Authorization header at all.
        const open = await startConnectProxy();
        await request({ method: 'POST', url: srv.url, body: '{}', timeoutMs: 3000, proxy: open.url });
        expect(open.auth).to.deep.equal(['']);
        await open.close();
      } finally {
        await proxy.close();
        await srv.close();
      }
    });

    it('a refused, unreachable or silent proxy fails like the portal would, naming the proxy but never its credentials', async () => {
      const srv = await portal();
      const refusing = await startConnectProxy({ credentials: 'pbx:right' });
      const silent = await startConnectProxy({ silent: true });
      try {
        const e1 = await rejects(request({ method: 'GET', url: srv.url, timeoutMs: 3000, proxy: `http://pbx:wr0ngpass@127.0.0.1:${refusing.port}` }), HttpError);
        expect(e1.message).to.equal(`proxy 127.0.0.1:${refusing.port} refused the tunnel to ${new URL(srv.url).host} (HTTP 407)`);
        const e2 = await rejects(request({ method: 'GET', url: srv.url, timeoutMs: 3000, proxy: 'http://pbx:wr0ngpass@127.0.0.1:1' }), HttpError);
        expect(e2.message).to.equal('cannot reach proxy 127.0.0.1:1 (ECONNREFUSED)');
        const e3 = await rejects(request({ method: 'GET', url: srv.url, timeoutMs: 300, proxy: `http://pbx:wr0ngpass@127.0.0.1:${silent.port}` }), HttpError);
        // The tunnel's own deadline or the request's, whichever timer the machine runs first.
        expect(e3.message).to.match(/did not answer within 300 ms|proxy 127\.0\.0\.1:\d+ did not open a tunnel to .* in time/);
        for (const e of [e1, e2, e3]) expect(e.message).not.to.match(/wr0ngpass|pbx:/);
      } finally {
        await refusing.close();
        await silent.close();
        await srv.close();
      }
    });
  });
});
