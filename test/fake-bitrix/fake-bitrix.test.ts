// Proves the fake Bitrix24 portal is strict: real HTTP against it, no client library in between.
import * as http from 'http';
import type { AddressInfo } from 'net';
import { expect } from 'chai';
import { FakeBitrix, FakeBitrixOptions } from './server';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

interface Res {
  status: number;
  contentType: string;
  text: string;
  json: Json;
}

interface ReqOpts {
  method?: 'GET' | 'POST';
  json?: unknown;
  form?: string;
  body?: Buffer;
  contentType?: string;
  timeoutMs?: number;
}

function call(url: string, opts: ReqOpts = {}): Promise<Res> {
  let body: Buffer | undefined;
  let contentType = opts.contentType;
  if (opts.json !== undefined) {
    body = Buffer.from(JSON.stringify(opts.json));
    contentType ??= 'application/json';
  } else if (opts.form !== undefined) {
    body = Buffer.from(opts.form);
    contentType ??= 'application/x-www-form-urlencoded';
  } else if (opts.body !== undefined) body = opts.body;
  const method = opts.method ?? (body ? 'POST' : 'GET');
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (contentType) headers['content-type'] = contentType;
    if (body) headers['content-length'] = String(body.length);
    const r = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text, json });
      });
      res.on('error', reject);
    });
    r.setTimeout(opts.timeoutMs ?? 3000, () => r.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    r.on('error', reject);
    r.end(body);
  });
}

async function callError(url: string, opts: ReqOpts = {}): Promise<NodeJS.ErrnoException> {
  try {
    await call(url, opts);
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
  throw new Error('expected a transport error');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fake Bitrix24 portal', function () {
  this.timeout(5000);
  let fake: FakeBitrix;
  let W: string; // webhook base

  async function startFake(opts: FakeBitrixOptions = {}): Promise<void> {
    if (fake) await fake.stop();
    fake = await FakeBitrix.start({ rateLimit: false, ...opts });
    W = fake.webhookUrl;
    fake.addUser({ ID: 1, NAME: 'Admin', ACTIVE: true, UF_PHONE_INNER: null });
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101', IS_ONLINE: 'Y' });
    fake.addUser({ ID: 15, NAME: 'Anna', LAST_NAME: 'Smirnova', ACTIVE: true, UF_PHONE_INNER: '102' });
    fake.addUser({ ID: 17, NAME: 'Oleg', ACTIVE: false, UF_PHONE_INNER: '103' });
    fake.addUser({ ID: 90, NAME: 'Bot', ACTIVE: true, UF_PHONE_INNER: '190', USER_TYPE: 'bot' });
    fake.addCrm({ type: 'COMPANY', id: 643, name: 'ООО Ромашка', phones: ['+7 (916) 123-45-67'], assignedById: 15 });
    fake.addCrm({ type: 'CONTACT', id: 651, name: 'Иван Петров', phones: ['+79161234567'], assignedById: 12 });
    fake.addCrm({ type: 'LEAD', id: 311, name: 'Лид с сайта', phones: ['89161234567'] });
  }

  const reg = (extra: Record<string, unknown> = {}) =>
    call(`${W}telephony.externalcall.register.json`, {
      json: { USER_ID: 12, PHONE_NUMBER: '+14155550123', TYPE: 2, SHOW: 0, ...extra },
    });

  beforeEach(() => startFake());
  after(() => fake.stop());

  describe('transport and envelopes', () => {
    it('answers success with result + time and JSON content type; method names are case-insensitive', async () => {
      for (const suffix of ['user.current', 'USER.Current.json', 'user.current/', 'user.current.json/']) {
        const r = await call(`${W}${suffix}`);
        expect(r.status, suffix).to.equal(200);
        expect(r.contentType).to.equal('application/json; charset=utf-8');
        expect(r.json.result.ID).to.equal('1');
        expect(r.json.time).to.include.keys('start', 'finish', 'duration', 'processing', 'date_start', 'date_finish', 'operating_reset_at', 'operating');
        expect(r.json.time.date_start).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00$/);
      }
      expect(fake.calls('user.current')).to.have.length(4);
      expect(fake.calls('user.current')[0].auth).to.equal('webhook');
    });

    it('unknown method → 404 ERROR_METHOD_NOT_FOUND; wrong webhook → 401 INVALID_CREDENTIALS', async () => {
      const r = await call(`${W}telephony.externalcall.nope`);
      expect(r.status).to.equal(404);
      expect(r.json).to.deep.equal({ error: 'ERROR_METHOD_NOT_FOUND', error_description: 'Method not found!' });
      for (const bad of [`${fake.url}/rest/1/wrong/user.current`, `${fake.url}/rest/2/k3y5ecr3tc0de/user.current`]) {
        const b = await call(bad);
        expect(b.status).to.equal(401);
        expect(b.json).to.deep.equal({ error: 'INVALID_CREDENTIALS', error_description: 'Invalid request credentials' });
      }
    });

    it('module errors carry "error": "" with HTTP 400 (ERROR_CORE optionally)', async () => {
      const r = await reg({ TYPE: 9 });
      expect(r.status).to.equal(400);
      expect(r.json).to.deep.equal({ error: '', error_description: 'Unknown TYPE' });
      expect(r.json).not.to.have.property('result');
      await startFake({ errorCode: 'ERROR_CORE' });
      expect((await reg({ TYPE: 9 })).json.error).to.equal('ERROR_CORE');
    });

    it('parses form, query and JSON alike (PHP brackets) and ignores lower-case telephony keys', async () => {
      const viaForm = await call(`${W}user.get`, { form: 'FILTER%5BUF_PHONE_INNER%5D=101&FILTER[ACTIVE]=1' });
      const viaQuery = await call(`${W}user.get?filter[UF_PHONE_INNER]=101`);
      const viaJson = await call(`${W}user.get`, { json: { FILTER: { UF_PHONE_INNER: 101 } } });
      for (const r of [viaForm, viaQuery, viaJson]) expect(r.json.result.map((u: Json) => u.ID)).to.deep.equal(['12']);
      expect(fake.calls('user.get')[0].params).to.deep.equal({ FILTER: { UF_PHONE_INNER: '101', ACTIVE: '1' } });

      const lower = await call(`${W}telephony.externalcall.register`, { json: { user_id: 12, phone_number: '+1555', type: 2 } });
      expect(lower.json.error_description).to.equal('USER_ID or USER_PHONE_INNER should be set');

      // an unencoded "+" in a form value is a space: the number loses its plus sign
      const plus = await call(`${W}telephony.externalcall.register`, { form: 'USER_ID=12&TYPE=2&SHOW=0&PHONE_NUMBER=+79161234567' });
      expect(fake.activeCalls.get(plus.json.result.CALL_ID)!.PHONE_NUMBER).to.equal('79161234567');
      const show = await call(`${W}telephony.externalcall.show`, { form: `CALL_ID=${plus.json.result.CALL_ID}&USER_ID[]=12&USER_ID[]=15` });
      expect(show.json.result).to.equal(true);
      expect(fake.shows.at(-1)!.userIds).to.deep.equal([12, 15]);

      // UTF-8, percent-encoded or raw, in form bodies
      await call(`${W}telephony.externalLine.add`, { form: 'NUMBER=%2B74950000001&NAME=%D0%9B%D0%B8%D0%BD%D0%B8%D1%8F+1' });
      await call(`${W}telephony.externalLine.add`, { form: 'NUMBER=%2B74950000002&NAME=Линия 2 😀' });
      const lines = await call(`${W}telephony.externalLine.get`);
      expect(lines.json.result.map((l: Json) => `${l.NUMBER} ${l.NAME}`)).to.deep.equal(['+74950000001 Линия 1', '+74950000002 Линия 2 😀']);
    });

    it('enforces scopes; user.current is always allowed', async () => {
      await startFake({ webhook: { userId: 1, code: 'abc', scopes: ['telephony'] } });
      const r = await call(`${W}user.get`);
      expect(r.status).to.equal(401);
      expect(r.json.error).to.equal('insufficient_scope');
      expect((await call(`${W}crm.contact.get?id=651`)).json.error).to.equal('insufficient_scope');
      expect((await call(`${W}user.current`)).status).to.equal(200);
      expect((await call(`${W}telephony.externalCall.searchCrmEntities?PHONE_NUMBER=1`)).status).to.equal(200);
    });
  });

  describe('telephony.externalcall.register', () => {
    it('validates in source order with the exact messages', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ USER_ID: 0, USER_PHONE_INNER: '999', TYPE: 9 }, 'USER_ID or USER_PHONE_INNER should be set'],
        [{ USER_ID: undefined, USER_PHONE_INNER: '103' }, 'USER_ID or USER_PHONE_INNER should be set'], // fired
        [{ USER_ID: 999, TYPE: 'x' }, 'Unknown TYPE'],
        [{ TYPE: '2abc' }, 'Unknown TYPE'],
        [{ CALL_START_DATE: 'yesterday-ish', PHONE_NUMBER: '' }, 'CALL_START_DATE should be in the ISO-8601 format'],
        [{ CALL_START_DATE: '2025-13-01T00:00:00Z' }, 'CALL_START_DATE should be in the ISO-8601 format'],
        [{ PHONE_NUMBER: 'abc-()' }, 'Unsupported phone number format'],
        [{ USER_ID: 999 }, 'User is not found or is not active'],
        [{ USER_ID: 17 }, 'User is not found or is not active'],
        [{ USER_ID: 90 }, 'User is not found or is not active'],
      ];
      for (const [extra, message] of cases) {
        const r = await reg(extra);
        expect(r.status, message).to.equal(400);
        expect(r.json, JSON.stringify(extra)).to.deep.equal({ error: '', error_description: message });
      }
      expect(fake.activeCalls.size).to.equal(0);
    });

    it('accepts ISO-8601 with offset, strips the number and auto-creates the line', async () => {
      const r = await reg({
        USER_ID: undefined,
        USER_PHONE_INNER: '101',
        TYPE: '2',
        PHONE_NUMBER: '+1 (415) 555-01-23 ext',
        CALL_START_DATE: '2025-12-30T11:00:00Z',
        LINE_NUMBER: ' +14155550100 ',
      });
      expect(r.status).to.equal(200);
      const id: string = r.json.result.CALL_ID;
      expect(id).to.match(/^externalCall\.[0-9a-f]{32}\.\d{10}$/);
      expect(r.json.result).to.deep.equal({ CALL_ID: id, CRM_CREATED_LEAD: null, CRM_CREATED_ENTITIES: [], CRM_ENTITY_TYPE: '', CRM_ENTITY_ID: null });
      const c = fake.activeCalls.get(id)!;
      expect(c).to.include({ USER_ID: 12, PHONE_NUMBER: '+14155550123', TYPE: 2, LINE_NUMBER: '+14155550100', CALL_START_DATE: '2025-12-30T14:00:00+03:00' });
      expect(fake.linesOf('webhook').map((l) => l.NUMBER)).to.deep.equal(['+14155550100']);
      const lines = await call(`${W}telephony.externalLine.get`);
      expect(lines.json.result).to.deep.equal([{ NUMBER: '+14155550100', NAME: '', CRM_AUTO_CREATE: 'Y' }]);
    });

    it('de-duplicates open calls for 30 minutes; EXTERNAL_CALL_ID and LINE_NUMBER split them', async () => {
      const a = (await reg()).json.result.CALL_ID;
      expect((await reg({ CALL_START_DATE: '2025-01-01T00:00:00+03:00' })).json.result.CALL_ID).to.equal(a);
      expect((await reg({ TYPE: 3 })).json.result.CALL_ID).to.not.equal(a);

      const x1 = (await reg({ EXTERNAL_CALL_ID: '1767096000.1', PHONE_NUMBER: '+100' })).json.result.CALL_ID;
      const x2 = (await reg({ EXTERNAL_CALL_ID: '1767096000.2', PHONE_NUMBER: '+100' })).json.result.CALL_ID;
      expect(x2).to.not.equal(x1);
      expect((await reg({ EXTERNAL_CALL_ID: '1767096000.2', PHONE_NUMBER: '+100' })).json.result.CALL_ID).to.equal(x2);
      // without EXTERNAL_CALL_ID the key does not include it: it hits one of the open calls
      expect([x1, x2]).to.include((await reg({ PHONE_NUMBER: '+100' })).json.result.CALL_ID);

      const l1 = (await reg({ PHONE_NUMBER: '+200', LINE_NUMBER: '+1' })).json.result.CALL_ID;
      expect((await reg({ PHONE_NUMBER: '+200', LINE_NUMBER: '+2' })).json.result.CALL_ID).to.not.equal(l1);

      // finished → gone; older than 30 min → not a duplicate
      await call(`${W}telephony.externalcall.finish`, { json: { CALL_ID: a, USER_ID: 12 } });
      const b = (await reg()).json.result.CALL_ID;
      expect(b).to.not.equal(a);
      fake.activeCalls.get(b)!.createdAt -= 31 * 60 * 1000;
      expect((await reg()).json.result.CALL_ID).to.not.equal(b);
    });

    it('shows the card by default (SHOW omitted) and not with SHOW=0', async () => {
      await reg({ SHOW: undefined });
      expect(fake.shows).to.have.length(1);
      expect(fake.shows[0].userIds).to.deep.equal([12]);
      await reg({ PHONE_NUMBER: '+2', SHOW: 0 });
      await reg({ PHONE_NUMBER: '+3', SHOW: '0' });
      expect(fake.shows).to.have.length(1);
    });

    it('binds CRM by normalised digits (8… ≡ +7…), creates a lead with CRM_CREATE, skips CRM for internal calls', async () => {
      const found = await reg({ PHONE_NUMBER: '8 916 123 45 67' });
      expect(found.json.result).to.include({ CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 651, CRM_CREATED_LEAD: null });

      const created = await reg({ PHONE_NUMBER: '+14155550199', CRM_CREATE: 1 });
      const leadId = created.json.result.CRM_CREATED_LEAD;
      expect(leadId).to.be.a('number');
      expect(created.json.result).to.deep.include({
        CRM_CREATED_ENTITIES: [{ ENTITY_TYPE: 'LEAD', ENTITY_ID: leadId }],
        CRM_ENTITY_TYPE: 'LEAD',
        CRM_ENTITY_ID: leadId,
      });
      expect(fake.createdLeads.map((l) => l.name)).to.deep.equal(['Звонок с +14155550199']);

      const internal = await reg({ PHONE_NUMBER: '102', CRM_CREATE: 1 });
      expect(internal.json.result).to.include({ CRM_ENTITY_TYPE: '', CRM_ENTITY_ID: null, CRM_CREATED_LEAD: null });
      expect(fake.createdLeads).to.have.length(1);
    });
  });

  describe('finish / show / hide', () => {
    it('requires a string CALL_ID, finishes once, then the call is gone', async () => {
      const id = (await reg({ LINE_NUMBER: '+14155550100', EXTERNAL_CALL_ID: 'u1' })).json.result.CALL_ID;
      const num = await call(`${W}telephony.externalcall.finish`, { json: { CALL_ID: 12345, USER_ID: 12 } });
      expect(num.status).to.equal(400);
      expect(num.json).to.deep.equal({ error: 'INVALID_ARGUMENT', error_description: 'CALL_ID must be a string' });

      const shownToOther = await call(`${W}telephony.externalcall.show`, { json: { CALL_ID: id, USER_ID: [15] } });
      expect(shownToOther.json.result).to.equal(true);

      const f = await call(`${W}telephony.externalcall.finish`, { json: { CALL_ID: id, USER_ID: 15, DURATION: 83, STATUS_CODE: '304' } });
      expect(f.status).to.equal(200);
      expect(f.json.result).to.include({
        CALL_ID: id,
        EXTERNAL_CALL_ID: 'u1',
        PORTAL_USER_ID: 15,
        PHONE_NUMBER: '+14155550123',
        PORTAL_NUMBER: '+14155550100',
        INCOMING: '2',
        CALL_DURATION: 83,
        CALL_STATUS: 1,
        CALL_FAILED_CODE: '304',
      });
      expect(f.json.result.CALL_START_DATE).to.deep.equal({});
      expect(f.json.result.ID).to.be.a('number');
      expect(fake.activeCalls.has(id)).to.equal(false);
      expect(fake.finishedCalls.get(id)).to.include({ PORTAL_USER_ID: 15, CALL_STATUS: 1, CALL_DURATION: 83, ID: f.json.result.ID });
      expect(fake.hides).to.deep.equal([{ callId: id, userIds: [15], result: true }]);

      const again = await call(`${W}telephony.externalcall.finish`, { json: { CALL_ID: id, USER_ID: 15 } });
      expect(again.status).to.equal(400);
      expect(again.json).to.deep.equal({ error: '', error_description: 'Call is not found (call should be registered prior to finishing' });
      expect((await call(`${W}telephony.externalcall.hide`, { json: { CALL_ID: id, USER_ID: 12 } })).json.result).to.equal(false);
      expect((await call(`${W}telephony.externalcall.show`, { json: { CALL_ID: id } })).json.result).to.equal(false);
    });

    it('defaults STATUS_CODE 304 / CALL_STATUS 0 without DURATION and resolves USER_PHONE_INNER', async () => {
      const id = (await reg()).json.result.CALL_ID;
      const noUser = await call(`${W}telephony.externalcall.finish`, { json: { CALL_ID: id } });
      expect(noUser.json.error_description).to.equal('USER_ID or USER_PHONE_INNER should be set');
      const f = await call(`${W}telephony.externalcall.finish`, { json: { CALL_ID: id, USER_PHONE_INNER: '101', STATUS_CODE: '200' } });
      expect(f.json.result).to.include({ PORTAL_USER_ID: 12, CALL_STATUS: 0, CALL_FAILED_CODE: '200', PORTAL_NUMBER: 'REST_APP:' });
      const id2 = (await reg()).json.result.CALL_ID;
      const f2 = await call(`${W}telephony.externalcall.finish`, { form: `CALL_ID=${id2}&USER_ID=12` });
      expect(f2.json.result).to.include({ CALL_STATUS: 0, CALL_FAILED_CODE: '304' });
    });
  });

  describe('attachRecord', () => {
    let callId: string;
    beforeEach(async () => {
      callId = (await reg()).json.result.CALL_ID;
    });
    const attach = (p: Record<string, unknown>) => call(`${W}telephony.externalCall.attachRecord`, { json: { CALL_ID: callId, ...p } });
    const finish = () => call(`${W}telephony.externalcall.finish`, { json: { CALL_ID: callId, USER_ID: 12, DURATION: 5 } });

    it('needs a finished call, a wav/mp3 name and strict Base64', async () => {
      const early = await attach({ FILENAME: 'a.mp3', FILE_CONTENT: 'AAAA' });
      expect(early.json).to.deep.equal({ error: '', error_description: 'Call is not found in the statistic table. Looks like it is not finished yet.' });
      await finish();
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ FILENAME: 'a.ogg', FILE_CONTENT: 'AAAA' }, 'Wrong file extension. Only wav and mp3 are allowed'],
        [{ FILENAME: 'a.WAV', FILE_CONTENT: 'AAAA' }, 'Wrong file extension. Only wav and mp3 are allowed'],
        [{ FILENAME: '', FILE_CONTENT: 'AAAA' }, 'File name is empty'],
        [{ FILENAME: 'a.wav', FILE_CONTENT: '' }, 'File content is empty.'],
        [{ FILENAME: 'a.wav', FILE_CONTENT: '-_8A' }, 'File content is not properly encoded. Base64 encoding is expected.'],
        [{ FILENAME: 'a.wav', FILE_CONTENT: 'not base64!' }, 'File content is not properly encoded. Base64 encoding is expected.'],
        [{ FILENAME: 'a.wav', FILE_CONTENT: 'QUJD=' }, 'File content is not properly encoded. Base64 encoding is expected.'],
        [{ CALL_ID: callId }, 'Required parameters are not set. Request should contain or URL or FILENAME parameter'],
      ];
      for (const [p, message] of cases) {
        const r = await attach(p);
        expect(r.status, message).to.equal(400);
        expect(r.json.error_description, JSON.stringify(p)).to.equal(message);
      }
      const ok = await attach({ FILENAME: 'rec.wav', FILE_CONTENT: Buffer.from('RIFF....WAVE').toString('base64') });
      expect(ok.status).to.equal(200);
      expect(ok.json.result.FILE_ID).to.be.a('number');
      expect(fake.attachedFiles).to.have.length(1);
      expect(fake.attachedFiles[0]).to.include({ callId, filename: 'rec.wav', mode: 'base64' });
      expect(fake.attachedFiles[0].data.toString()).to.equal('RIFF....WAVE');
    });

    it('two-step upload: FILENAME without FILE_CONTENT → uploadUrl accepting multipart field "file"', async () => {
      await finish();
      const r = await attach({ FILENAME: 'rec.mp3', FILE_CONTENT: null });
      expect(r.json.result.fieldName).to.equal('file');
      const uploadUrl: string = r.json.result.uploadUrl;
      expect(uploadUrl).to.match(/\/rest\/upload\.json\?.*token=/);
      const boundary = 'xXx';
      const wrongField = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="data"; filename="rec.mp3"\r\n\r\nID3\r\n--${boundary}--\r\n`);
      const bad = await call(uploadUrl, { body: wrongField, contentType: `multipart/form-data; boundary=${boundary}` });
      expect(bad.status).to.equal(400);
      const payload = Buffer.from([0x49, 0x44, 0x33, 0x00, 0xff, 0x0d, 0x0a]);
      const body = Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="rec.mp3"\r\nContent-Type: application/octet-stream\r\n\r\n`),
        payload,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const up = await call(uploadUrl, { body, contentType: `multipart/form-data; boundary=${boundary}` });
      expect(up.status).to.equal(200);
      expect(up.json.result.FILE_ID).to.be.a('number');
      expect(fake.attachedFiles[0]).to.include({ callId, filename: 'rec.mp3', mode: 'upload' });
      expect(fake.attachedFiles[0].data.equals(payload)).to.equal(true);
      expect(fake.calls('upload').map((c) => c.status)).to.deep.equal([400, 200]);
    });

    it('RECORD_URL: downloads the file with GET; non-200 is an error', async () => {
      const files = http.createServer((req, res) => {
        if (req.url === '/rec/call-1.wav') {
          res.writeHead(200, { 'Content-Type': 'audio/wav' });
          res.end('RIFFdata');
        } else {
          res.writeHead(404);
          res.end();
        }
      });
      await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
      const base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
      try {
        await finish();
        const ok = await attach({ RECORD_URL: `${base}/rec/call-1.wav` });
        expect(ok.status).to.equal(200);
        expect(fake.attachedFiles[0]).to.include({ filename: 'call-1.wav', mode: 'url' });
        expect(fake.attachedFiles[0].data.toString()).to.equal('RIFFdata');
        const missing = await attach({ RECORD_URL: `${base}/nope.wav` });
        expect(missing.json).to.deep.equal({ error: '', error_description: 'Server returns HTTP error code 404' });
      } finally {
        await new Promise<void>((r) => files.close(() => r()));
      }
    });
  });

  describe('searchCrmEntities and user.get', () => {
    it('searchCrmEntities: required PHONE_NUMBER, contacts → leads → companies, [] when nothing', async () => {
      const empty = await call(`${W}telephony.externalCall.searchCrmEntities`, { json: {} });
      expect(empty.json).to.deep.equal({ error: '', error_description: 'PHONE_NUMBER is empty' });
      const r = await call(`${W}telephony.externalCall.searchCrmEntities`, { json: { PHONE_NUMBER: '+7 916 123-45-67' } });
      expect(r.json.result.map((e: Json) => `${e.CRM_ENTITY_TYPE}:${e.CRM_ENTITY_ID}`)).to.deep.equal(['CONTACT:651', 'LEAD:311', 'COMPANY:643']);
      expect(r.json.result[0]).to.deep.include({ ASSIGNED_BY_ID: 12, NAME: 'Иван Петров' });
      expect(r.json.result[0].ASSIGNED_BY).to.include({ ID: '12', USER_PHONE_INNER: '101' });
      const none = await call(`${W}telephony.externalCall.searchCrmEntities`, { json: { PHONE_NUMBER: '+15550000000' } });
      expect(none.json.result).to.deep.equal([]);
    });

    it('searchCrmEntities ASSIGNED_BY: the responsible whatever ACTIVE, their phones, TIMEMAN_STATUS from time tracking; nulls for a user that does not exist', async () => {
      fake.addUser({ ID: 20, NAME: 'Petr', ACTIVE: true, UF_PHONE_INNER: '120', TIMEMAN: 'CLOSED', PERSONAL_MOBILE: '+7 (903) 111-22-33' });
      fake.addCrm({ type: 'CONTACT', id: 700, name: 'A', phones: ['+74950000001'], assignedById: 20 });
      fake.addCrm({ type: 'CONTACT', id: 701, name: 'B', phones: ['+74950000002'], assignedById: 17 });
      fake.addCrm({ type: 'CONTACT', id: 702, name: 'C', phones: ['+74950000003'], assignedById: 404 });
      fake.addCrm({ type: 'CONTACT', id: 703, name: 'D', phones: ['+74950000004'], assignedById: 15 });
      const by = async (phone: string) => (await call(`${W}telephony.externalCall.searchCrmEntities`, { json: { PHONE_NUMBER: phone } })).json.result[0].ASSIGNED_BY;
      expect(await by('+74950000001')).to.deep.equal({
        ID: '20', TIMEMAN_STATUS: 'CLOSED', USER_PHONE_INNER: '120', WORK_PHONE: null, PERSONAL_PHONE: null, PERSONAL_MOBILE: '+7 (903) 111-22-33',
      });
      expect(await by('+74950000002'), 'fired user: still returned').to.include({ ID: '17', USER_PHONE_INNER: '103', TIMEMAN_STATUS: 'UNAVAILABLE' });
      expect(await by('+74950000003')).to.deep.equal({ ID: null, TIMEMAN_STATUS: null, USER_PHONE_INNER: null, WORK_PHONE: null, PERSONAL_PHONE: null, PERSONAL_MOBILE: null });
      expect(await by('+74950000004'), 'time tracking off for the user').to.include({ TIMEMAN_STATUS: 'UNAVAILABLE' });
      await startFake({ timemanInstalled: false });
      fake.addCrm({ type: 'CONTACT', id: 700, name: 'A', phones: ['+74950000001'], assignedById: 12 });
      expect(await by('+74950000001')).to.include({ ID: '12', TIMEMAN_STATUS: 'NOT_INSTALLED' });
    });

    it('user.get: exact extension, ACTIVE, no bots, 50 per page with total/next, string IDs', async () => {
      expect((await call(`${W}user.get`, { json: { FILTER: { UF_PHONE_INNER: '10' } } })).json.result).to.deep.equal([]);
      expect((await call(`${W}user.get`, { json: { FILTER: { UF_PHONE_INNER: '103' } } })).json.result).to.have.length(1);
      const active = await call(`${W}user.get`, { json: { FILTER: { UF_PHONE_INNER: '103', ACTIVE: true } } });
      expect(active.json.result).to.deep.equal([]);
      expect((await call(`${W}user.get`, { json: { FILTER: { UF_PHONE_INNER: '190' } } })).json.result).to.deep.equal([]);

      for (let i = 0; i < 116; i++) fake.addUser({ ID: 1000 + i, NAME: `U${i}`, ACTIVE: true, UF_PHONE_INNER: String(2000 + i) });
      const p1 = await call(`${W}user.get`, { json: { FILTER: { ACTIVE: true } } });
      expect(p1.json.result).to.have.length(50);
      expect(p1.json).to.include({ total: 119, next: 50 });
      expect(p1.json.result[0]).to.include({ ID: '1', UF_PHONE_INNER: null });
      const p3 = await call(`${W}user.get`, { json: { FILTER: { ACTIVE: true }, start: 100 } });
      expect(p3.json.result).to.have.length(19);
      expect(p3.json.total).to.equal(119);
      expect(p3.json).to.not.have.property('next');
      expect(fake.calls('user.get').at(-1)!.params.start).to.equal(100);
      const sel = await call(`${W}user.get`, { form: 'FILTER[UF_PHONE_INNER]=101&select[]=ID&select[]=UF_PHONE_INNER' });
      expect(sel.json.result).to.deep.equal([{ ID: '12', UF_PHONE_INNER: '101' }]);
    });
  });

  describe('batch', () => {
    it('runs commands in order, substitutes $result[..] into parsed params, reports per-command errors', async () => {
      const id = (await reg()).json.result.CALL_ID;
      const r = await call(`${W}batch`, {
        json: {
          halt: 0,
          cmd: {
            u: 'user.get?FILTER[UF_PHONE_INNER]=102&FILTER[ACTIVE]=1',
            s: `telephony.externalcall.show?CALL_ID=${encodeURIComponent(id)}&USER_ID[]=$result[u][0][ID]`,
            c: 'telephony.externalCall.searchCrmEntities?PHONE_NUMBER=%2B79161234567',
            bad: 'telephony.externalcall.finish?CALL_ID=nope&USER_ID=12',
            nested: 'batch?cmd[a]=user.current',
          },
        },
      });
      expect(r.status).to.equal(200);
      const b = r.json.result;
      expect(b.result.u[0].ID).to.equal('15');
      expect(b.result.s).to.equal(true);
      expect(fake.shows.at(-1)).to.deep.equal({ callId: id, userIds: [15], result: true });
      expect(fake.calls('telephony.externalcall.show')[0].params.USER_ID).to.deep.equal(['15']);
      expect(b.result.c[0].CRM_ENTITY_ID).to.equal(651);
      expect(b.result_error.bad).to.deep.equal({ error: '', error_description: 'Call is not found (call should be registered prior to finishing' });
      expect(b.result_error.nested.error).to.equal('ERROR_BATCH_METHOD_NOT_ALLOWED');
      expect(b.result_total).to.deep.equal({ u: 1 });
      expect(b.result_next).to.deep.equal([]);
      expect(Object.keys(b.result_time)).to.deep.equal(['u', 's', 'c', 'bad', 'nested']);
      expect(r.json.time).to.have.property('start');
      expect(fake.requests.at(-1)!.subcalls).to.have.length(5);
    });

    it('list cmd via double-encoded form, halt stops at the first error, empty sections are []', async () => {
      const cmds = ['user.current', 'telephony.externalcall.finish?CALL_ID=x&USER_ID=12', 'user.get?FILTER%5BUF_PHONE_INNER%5D=101'];
      const form = `halt=1&${cmds.map((c, i) => `cmd[${i}]=${encodeURIComponent(c)}`).join('&')}`;
      const r = await call(`${W}batch`, { form });
      expect(r.json.result.result).to.have.length(1);
      expect(r.json.result.result_error).to.have.property('1');
      expect(r.json.result.result_total).to.deep.equal([]);
      expect(Object.keys(r.json.result.result_time)).to.deep.equal(['0', '1']);

      const noHalt = await call(`${W}batch`, { form: form.replace('halt=1', 'halt=0') });
      expect(noHalt.json.result.result).to.deep.equal({ 0: noHalt.json.result.result[0], 2: noHalt.json.result.result[2] });
      expect(noHalt.json.result.result[2][0].ID).to.equal('12');

      const ok = await call(`${W}batch`, { json: { cmd: ['user.current'] } });
      expect(ok.json.result.result_error).to.deep.equal([]);
      expect(ok.json.result.result).to.be.an('array').with.length(1);
    });

    it('rejects more than 50 commands and auth errors are the whole response', async () => {
      const cmd: Record<string, string> = {};
      for (let i = 0; i < 51; i++) cmd[`c${i}`] = 'user.current';
      const r = await call(`${W}batch`, { json: { cmd } });
      expect(r.status).to.equal(400);
      expect(r.json).to.deep.equal({ error: 'ERROR_BATCH_LENGTH_EXCEEDED', error_description: 'Max batch length exceeded' });
      const noAuth = await call(`${fake.url}/rest/batch`, { json: { cmd: ['user.current'] } });
      expect(noAuth.status).to.equal(401);
      expect(noAuth.json.error).to.equal('NO_AUTH_FOUND');
    });
  });

  describe('limits and faults', () => {
    it('leaky bucket: 503 QUERY_LIMIT_EXCEEDED after the burst, drains over time, batch counts once', async () => {
      await startFake({ rateLimit: { burst: 5, drainPerSec: 2 } });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await call(`${W}user.current`)).status);
      const cmd = Array.from({ length: 20 }, () => 'user.current');
      statuses.push((await call(`${W}batch`, { json: { cmd } })).status);
      const limited = await call(`${W}user.current`);
      statuses.push(limited.status);
      expect(statuses).to.deep.equal([200, 200, 200, 200, 200, 503]);
      expect(limited.json).to.deep.equal({ error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' });
      expect(fake.rateLimit503Count()).to.equal(1);
      expect(fake.httpRequestCount()).to.equal(6);
      await sleep(650); // drains 1.3 requests
      expect((await call(`${W}user.current`)).status).to.equal(200);
      expect((await call(`${W}user.current`)).status).to.equal(503);
    });

    it('failNext: html502, operation_time_limit, method filter, internal, custom', async () => {
      fake.failNext(1, 'html502');
      const r = await call(`${W}user.current`);
      expect(r.status).to.equal(502);
      expect(r.contentType).to.match(/text\/html/);
      fake.failNext(1, 'operation_time_limit', 'telephony.externalCall.register');
      expect((await call(`${W}user.current`)).status).to.equal(200);
      const otl = await reg();
      expect(otl.status).to.equal(429);
      expect(otl.json.error).to.equal('OPERATION_TIME_LIMIT');
      expect(otl.json.time.operating_reset_at).to.be.greaterThan(Date.now() / 1000);
      expect((await reg()).status).to.equal(200);
      fake.failNext(1, 'internal');
      expect((await call(`${W}user.current`)).json.error).to.equal('INTERNAL_SERVER_ERROR');
      fake.failNext(1, { status: 504, body: 'Gateway Timeout', contentType: 'text/plain' });
      const c = await call(`${W}user.current`);
      expect([c.status, c.text]).to.deep.equal([504, 'Gateway Timeout']);
      fake.failNext(1, 'query_limit');
      expect((await call(`${W}user.current`)).status).to.equal(503);
      fake.failNext(1, { slowMs: 150 });
      const t0 = Date.now();
      const slow = await call(`${W}user.current`);
      expect([slow.status, Date.now() - t0 >= 140, fake.requests.at(-1)!.fault]).to.deep.equal([200, true, 'slow:150']);
    });

    it('setRedirect: a renamed portal answers every portal request with a redirect to the new host, path kept', async () => {
      fake.setRedirect('https://new-name.bitrix24.ru');
      const r = await reg();
      expect(r.status).to.equal(301);
      const location = await new Promise<string>((resolve, reject) =>
        http
          .get(`${W}user.current.json?x=1`, { agent: false }, (res) => {
            res.resume();
            resolve(String(res.headers.location));
          })
          .on('error', reject),
      );
      expect(location).to.equal(`https://new-name.bitrix24.ru${new URL(W).pathname}user.current.json?x=1`);
      expect(fake.activeCalls.size, 'nothing registered').to.equal(0);
      const code = fake.grantAuthorizationCode();
      const token = await call(`${fake.oauthUrl}?${new URLSearchParams({ grant_type: 'authorization_code', code, client_id: 'local.app1', client_secret: 'app-s3cr3t-value' })}`);
      expect(token.status, 'the token endpoint is another host').to.equal(200);
      fake.setRedirect('https://new-name.bitrix24.ru', 302);
      expect((await call(`${W}user.current`)).status).to.equal(302);
      fake.setRedirect(null);
      expect((await reg()).status).to.equal(200);
      fake.failNext(1, { status: 307, body: '', headers: { Location: 'https://elsewhere.example/' } }, 'oauth.token');
      expect((await call(`${fake.oauthUrl}?grant_type=refresh_token`)).status).to.equal(307);
    });

    it('setOAuthLatency: the token endpoint rotates the refresh token at once and answers late', async () => {
      const t = fake.issueTokens();
      fake.setOAuthLatency(400);
      const url = `${fake.oauthUrl}?${new URLSearchParams({ grant_type: 'refresh_token', refresh_token: t.refreshToken, client_id: 'local.app1', client_secret: 'app-s3cr3t-value' })}`;
      const given = await callError(url, { timeoutMs: 100 });
      expect(given.code, 'the client gave up first').to.equal('CLIENT_TIMEOUT');
      expect(fake.issuedTokens().refreshGrants, 'but the refresh token was used').to.equal(1);
      fake.setOAuthLatency(0);
      expect((await call(url)).json.error, 'so it is gone').to.equal('invalid_grant');
    });

    it('reset / timeout / setDown are transport failures; setDown(false) restores the same URL; latency', async () => {
      fake.failNext(1, 'reset');
      expect((await callError(`${W}user.current`)).code).to.be.oneOf(['ECONNRESET', 'EPIPE']);
      fake.failNext(1, 'timeout');
      expect((await callError(`${W}user.current`, { timeoutMs: 150 })).code).to.equal('CLIENT_TIMEOUT');
      fake.setDown(true);
      expect((await callError(`${W}user.current`)).code).to.be.oneOf(['ECONNRESET', 'EPIPE', 'ECONNREFUSED']);
      fake.setDown(false);
      expect((await call(`${W}user.current`)).status).to.equal(200);
      fake.setLatency(120);
      const t0 = Date.now();
      await call(`${W}user.current`);
      expect(Date.now() - t0).to.be.at.least(110);
      fake.setLatency(0);
      fake.failNext(1, 'timeout'); // left hanging: stop() must still close cleanly
      const hanging = call(`${W}user.current`, { timeoutMs: 4000 }).catch((e: Error) => e);
      await sleep(50);
      await fake.stop();
      expect(await hanging).to.be.instanceOf(Error);
    });
  });

  describe('auth types and OAuth', () => {
    it('webhooksAllowedForTelephony=false → 403 WRONG_AUTH_TYPE for register/finish/externalLine via webhook only', async () => {
      fake.setWebhooksAllowedForTelephony(false);
      for (const m of ['telephony.externalcall.register', 'telephony.externalcall.finish', 'telephony.externalLine.get']) {
        const r = await call(`${W}${m}`, { json: {} });
        expect(r.status, m).to.equal(403);
        expect(r.json).to.deep.equal({ error: 'WRONG_AUTH_TYPE', error_description: 'Current authorization type is denied for this method' });
      }
      expect((await call(`${W}telephony.externalcall.show`, { json: { CALL_ID: 'x' } })).json.result).to.equal(false);
      const { accessToken } = fake.issueTokens();
      const viaApp = await call(`${fake.url}/rest/telephony.externalcall.register.json`, {
        json: { auth: accessToken, USER_ID: 12, PHONE_NUMBER: '+1555', TYPE: 1, SHOW: 0 },
      });
      expect(viaApp.status).to.equal(200);
      expect(fake.activeCalls.get(viaApp.json.result.CALL_ID)!.appKey).to.equal('local.app1');
      expect(fake.calls('telephony.externalcall.register').at(-1)!.auth).to.equal('oauth');
      fake.setWebhooksAllowedForTelephony(true);
      expect((await reg()).status).to.equal(200);
    });

    it('authorization_code and refresh_token grants: rotation, client check, expiry → expired_token', async () => {
      const tokenUrl = (q: Record<string, string>) => `${fake.oauthUrl}?${new URLSearchParams(q)}`;
      const creds = { client_id: 'local.app1', client_secret: 'app-s3cr3t-value' };
      const code = fake.grantAuthorizationCode();
      const first = await call(tokenUrl({ grant_type: 'authorization_code', code, ...creds }));
      expect(first.status).to.equal(200);
      expect(first.json).to.include.keys('access_token', 'refresh_token', 'expires_in', 'client_endpoint');
      expect(first.json.client_endpoint).to.equal(`${fake.url}/rest/`);
      expect((await call(tokenUrl({ grant_type: 'authorization_code', code, ...creds }))).json.error).to.equal('invalid_grant');

      const noAuth = await call(`${fake.url}/rest/user.current`);
      expect([noAuth.status, noAuth.json.error]).to.deep.equal([401, 'NO_AUTH_FOUND']);
      const q = await call(`${fake.url}/rest/user.current?auth=${first.json.access_token}`);
      const f = await call(`${fake.url}/rest/user.current.json`, { form: `auth=${first.json.access_token}` });
      expect([q.status, f.status]).to.deep.equal([200, 200]);
      expect((await call(`${fake.url}/rest/user.current?auth=garbage`)).json.error).to.equal('invalid_token');

      const badSecret = await call(tokenUrl({ grant_type: 'refresh_token', refresh_token: first.json.refresh_token, client_id: 'local.app1', client_secret: 'x' }));
      expect(badSecret.json.error).to.equal('invalid_client');
      const second = await call(tokenUrl({ grant_type: 'refresh_token', refresh_token: first.json.refresh_token, ...creds }));
      expect(second.status).to.equal(200);
      expect(second.json.refresh_token).to.not.equal(first.json.refresh_token);
      const reused = await call(tokenUrl({ grant_type: 'refresh_token', refresh_token: first.json.refresh_token, ...creds }));
      expect([reused.status, reused.json.error]).to.deep.equal([400, 'invalid_grant']);
      const viaPost = await call(fake.oauthUrl, { form: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: second.json.refresh_token, ...creds }).toString() });
      expect(viaPost.status).to.equal(200);
      expect(fake.issuedTokens()).to.deep.equal({ refreshGrants: 2, codeGrants: 1 });
      expect(fake.calls('oauth.token')).to.have.length(6);

      fake.expireAccessTokens();
      const expired = await call(`${fake.url}/rest/user.current`, { json: { auth: viaPost.json.access_token } });
      expect(expired.status).to.equal(401);
      expect(expired.json).to.deep.equal({ error: 'expired_token', error_description: 'The access token provided has expired.' });
    });

    it('events (click-to-call): application context only, offline binding needs an administrator, the queue is read once', async () => {
      for (const m of ['event.bind', 'event.get', 'event.unbind', 'event.offline.get']) {
        const r = await call(`${W}${m}`, { json: { event: 'ONEXTERNALCALLSTART', event_type: 'offline' } });
        expect([r.status, r.json], m).to.deep.equal([403, { error: 'WRONG_AUTH_TYPE', error_description: 'Current authorization type is denied for this method' }]);
      }
      const { accessToken } = fake.issueTokens();
      const app = (m: string, json: Record<string, unknown> = {}) => call(`${fake.url}/rest/${m}.json`, { json: { auth: accessToken, ...json } });
      expect(() => fake.clickToCall({ userId: 12, phone: '+79161234567' }), 'no line yet').to.throw(/LINE_NOT_FOUND/);
      fake.appUserIsAdmin = false;
      expect((await app('event.bind', { event: 'OnExternalCallStart', event_type: 'offline' })).json).to.deep.equal({
        error: 'ACCESS_DENIED',
        error_description: 'Access denied! Offline events binding requires administrator access rights',
      });
      fake.appUserIsAdmin = true;
      expect((await app('event.bind', { event: 'OnExternalCallStart', event_type: 'offline' })).json.result).to.equal(true);
      const again = await app('event.bind', { event: 'ONEXTERNALCALLSTART', event_type: 'offline' });
      expect([again.status, again.json.error, again.json.error_description]).to.deep.equal([400, 'ERROR_CORE', 'Unable to set event handler: Handler already binded']);
      expect((await app('event.bind', { event: 'OnNoSuchEvent', event_type: 'offline' })).json.error).to.equal('ERROR_EVENT_NOT_FOUND');
      expect((await app('event.get')).json.result).to.deep.equal([{ event: 'ONEXTERNALCALLSTART', connector_id: '', offline: 1 }]);
      expect(fake.outgoingLineChoices()).to.deep.equal(['REST_APP:1']);

      const callId = fake.clickToCall({ userId: 12, phone: '+79161234567' });
      expect(fake.activeCalls.get(callId)).to.include({ TYPE: 1, USER_ID: 12, appKey: 'local.app1' });
      const got = await app('event.offline.get', { filter: { '=EVENT_NAME': 'ONEXTERNALCALLSTART' } });
      expect(got.json.result.process_id).to.equal(null);
      expect(got.json.result.events).to.have.length(1);
      const e = got.json.result.events[0];
      expect(e).to.have.keys('ID', 'TIMESTAMP_X', 'EVENT_NAME', 'EVENT_DATA', 'EVENT_ADDITIONAL', 'MESSAGE_ID');
      expect(e.EVENT_NAME).to.equal('ONEXTERNALCALLSTART');
      expect(e.TIMESTAMP_X).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
      expect(e.EVENT_DATA).to.include({ CALL_ID: callId, USER_ID: '12', PHONE_NUMBER: '+79161234567', PHONE_NUMBER_INTERNATIONAL: '+79161234567', CALL_LIST_ID: '0' });
      expect((await app('event.offline.get')).json.result.events, 'cleared once read').to.deep.equal([]);
      expect((await app('event.offline.get', { limit: 0 })).json.error).to.equal('ERROR_ARGUMENT');
      expect((await app('event.unbind', { event: 'ONEXTERNALCALLSTART', event_type: 'offline' })).json.result).to.deep.equal({ count: 1 });
    });

    it('access tokens expire after accessTokenTtlSec', async () => {
      await startFake({ app: { clientId: 'c', clientSecret: 's', accessTokenTtlSec: 0.15 } });
      const { accessToken } = fake.issueTokens();
      expect((await call(`${fake.url}/rest/user.current?auth=${accessToken}`)).status).to.equal(200);
      await sleep(200);
      expect((await call(`${fake.url}/rest/user.current?auth=${accessToken}`)).json.error).to.equal('expired_token');
    });
  });
});
