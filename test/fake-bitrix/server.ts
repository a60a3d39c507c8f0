// A strict fake Bitrix24 portal (REST + OAuth token endpoint) for the test suite.
// Behaviour follows /work/shared/reference/bitrix24-rest-api.md (§1–§12, §15–§17) and the mirrored
// voximplant/rest source it cites: PHP casts, `"error": ""` module errors, 30-minute de-dup,
// `[]` for empty maps, leaky-bucket 503s, batch `$result[...]` substitution.
import * as http from 'http';
import * as https from 'https';
import * as crypto from 'crypto';
import type { AddressInfo, Socket } from 'net';
import {
  Params,
  isList,
  isMap,
  isNumeric,
  isoWithOffset,
  looseEqualsInt,
  parseMultipart,
  parsePhpPairs,
  parsePhpQuery,
  parseStrtotime,
  phpArray,
  strictBase64Decode,
  toFloat,
  toInt,
  toStr,
  truthy,
} from './php';

// ================================================================ public types

export interface FakeUser {
  ID: number;
  NAME: string;
  LAST_NAME?: string;
  ACTIVE: boolean;
  UF_PHONE_INNER?: string | null;
  IS_ONLINE?: 'Y' | 'N';
  USER_TYPE?: 'employee' | 'extranet' | 'email' | 'bot';
  /**
   * The user's workday in the time-tracking module (CTimeManUser::State()); undefined: time
   * tracking is off for the user (searchCrmEntities then says UNAVAILABLE).
   */
  TIMEMAN?: 'OPENED' | 'CLOSED' | 'PAUSED' | 'EXPIRED';
  WORK_PHONE?: string | null;
  PERSONAL_PHONE?: string | null;
  PERSONAL_MOBILE?: string | null;
}

export interface FakeCrmEntity {
  type: 'CONTACT' | 'COMPANY' | 'LEAD';
  id: number;
  name: string;
  phones: string[];
  assignedById?: number;
}

export type Fault =
  | 'down'
  | 'reset'
  | 'html502'
  | 'timeout'
  | 'query_limit'
  | 'operation_time_limit'
  | 'internal'
  | { status: number; body: string; contentType?: string; headers?: Record<string, string> }
  /** Answered normally, but only after this long (e.g. a slow uplink for an upload). */
  | { slowMs: number };

export interface FakeBitrixOptions {
  webhook?: { userId: number; code: string; scopes?: string[] };
  app?: { clientId: string; clientSecret: string; accessTokenTtlSec?: number; scopes?: string[]; userId?: number };
  webhooksAllowedForTelephony?: boolean;
  rateLimit?: { burst: number; drainPerSec: number } | false;
  errorCode?: '' | 'ERROR_CORE';
  latencyMs?: number;
  /** Extra think-time of the token endpoint: the grant (and its rotation) happens on arrival, the answer this much later. */
  oauthLatencyMs?: number;
  portalTimeZoneOffsetMin?: number;
  /** Seconds until `time.operating_reset_at` in an OPERATION_TIME_LIMIT answer (default 60). */
  operationLimitResetSec?: number;
  /** Port to listen on (default 0 = random). */
  port?: number;
  /** The time-tracking module is installed (default true); without it every TIMEMAN_STATUS is NOT_INSTALLED. */
  timemanInstalled?: boolean;
  /**
   * The webhook owner (webhook.userId) exists in `users` as an active employee without extension,
   * as on a real portal (default true). Replace it with addUser({ID: 1, ...}) or pass false.
   */
  seedOwner?: boolean;
}

export interface RecordedRequest {
  method: string;
  params: Record<string, unknown>;
  status: number;
  at: number;
  auth: 'webhook' | 'oauth' | 'none';
  subcalls?: RecordedRequest[];
  /** The fault injected into this request, if any. */
  fault?: string;
}

export interface ActiveCall {
  CALL_ID: string;
  USER_ID: number;
  PHONE_NUMBER: string;
  TYPE: number;
  LINE_NUMBER: string;
  EXTERNAL_CALL_ID: string;
  CALL_START_DATE: string;
  CRM_ENTITY_TYPE: string;
  CRM_ENTITY_ID: number | null;
  createdAt: number;
  appKey: string;
}

export interface FinishedCall extends ActiveCall {
  PORTAL_USER_ID: number;
  CALL_DURATION: number;
  CALL_STATUS: 0 | 1;
  CALL_FAILED_CODE: string;
  ID: number;
  finishedAt: number;
  /** The statistics row exactly as `finish` returned it. */
  record?: Record<string, unknown>;
}

export interface ExternalLine {
  ID: number;
  NUMBER: string;
  NAME: string;
  CRM_AUTO_CREATE: 'Y' | 'N';
  appKey: string;
}

/** A handler bound with event.bind (offline handlers have no URL). */
export interface EventBinding {
  event: string;
  offline: boolean;
  handler: string;
  appKey: string;
}

/** A row of the portal's offline event queue, as event.offline.get returns it. */
export interface OfflineEventRow {
  ID: string;
  TIMESTAMP_X: string;
  EVENT_NAME: string;
  EVENT_DATA: Record<string, unknown>;
  EVENT_ADDITIONAL: unknown;
  MESSAGE_ID: string;
  appKey: string;
  processId: string;
}

export interface AttachedFile {
  callId: string;
  filename: string;
  data: Buffer;
  mode: 'base64' | 'upload' | 'url';
  fileId?: number;
}

/** Internal extras kept on active calls (all optional: tests may insert plain ActiveCall objects). */
interface CallState extends ActiveCall {
  hasExternalCallId?: boolean;
  crmCreatedLead?: number | null;
  createdEntities?: Array<{ ENTITY_TYPE: string; ENTITY_ID: number }>;
  internal?: boolean;
}

// ================================================================ internals

interface AuthCtx {
  type: 'webhook' | 'oauth';
  userId: number;
  appKey: string;
  scopes: string[];
  accessToken?: string;
}

interface HandlerResult {
  result: unknown;
  total?: number;
  next?: number;
}

interface CallCtx {
  auth: AuthCtx;
  start: number;
}

type Handler = (p: Params, ctx: CallCtx) => HandlerResult | Promise<HandlerResult>;

interface MethodDef {
  scope: string[] | null; // null: no scope needed
  appContext?: boolean; // register/finish/externalLine.*: refused for webhooks when configured
  handler: Handler;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly extra?: Record<string, unknown>,
  ) {
    super(`${status} ${code}: ${description}`);
  }
}

interface Route {
  kind: 'webhook' | 'rest' | 'oauth' | 'upload' | 'badrest' | 'none';
  method: string;
  uid?: string;
  code?: string;
}

interface AccessToken {
  token: string;
  expiresAt: number;
  expired: boolean;
  userId: number;
}

const DEFAULT_SCOPES = ['telephony', 'user', 'crm'];
const DEDUP_WINDOW_MS = 30 * 60 * 1000;
const MAX_BODY = 64 * 1024 * 1024;
const JSON_CT = 'application/json; charset=utf-8';
const HTML_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

function md5(s: string): string {
  return crypto.createHash('md5').update(s).digest('hex');
}

function randomHex(bytes: number): string {
  return crypto.randomBytes(bytes).toString('hex');
}

/** Digits only; RU `8XXXXXXXXXX` ≡ `7XXXXXXXXXX` (what the portal's phone parser does for RU numbers). */
export function normalizePhone(phone: string): string {
  const d = phone.replace(/\D/g, '');
  if (d.length === 11 && d[0] === '8') return `7${d.slice(1)}`;
  return d;
}

// ================================================================ the server

export class FakeBitrix {
  readonly url: string;
  readonly webhookUrl: string;
  readonly oauthUrl: string;
  readonly portalUrl: string;

  users: FakeUser[] = [];
  crm: FakeCrmEntity[] = [];

  readonly requests: RecordedRequest[] = [];
  readonly activeCalls = new Map<string, ActiveCall>();
  readonly finishedCalls = new Map<string, FinishedCall>();
  readonly attachedFiles: AttachedFile[] = [];
  readonly shows: Array<{ callId: string; userIds: number[]; result: boolean }> = [];
  readonly hides: Array<{ callId: string; userIds: number[]; result: boolean }> = [];
  readonly createdLeads: FakeCrmEntity[] = [];
  readonly lines: ExternalLine[] = [];
  readonly eventBindings: EventBinding[] = [];
  readonly offlineQueue: OfflineEventRow[] = [];
  /** Whether the user the application acts as is a portal administrator (offline events need one). */
  appUserIsAdmin = true;

  private readonly webhook: { userId: number; code: string; scopes: string[] };
  private readonly app: { clientId: string; clientSecret: string; accessTokenTtlSec: number; scopes: string[]; userId: number };
  private webhooksAllowed: boolean;
  private rate: { burst: number; drainPerSec: number } | false;
  private readonly errorCode: string;
  private latencyMs: number;
  private oauthLatencyMs: number;
  private redirect: { origin: string; status: number } | null = null;
  private readonly tzOffsetMin: number;
  private readonly operationResetSec: number;
  private readonly timemanInstalled: boolean;

  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly outgoing = new Set<http.ClientRequest>();
  private down = false;
  private stopped = false;

  private readonly buckets = new Map<string, { level: number; last: number }>();
  private rate503 = 0;
  private faults: Array<{ remaining: number; fault: Fault; method?: string }> = [];

  private readonly accessTokens = new Map<string, AccessToken>();
  private readonly refreshTokens = new Map<string, { userId: number }>();
  private readonly authCodes = new Set<string>();
  private grants = { refreshGrants: 0, codeGrants: 0 };

  private readonly uploads = new Map<string, { callId: string; filename: string }>();
  private seq = { crm: 1000, stat: 4400, activity: 9000, file: 7000, line: 0, offline: 0 };
  private readonly methods: Record<string, MethodDef>;

  private constructor(server: http.Server, port: number, opts: FakeBitrixOptions) {
    this.server = server;
    this.webhook = {
      userId: opts.webhook?.userId ?? 1,
      code: opts.webhook?.code ?? 'k3y5ecr3tc0de',
      scopes: opts.webhook?.scopes ?? DEFAULT_SCOPES,
    };
    this.app = {
      clientId: opts.app?.clientId ?? 'local.app1',
      clientSecret: opts.app?.clientSecret ?? 'app-s3cr3t-value',
      accessTokenTtlSec: opts.app?.accessTokenTtlSec ?? 3600,
      scopes: opts.app?.scopes ?? DEFAULT_SCOPES,
      userId: opts.app?.userId ?? this.webhook.userId,
    };
    this.webhooksAllowed = opts.webhooksAllowedForTelephony ?? true;
    this.rate = opts.rateLimit === undefined ? { burst: 50, drainPerSec: 2 } : opts.rateLimit;
    this.errorCode = opts.errorCode ?? '';
    this.latencyMs = opts.latencyMs ?? 0;
    this.oauthLatencyMs = opts.oauthLatencyMs ?? 0;
    this.tzOffsetMin = opts.portalTimeZoneOffsetMin ?? 180;
    this.operationResetSec = opts.operationLimitResetSec ?? 60;
    this.timemanInstalled = opts.timemanInstalled ?? true;
    this.url = `http://127.0.0.1:${port}`;
    this.portalUrl = this.url;
    this.webhookUrl = `${this.url}/rest/${this.webhook.userId}/${this.webhook.code}/`;
    this.oauthUrl = `${this.url}/oauth/token/`;
    this.methods = this.buildMethods();
    if (opts.seedOwner ?? true) {
      this.users.push({ ID: this.webhook.userId, NAME: 'Portal', LAST_NAME: 'Admin', ACTIVE: true, UF_PHONE_INNER: null, IS_ONLINE: 'Y' });
    }
  }

  static async start(opts: FakeBitrixOptions = {}): Promise<FakeBitrix> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const fake = new FakeBitrix(server, (server.address() as AddressInfo).port, opts);
    server.on('connection', (s: Socket) => {
      fake.sockets.add(s);
      s.on('close', () => fake.sockets.delete(s));
      if (fake.down || fake.stopped) s.destroy();
    });
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      fake.onRequest(req, res).catch((err: unknown) => {
        // a bug in the fake itself: answer 500 so the test sees it instead of hanging
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`fake-bitrix internal error: ${err instanceof Error ? err.stack : String(err)}`);
        }
      });
    });
    return fake;
  }

  // ---------------------------------------------------------------- state helpers

  addUser(u: FakeUser): void {
    const i = this.users.findIndex((x) => x.ID === u.ID);
    if (i >= 0) this.users[i] = u;
    else this.users.push(u);
  }

  addCrm(e: Omit<FakeCrmEntity, 'id'> & { id?: number }): FakeCrmEntity {
    const id = e.id ?? this.nextCrmId();
    const entity: FakeCrmEntity = { type: e.type, id, name: e.name, phones: [...e.phones], assignedById: e.assignedById };
    this.crm.push(entity);
    return entity;
  }

  private nextCrmId(): number {
    const max = this.crm.reduce((m, e) => Math.max(m, e.id), this.seq.crm);
    this.seq.crm = max + 1;
    return this.seq.crm;
  }

  calls(method: string): RecordedRequest[] {
    const m = method.toLowerCase();
    const out: RecordedRequest[] = [];
    for (const r of this.requests) {
      if (r.method === m) out.push(r);
      for (const s of r.subcalls ?? []) if (s.method === m) out.push(s);
    }
    return out;
  }

  /** HTTP requests that reached the portal (REST methods, batch once, uploads); not oauth.token. */
  httpRequestCount(): number {
    return this.requests.filter((r) => r.method !== 'oauth.token').length;
  }

  rateLimit503Count(): number {
    return this.rate503;
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  /** The token endpoint grants (and rotates) at once but answers `ms` later. */
  setOAuthLatency(ms: number): void {
    this.oauthLatencyMs = ms;
  }

  /**
   * A renamed portal (or one that moved to https): every portal request (REST, webhook, upload;
   * not the token endpoint, another host in reality) is answered `status` with a Location on
   * `origin`, path and query kept, as a web server's rewrite rule does. null ends it.
   */
  setRedirect(origin: string | null, status = 301): void {
    this.redirect = origin === null ? null : { origin: origin.replace(/\/+$/, ''), status };
  }

  /**
   * The next n requests fail with `fault`. Without a filter it applies to REST/upload requests
   * (not to oauth.token, which lives on another host in reality); with a filter, to requests whose
   * recorded method equals it (`'batch'`, `'oauth.token'`, `'upload'`, any API method).
   * Matching is on the HTTP request: a method inside a batch is not matched.
   */
  failNext(n: number, fault: Fault, methodFilter?: string): void {
    if (n > 0) this.faults.push({ remaining: n, fault, method: methodFilter?.toLowerCase() });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** down: every connection is accepted and destroyed at once (ECONNRESET); the port stays bound. */
  setDown(down: boolean): void {
    this.down = down;
    if (down) for (const s of this.sockets) s.destroy();
  }

  setWebhooksAllowedForTelephony(v: boolean): void {
    this.webhooksAllowed = v;
  }

  /** Also empties the buckets. */
  setRateLimit(r: { burst: number; drainPerSec: number } | false): void {
    this.rate = r;
    this.buckets.clear();
  }

  resetRateLimit(): void {
    this.buckets.clear();
  }

  grantAuthorizationCode(): string {
    const code = randomHex(16);
    this.authCodes.add(code);
    return code;
  }

  /** Tokens as if the app had just been installed (not counted in issuedTokens()). */
  issueTokens(): { accessToken: string; refreshToken: string; expiresIn: number } {
    const t = this.mintTokens(this.app.userId);
    return { accessToken: t.access_token as string, refreshToken: t.refresh_token as string, expiresIn: this.app.accessTokenTtlSec };
  }

  expireAccessTokens(): void {
    for (const t of this.accessTokens.values()) t.expired = true;
  }

  issuedTokens(): { refreshGrants: number; codeGrants: number } {
    return { ...this.grants };
  }

  linesOf(appKey: string): ExternalLine[] {
    return this.lines.filter((l) => l.appKey === appKey);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const r of this.outgoing) r.destroy();
    this.outgoing.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---------------------------------------------------------------- HTTP plumbing

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private route(pathname: string, search: URLSearchParams): Route {
    const dec = (s: string) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    if (/^\/oauth\/token\/?$/.test(pathname)) return { kind: 'oauth', method: 'oauth.token' };
    if (/^\/rest\/upload(\.json)?\/?$/.test(pathname) && search.has('token')) return { kind: 'upload', method: 'upload' };
    let m = /^\/rest\/(\d+)\/([^/]+)\/([^/]+?)(?:\.(?:json|xml))?\/?$/.exec(pathname);
    if (m) return { kind: 'webhook', uid: m[1], code: dec(m[2]), method: dec(m[3]).toLowerCase() };
    m = /^\/rest\/([^/]+?)(?:\.(?:json|xml))?\/?$/.exec(pathname);
    if (m) return { kind: 'rest', method: dec(m[1]).toLowerCase() };
    if (pathname.startsWith('/rest/')) return { kind: 'badrest', method: '' };
    return { kind: 'none', method: `path:${pathname}` };
  }

  private takeFault(method: string, kind: Route['kind']): Fault | undefined {
    for (const f of this.faults) {
      const applies = f.method === undefined ? kind !== 'oauth' : f.method === method;
      if (applies) {
        f.remaining -= 1;
        if (f.remaining <= 0) this.faults.splice(this.faults.indexOf(f), 1);
        return f.fault;
      }
    }
    return undefined;
  }

  private admit(ip: string): boolean {
    if (!this.rate) return true;
    const now = Date.now();
    const b = this.buckets.get(ip) ?? { level: 0, last: now };
    b.level = Math.max(0, b.level - ((now - b.last) / 1000) * this.rate.drainPerSec);
    b.last = now;
    this.buckets.set(ip, b);
    if (b.level + 1 > this.rate.burst) return false;
    b.level += 1;
    return true;
  }

  private readBody(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          req.destroy();
          reject(new Error('body too large'));
        } else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
      req.on('aborted', () => reject(new Error('aborted')));
    });
  }

  private parseBody(body: Buffer, contentType: string): Params {
    const ct = contentType.toLowerCase();
    if (body.length === 0) return {};
    if (ct.includes('application/json')) {
      try {
        const v: unknown = JSON.parse(body.toString('utf8'));
        return isMap(v) ? v : {};
      } catch {
        return {}; // PHP: json_decode fails → no parameters
      }
    }
    if (ct.includes('application/x-www-form-urlencoded')) return parsePhpQuery(body.toString('utf8'));
    if (ct.includes('multipart/form-data')) {
      const parts = parseMultipart(body, contentType) ?? [];
      return parsePhpPairs(parts.filter((p) => p.filename === undefined).map((p) => [p.name, p.data.toString('utf8')]));
    }
    return {}; // PHP does not parse other bodies
  }

  timeInfo(startMs: number, endMs: number): Record<string, unknown> {
    const r4 = (x: number) => Math.round(x * 10000) / 10000;
    const s = startMs / 1000;
    const f = endMs / 1000;
    return {
      start: r4(s),
      finish: r4(f),
      duration: r4(f - s),
      processing: r4(Math.max(0, f - s - 0.0001)),
      date_start: isoWithOffset(startMs, this.tzOffsetMin),
      date_finish: isoWithOffset(endMs, this.tzOffsetMin),
      operating_reset_at: Math.floor(s) + 600,
      operating: 0,
    };
  }

  private async send(
    res: http.ServerResponse,
    rec: RecordedRequest | null,
    status: number,
    body: string | Buffer,
    contentType: string,
    extraHeaders: Record<string, string> = {},
  ): Promise<void> {
    if (rec) rec.status = status;
    await this.sleep(this.latencyMs);
    if (this.stopped || res.destroyed || res.headersSent) return;
    res.writeHead(status, { 'Content-Type': contentType, ...extraHeaders });
    res.end(body);
  }

  private sendJson(res: http.ServerResponse, rec: RecordedRequest | null, status: number, obj: unknown, startMs?: number): Promise<void> {
    const headers: Record<string, string> = {};
    if (startMs !== undefined) {
      const d = ((Date.now() - startMs) / 1000).toFixed(4);
      headers['X-Bitrix-Rest-Time'] = d;
      headers['X-Bitrix-Rest-User-Time'] = d;
      headers['X-Bitrix-Rest-System-Time'] = '0';
    }
    return this.send(res, rec, status, JSON.stringify(obj), JSON_CT, headers);
  }

  private sendError(res: http.ServerResponse, rec: RecordedRequest | null, e: ApiError): Promise<void> {
    return this.sendJson(res, rec, e.status, { error: e.code, error_description: e.description, ...(e.extra ?? {}) });
  }

  private moduleError(description: string): ApiError {
    return new ApiError(400, this.errorCode, description);
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.down || this.stopped) {
      req.socket.destroy();
      return;
    }
    const at = Date.now();
    const u = new URL(req.url ?? '/', 'http://fake');
    const route = this.route(u.pathname, u.searchParams);
    const rec: RecordedRequest = { method: route.method, params: {}, status: 0, at, auth: 'none' };
    this.requests.push(rec);

    let fault = route.kind === 'none' ? undefined : this.takeFault(route.method, route.kind);
    if (fault !== undefined) rec.fault = typeof fault === 'string' ? fault : 'slowMs' in fault ? `slow:${fault.slowMs}` : `custom:${fault.status}`;
    if (fault === 'down') {
      req.socket.destroy();
      return;
    }

    let body: Buffer;
    try {
      body = await this.readBody(req);
    } catch {
      req.socket.destroy();
      return;
    }
    const contentType = String(req.headers['content-type'] ?? '');
    const query = parsePhpQuery(u.search.replace(/^\?/, ''));
    const params: Params = route.kind === 'upload' ? query : { ...query, ...this.parseBody(body, contentType) };
    let authParam: unknown;
    if (route.kind === 'rest' || route.kind === 'webhook') {
      authParam = params.auth;
      delete params.auth;
      rec.auth = route.kind === 'webhook' ? 'webhook' : authParam !== undefined && authParam !== '' ? 'oauth' : 'none';
    }
    rec.params = params;

    if (typeof fault === 'object' && 'slowMs' in fault) {
      await this.sleep(fault.slowMs);
      fault = undefined;
    }
    if (fault !== undefined) return this.applyFault(fault, req, res, rec);

    if (route.kind === 'none') return this.send(res, rec, 404, '<html><body><h1>404 Not Found</h1></body></html>', 'text/html');
    if (this.redirect && route.kind !== 'oauth') {
      const { origin, status } = this.redirect;
      return this.send(res, rec, status, `<html><body>Moved to <a href="${origin}${u.pathname}">${origin}</a></body></html>`, 'text/html', {
        Location: `${origin}${u.pathname}${u.search}`,
      });
    }
    if (route.kind === 'oauth') return this.handleOAuth(params, res, rec);

    const ip = req.socket.remoteAddress ?? '?';
    if (!this.admit(ip)) {
      this.rate503 += 1;
      return this.sendError(res, rec, new ApiError(503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests'));
    }
    if (route.kind === 'upload') return this.handleUpload(u.searchParams, body, contentType, res, rec);
    if (route.kind === 'badrest') return this.sendError(res, rec, new ApiError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!'));

    const startMs = Date.now();
    try {
      const auth = this.authenticate(route, authParam);
      let payload: Record<string, unknown>;
      if (route.method === 'batch') {
        payload = await this.runBatch(params, auth, rec);
      } else {
        const out = await this.invoke(route.method, params, auth);
        payload = { result: out.result };
        if (out.next !== undefined) payload.next = out.next;
        if (out.total !== undefined) payload.total = out.total;
      }
      payload.time = this.timeInfo(startMs, Date.now());
      return this.sendJson(res, rec, 200, payload, startMs);
    } catch (e) {
      if (e instanceof ApiError) return this.sendError(res, rec, e);
      throw e;
    }
  }

  private applyFault(fault: Exclude<Fault, { slowMs: number }>, req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest): Promise<void> {
    const now = Date.now();
    switch (fault) {
      case 'down':
      case 'reset':
        return this.sleep(this.latencyMs).then(() => {
          req.socket.destroy();
        });
      case 'timeout':
        return Promise.resolve(); // never answered; the socket is destroyed by the client or stop()
      case 'html502':
        return this.send(res, rec, 502, HTML_502, 'text/html');
      case 'query_limit':
        this.rate503 += 1;
        return this.sendError(res, rec, new ApiError(503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests'));
      case 'operation_time_limit': {
        const time = this.timeInfo(now, now);
        time.operating_reset_at = Math.floor(now / 1000) + this.operationResetSec;
        time.operating = 480.5;
        return this.sendError(
          res,
          rec,
          new ApiError(429, 'OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit.', { time }),
        );
      }
      case 'internal':
        return this.sendError(res, rec, new ApiError(500, 'INTERNAL_SERVER_ERROR', 'Internal server error'));
      default:
        return this.send(res, rec, fault.status, fault.body, fault.contentType ?? JSON_CT, fault.headers);
    }
  }

  // ---------------------------------------------------------------- auth

  private authenticate(route: Route, authParam: unknown): AuthCtx {
    if (route.kind === 'webhook') {
      if (route.uid !== String(this.webhook.userId) || route.code !== this.webhook.code) {
        throw new ApiError(401, 'INVALID_CREDENTIALS', 'Invalid request credentials');
      }
      return { type: 'webhook', userId: this.webhook.userId, appKey: 'webhook', scopes: this.webhook.scopes };
    }
    const token = typeof authParam === 'string' ? authParam : '';
    if (token === '') throw new ApiError(401, 'NO_AUTH_FOUND', 'Wrong authorization data');
    const t = this.accessTokens.get(token);
    if (!t) throw new ApiError(401, 'invalid_token', 'The access token provided is invalid.');
    if (t.expired || Date.now() >= t.expiresAt) throw new ApiError(401, 'expired_token', 'The access token provided has expired.');
    return { type: 'oauth', userId: t.userId, appKey: this.app.clientId, scopes: this.app.scopes, accessToken: token };
  }

  private async invoke(method: string, params: Params, auth: AuthCtx): Promise<HandlerResult> {
    const def = this.methods[method];
    if (!def) throw new ApiError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!');
    if (def.scope && !def.scope.some((s) => auth.scopes.includes(s))) {
      throw new ApiError(
        401,
        'insufficient_scope',
        auth.type === 'webhook'
          ? 'The request requires higher privileges than provided by the webhook token'
          : 'The request requires higher privileges than provided by the access token',
      );
    }
    if (def.appContext && auth.type === 'webhook' && !this.webhooksAllowed) {
      throw new ApiError(403, 'WRONG_AUTH_TYPE', 'Current authorization type is denied for this method');
    }
    const p: Params = { ...params };
    const start = toInt(p.start);
    delete p.start; // reserved for paging, removed from every method's parameters
    return def.handler(p, { auth, start });
  }

  private mintTokens(userId: number): Record<string, unknown> {
    const access = randomHex(32);
    const refresh = randomHex(32);
    const now = Date.now();
    this.accessTokens.set(access, { token: access, expiresAt: now + this.app.accessTokenTtlSec * 1000, expired: false, userId });
    this.refreshTokens.set(refresh, { userId });
    return {
      access_token: access,
      expires: Math.floor(now / 1000) + this.app.accessTokenTtlSec,
      expires_in: this.app.accessTokenTtlSec,
      scope: this.app.scopes.join(','),
      domain: 'oauth.bitrix.info',
      server_endpoint: 'https://oauth.bitrix.info/rest/',
      status: 'L',
      client_endpoint: `${this.url}/rest/`,
      member_id: md5(this.url),
      user_id: userId,
      refresh_token: refresh,
    };
  }

  private handleOAuth(p: Params, res: http.ServerResponse, rec: RecordedRequest): Promise<void> {
    const err = (status: number, error: string, description: string) =>
      this.sendJson(res, rec, status, { error, error_description: description });
    const grantType = toStr(p.grant_type);
    if (grantType !== 'refresh_token' && grantType !== 'authorization_code') {
      return err(400, 'unsupported_grant_type', 'The authorization grant type is not supported by the authorization server.');
    }
    if (toStr(p.client_id) !== this.app.clientId) return err(401, 'invalid_client', 'The client credentials are invalid');
    if (toStr(p.client_secret) !== this.app.clientSecret) return err(401, 'invalid_client', 'The client credentials are invalid');
    if (grantType === 'refresh_token') {
      const rt = toStr(p.refresh_token);
      const entry = this.refreshTokens.get(rt);
      if (rt === '' || !entry) return err(400, 'invalid_grant', 'Invalid refresh token');
      this.refreshTokens.delete(rt); // rotation: a refresh token works once
      this.grants.refreshGrants += 1;
      const tokens = this.mintTokens(entry.userId);
      return this.sleep(this.oauthLatencyMs).then(() => this.sendJson(res, rec, 200, tokens));
    }
    const code = toStr(p.code);
    if (code === '' || !this.authCodes.has(code)) return err(400, 'invalid_grant', 'Invalid authorization code');
    this.authCodes.delete(code);
    this.grants.codeGrants += 1;
    const tokens = this.mintTokens(this.app.userId);
    return this.sleep(this.oauthLatencyMs).then(() => this.sendJson(res, rec, 200, tokens));
  }

  // ---------------------------------------------------------------- batch

  private async runBatch(params: Params, auth: AuthCtx, rec: RecordedRequest): Promise<Record<string, unknown>> {
    const cmd = params.cmd;
    const halt = truthy(params.halt);
    const entries: Array<[string, unknown]> = isList(cmd)
      ? cmd.map((v, i) => [String(i), v] as [string, unknown])
      : isMap(cmd)
        ? Object.entries(cmd)
        : [];
    if (entries.length > 50) throw new ApiError(400, 'ERROR_BATCH_LENGTH_EXCEEDED', 'Max batch length exceeded');
    const sections: Record<string, Record<string, unknown>> = {
      result: {},
      result_error: {},
      result_total: {},
      result_next: {},
      result_time: {},
    };
    rec.subcalls = [];
    for (const [key, c] of entries) {
      const t0 = Date.now();
      let method = '';
      let sub: Params = {};
      if (typeof c === 'string') {
        const q = c.indexOf('?');
        method = (q < 0 ? c : c.slice(0, q)).trim().toLowerCase();
        sub = parsePhpQuery(q < 0 ? '' : c.slice(q + 1));
      }
      sub = substituteBatch(sub, sections) as Params;
      const subRec: RecordedRequest = { method, params: sub, status: 200, at: t0, auth: rec.auth };
      rec.subcalls.push(subRec);
      let failed = false;
      try {
        if (method === 'batch') throw new ApiError(405, 'ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage');
        const out = await this.invoke(method, sub, auth);
        sections.result[key] = out.result;
        if (out.total !== undefined) sections.result_total[key] = out.total;
        if (out.next !== undefined) sections.result_next[key] = out.next;
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        failed = true;
        subRec.status = e.status;
        sections.result_error[key] = { error: e.code, error_description: e.description };
      }
      sections.result_time[key] = this.timeInfo(t0, Date.now());
      if (failed && halt) break;
    }
    return {
      result: {
        result: phpArray(sections.result),
        result_error: phpArray(sections.result_error),
        result_total: phpArray(sections.result_total),
        result_next: phpArray(sections.result_next),
        result_time: phpArray(sections.result_time),
      },
    };
  }

  // ---------------------------------------------------------------- users & CRM helpers

  private findUser(id: number): FakeUser | undefined {
    return this.users.find((u) => u.ID === id);
  }

  private isRealActive(u: FakeUser | undefined): boolean {
    return !!u && u.ACTIVE && u.USER_TYPE !== 'bot' && u.USER_TYPE !== 'email';
  }

  /** Rest\Helper::getUserByPhone: the active real user whose UF_PHONE_INNER equals it exactly. */
  private userByPhone(inner: unknown): number {
    if (inner === undefined || inner === null || typeof inner === 'object') return 0;
    const s = toStr(inner);
    const u = this.users.find((x) => this.isRealActive(x) && (x.UF_PHONE_INNER ?? '') !== '' && x.UF_PHONE_INNER === s);
    return u ? u.ID : 0;
  }

  private resolveUserId(p: Params): number {
    let userId = toInt(p.USER_ID);
    if (userId === 0) userId = this.userByPhone(p.USER_PHONE_INNER);
    if (!userId) throw this.moduleError('USER_ID or USER_PHONE_INNER should be set');
    return userId;
  }

  searchCrm(phone: string): FakeCrmEntity[] {
    const n = normalizePhone(phone);
    if (n === '') return [];
    const out: FakeCrmEntity[] = [];
    for (const type of ['CONTACT', 'LEAD', 'COMPANY'] as const) {
      out.push(
        ...this.crm
          .filter((e) => e.type === type && e.phones.some((ph) => normalizePhone(ph) === n))
          .sort((a, b) => a.id - b.id),
      );
    }
    return out;
  }

  /**
   * Rest\Helper::searchCrmEntities' ASSIGNED_BY: the user row whatever its ACTIVE (the query has
   * no such filter), TIMEMAN_STATUS from the time-tracking module; a user that does not exist
   * leaves every field null.
   */
  private assignedBy(userId: number): Record<string, unknown> {
    const u = this.findUser(userId);
    if (!u) {
      return { ID: null, TIMEMAN_STATUS: null, USER_PHONE_INNER: null, WORK_PHONE: null, PERSONAL_PHONE: null, PERSONAL_MOBILE: null };
    }
    return {
      ID: String(u.ID),
      TIMEMAN_STATUS: !this.timemanInstalled ? 'NOT_INSTALLED' : (u.TIMEMAN ?? 'UNAVAILABLE'),
      USER_PHONE_INNER: u.UF_PHONE_INNER ?? null,
      WORK_PHONE: u.WORK_PHONE ?? null,
      PERSONAL_PHONE: u.PERSONAL_PHONE ?? null,
      PERSONAL_MOBILE: u.PERSONAL_MOBILE ?? null,
    };
  }

  private formatUser(u: FakeUser): Record<string, unknown> {
    return {
      ID: String(u.ID),
      XML_ID: null,
      ACTIVE: u.ACTIVE,
      NAME: u.NAME,
      LAST_NAME: u.LAST_NAME ?? '',
      SECOND_NAME: '',
      EMAIL: `user${u.ID}@example.test`,
      TIMESTAMP_X: {},
      IS_ONLINE: u.IS_ONLINE ?? 'N',
      USER_TYPE: u.USER_TYPE ?? 'employee',
      WORK_POSITION: '',
      PERSONAL_MOBILE: u.PERSONAL_MOBILE ?? '',
      WORK_PHONE: u.WORK_PHONE ?? '',
      UF_DEPARTMENT: [1],
      UF_PHONE_INNER: u.UF_PHONE_INNER ?? null,
    };
  }

  private userField(u: FakeUser, field: string): unknown {
    switch (field) {
      case 'ID':
        return u.ID;
      case 'ACTIVE':
        return u.ACTIVE;
      case 'NAME':
        return u.NAME;
      case 'LAST_NAME':
        return u.LAST_NAME ?? '';
      case 'UF_PHONE_INNER':
        return u.UF_PHONE_INNER ?? null;
      case 'IS_ONLINE':
        return u.IS_ONLINE ?? 'N';
      case 'USER_TYPE':
        return u.USER_TYPE ?? 'employee';
      case 'NAME_SEARCH':
        return `${u.NAME} ${u.LAST_NAME ?? ''}`;
      default:
        return undefined;
    }
  }

  private userMatches(u: FakeUser, filter: Record<string, unknown>): boolean {
    for (const [rawKey, val] of Object.entries(filter)) {
      const m = /^(>=|<=|!=|!%|=%|%=|!@|>|<|@|%|=|!)?(.*)$/.exec(rawKey) as RegExpExecArray;
      const op = m[1] ?? '=';
      const field = m[2].toUpperCase();
      const uv = this.userField(u, field);
      if (uv === undefined) continue; // unknown filter fields are ignored
      const eq = (want: unknown): boolean => {
        if (field === 'ACTIVE') {
          const w = typeof want === 'string' ? !['N', '0', '', 'false', 'n'].includes(want) : truthy(want);
          return uv === w;
        }
        if (field === 'ID') return toInt(want) === uv;
        return toStr(want) === toStr(uv);
      };
      const values = isList(val) ? val : isMap(val) ? Object.values(val) : null;
      const anyEq = () => (values ? values.some(eq) : eq(val));
      const like = (pattern: string) => {
        const re = new RegExp(`^${pattern.split('%').map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
        return re.test(toStr(uv));
      };
      const cmp = (): number => {
        const a = uv;
        const b = val;
        if (isNumeric(a as string | number) && isNumeric(b as string | number)) return Number(a) - Number(b);
        return toStr(a).localeCompare(toStr(b));
      };
      let ok: boolean;
      switch (op) {
        case '=':
        case '@':
          ok = op === '@' && typeof val === 'string' ? val.split(',').some((x) => eq(x.trim())) : anyEq();
          break;
        case '!':
        case '!=':
        case '!@':
          ok = !anyEq();
          break;
        case '>':
          ok = cmp() > 0;
          break;
        case '<':
          ok = cmp() < 0;
          break;
        case '>=':
          ok = cmp() >= 0;
          break;
        case '<=':
          ok = cmp() <= 0;
          break;
        case '%':
          ok = toStr(uv).toLowerCase().includes(toStr(val).toLowerCase());
          break;
        case '!%':
          ok = !toStr(uv).toLowerCase().includes(toStr(val).toLowerCase());
          break;
        case '=%':
        case '%=':
          ok = like(toStr(val));
          break;
        default:
          ok = true;
      }
      if (!ok) return false;
    }
    return true;
  }

  private crmEntity(type: FakeCrmEntity['type'], p: Params): HandlerResult {
    const id = toInt(p.id ?? p.ID);
    if (id <= 0) throw this.moduleError('ID is not defined or invalid.');
    const e = this.crm.find((x) => x.type === type && x.id === id);
    if (!e) throw this.moduleError('Not found');
    const phones = e.phones.map((v, i) => ({ ID: String(e.id * 10 + i), VALUE_TYPE: 'WORK', VALUE: v, TYPE_ID: 'PHONE' }));
    const common = {
      ID: String(e.id),
      ASSIGNED_BY_ID: String(e.assignedById ?? this.webhook.userId),
      HAS_PHONE: e.phones.length > 0 ? 'Y' : 'N',
      PHONE: phones,
    };
    if (type === 'CONTACT') {
      const sp = e.name.indexOf(' ');
      return {
        result: {
          ...common,
          NAME: sp < 0 ? e.name : e.name.slice(0, sp),
          LAST_NAME: sp < 0 ? '' : e.name.slice(sp + 1),
          SECOND_NAME: '',
        },
      };
    }
    return { result: { ...common, TITLE: e.name, NAME: '', LAST_NAME: '' } };
  }

  private ensureLine(appKey: string, number: string): ExternalLine {
    const existing = this.lines.find((l) => l.appKey === appKey && l.NUMBER === number);
    if (existing) return existing;
    const line: ExternalLine = { ID: ++this.seq.line, NUMBER: number, NAME: '', CRM_AUTO_CREATE: 'Y', appKey };
    this.lines.push(line);
    return line;
  }

  private restAppId(auth: AuthCtx): string | null {
    return auth.type === 'oauth' ? '1' : null;
  }

  // ---------------------------------------------------------------- methods

  private buildMethods(): Record<string, MethodDef> {
    const tel = ['telephony'];
    const crm = ['crm'];
    const user = ['user', 'user_basic', 'user_brief'];
    return {
      scope: { scope: null, handler: (_p, ctx) => ({ result: ctx.auth.scopes }) },
      'server.time': { scope: null, handler: () => ({ result: isoWithOffset(Date.now(), this.tzOffsetMin) }) },
      'user.current': {
        scope: null,
        handler: (_p, ctx) => {
          const u = this.findUser(ctx.auth.userId);
          return {
            result: u
              ? this.formatUser(u)
              : this.formatUser({ ID: ctx.auth.userId, NAME: 'Portal', LAST_NAME: 'Admin', ACTIVE: true, UF_PHONE_INNER: null }),
          };
        },
      },
      'user.get': { scope: user, handler: (p, ctx) => this.userGet(p, ctx) },
      'telephony.externalcall.register': { scope: tel, appContext: true, handler: (p, ctx) => this.register(p, ctx) },
      'telephony.externalcall.finish': { scope: tel, appContext: true, handler: (p, ctx) => this.finish(p, ctx) },
      'telephony.externalcall.show': { scope: tel, handler: (p) => this.showHide(p, this.shows) },
      'telephony.externalcall.hide': { scope: tel, handler: (p) => this.showHide(p, this.hides) },
      'telephony.externalcall.attachrecord': { scope: tel, handler: (p, ctx) => this.attachRecord(p, ctx) },
      'telephony.externalcall.searchcrmentities': { scope: tel, handler: (p) => this.searchCrmEntities(p) },
      'telephony.externalline.get': {
        scope: tel,
        appContext: true,
        handler: (_p, ctx) => ({
          result: this.linesOf(ctx.auth.appKey).map((l) => ({ NUMBER: l.NUMBER, NAME: l.NAME, CRM_AUTO_CREATE: l.CRM_AUTO_CREATE })),
        }),
      },
      'telephony.externalline.add': { scope: tel, appContext: true, handler: (p, ctx) => this.lineAdd(p, ctx) },
      'telephony.externalline.update': { scope: tel, appContext: true, handler: (p, ctx) => this.lineUpdate(p, ctx) },
      'telephony.externalline.delete': { scope: tel, appContext: true, handler: (p, ctx) => this.lineDelete(p, ctx) },
      'crm.duplicate.findbycomm': { scope: crm, handler: (p) => this.findByComm(p) },
      'crm.contact.get': { scope: crm, handler: (p) => this.crmEntity('CONTACT', p) },
      'crm.lead.get': { scope: crm, handler: (p) => this.crmEntity('LEAD', p) },
      'crm.company.get': { scope: crm, handler: (p) => this.crmEntity('COMPANY', p) },
      // Events: application context only (rest/lib/api/event.php throws AuthTypeException for any other auth).
      'event.bind': { scope: null, handler: (p, ctx) => this.eventBind(p, ctx) },
      'event.unbind': { scope: null, handler: (p, ctx) => this.eventUnbind(p, ctx) },
      'event.get': { scope: null, handler: (_p, ctx) => this.eventGet(ctx) },
      'event.offline.get': { scope: null, handler: (p, ctx) => this.eventOfflineGet(p, ctx) },
    };
  }

  // ---------------------------------------------------------------- events

  private appOnly(ctx: CallCtx): void {
    if (ctx.auth.type !== 'oauth') throw new ApiError(403, 'WRONG_AUTH_TYPE', 'Current authorization type is denied for this method');
  }

  private static readonly KNOWN_EVENTS = new Set(['ONEXTERNALCALLSTART', 'ONEXTERNALCALLBACKSTART']);

  private eventBind(params: Params, ctx: CallCtx): HandlerResult {
    this.appOnly(ctx);
    const q: Params = {};
    for (const [k, v] of Object.entries(params)) q[k.toUpperCase()] = v;
    const event = toStr(q.EVENT).toUpperCase();
    const type = toStr(q.EVENT_TYPE).toLowerCase() || 'online';
    let handler = toStr(q.HANDLER);
    if (event === '') throw new ApiError(400, 'ERROR_ARGUMENT', "Argument 'EVENT' is null or empty");
    if (type !== 'online' && type !== 'offline') throw new ApiError(400, 'ERROR_ARGUMENT', 'Value must be one of {online|offline}');
    if (type === 'offline') {
      if (!this.appUserIsAdmin) throw new ApiError(403, 'ACCESS_DENIED', 'Access denied! Offline events binding requires administrator access rights');
      handler = '';
    } else if (handler === '') throw new ApiError(400, 'ERROR_ARGUMENT', "Argument 'HANDLER' is null or empty");
    if (!FakeBitrix.KNOWN_EVENTS.has(event)) throw new ApiError(400, 'ERROR_EVENT_NOT_FOUND', 'Event not found');
    const appKey = ctx.auth.appKey;
    if (this.eventBindings.some((b) => b.appKey === appKey && b.event === event && b.handler === handler)) {
      throw new ApiError(400, 'ERROR_CORE', 'Unable to set event handler: Handler already binded');
    }
    this.eventBindings.push({ event, offline: type === 'offline', handler, appKey });
    return { result: true };
  }

  private eventUnbind(params: Params, ctx: CallCtx): HandlerResult {
    this.appOnly(ctx);
    const q: Params = {};
    for (const [k, v] of Object.entries(params)) q[k.toUpperCase()] = v;
    const event = toStr(q.EVENT).toUpperCase();
    const offline = toStr(q.EVENT_TYPE).toLowerCase() === 'offline';
    const handler = offline ? '' : toStr(q.HANDLER);
    let count = 0;
    for (let i = this.eventBindings.length - 1; i >= 0; i--) {
      const b = this.eventBindings[i];
      if (b.appKey === ctx.auth.appKey && b.event === event && b.handler === handler) {
        this.eventBindings.splice(i, 1);
        count++;
      }
    }
    return { result: { count } };
  }

  private eventGet(ctx: CallCtx): HandlerResult {
    this.appOnly(ctx);
    return {
      result: this.eventBindings
        .filter((b) => b.appKey === ctx.auth.appKey)
        .map((b) => (b.offline ? { event: b.event, connector_id: '', offline: 1 } : { event: b.event, handler: b.handler, auth_type: '0', offline: 0 })),
    };
  }

  private eventOfflineGet(params: Params, ctx: CallCtx): HandlerResult {
    this.appOnly(ctx);
    if (!this.appUserIsAdmin) throw new ApiError(403, 'ACCESS_DENIED', 'Access denied!');
    const q: Params = {};
    for (const [k, v] of Object.entries(params)) q[k.toLowerCase()] = v;
    const clear = q.clear === undefined ? true : toInt(q.clear) !== 0;
    const limit = q.limit === undefined ? 50 : toInt(q.limit);
    if (limit <= 0) throw new ApiError(400, 'ERROR_ARGUMENT', 'Value must be positive integer');
    const filter = isMap(q.filter) ? q.filter : {};
    const nameFilter = filter['=EVENT_NAME'] ?? filter.EVENT_NAME;
    const appKey = ctx.auth.appKey;
    const processId = randomHex(16);
    const mine = this.offlineQueue.filter(
      (e) => e.appKey === appKey && e.processId === '' && (nameFilter === undefined || e.EVENT_NAME === toStr(nameFilter).toUpperCase()),
    );
    const picked = mine.slice(0, limit);
    for (const e of picked) e.processId = processId;
    const events = picked.map((e) => ({
      ID: e.ID,
      TIMESTAMP_X: e.TIMESTAMP_X,
      EVENT_NAME: e.EVENT_NAME,
      EVENT_DATA: e.EVENT_DATA,
      EVENT_ADDITIONAL: e.EVENT_ADDITIONAL,
      MESSAGE_ID: e.MESSAGE_ID,
    }));
    if (clear && picked.length) {
      for (const e of picked) this.offlineQueue.splice(this.offlineQueue.indexOf(e), 1);
    }
    return { result: { process_id: clear ? null : processId, events } };
  }

  /** The portal's list of outgoing lines: every application subscribed to OnExternalCallStart, online or offline. */
  outgoingLineChoices(): string[] {
    const apps = new Set(this.eventBindings.filter((b) => b.event === 'ONEXTERNALCALLSTART').map((b) => b.appKey));
    return [...apps].map((a) => (a === this.app.clientId ? 'REST_APP:1' : `REST_APP:${a}`));
  }

  /**
   * A user clicks a number in the CRM with the application as their outgoing line (voximplant's
   * Helper::startCall): the portal registers the call itself (TYPE 1, by that user, as the
   * application) and queues OnExternalCallStart for the application. Throws when no application
   * is subscribed (the portal answers LINE_NOT_FOUND). Returns the CALL_ID.
   */
  clickToCall(opts: { userId: number; phone: string; line?: string; crmEntityType?: string; crmEntityId?: number; at?: number }): string {
    const binding = this.eventBindings.find((b) => b.event === 'ONEXTERNALCALLSTART');
    if (!binding) throw new Error('LINE_NOT_FOUND: no application is subscribed to OnExternalCallStart');
    const auth: AuthCtx = { type: 'oauth', userId: opts.userId, appKey: binding.appKey, scopes: this.app.scopes };
    const reg = this.register({ USER_ID: opts.userId, PHONE_NUMBER: opts.phone, TYPE: 1, CRM_CREATE: 0, SHOW: 1, LINE_NUMBER: opts.line ?? '' }, { auth, start: 0 });
    const callId = (reg.result as { CALL_ID: string }).CALL_ID;
    const digits = normalizePhone(opts.phone);
    const data: Record<string, unknown> = {
      PHONE_NUMBER: opts.phone,
      PHONE_NUMBER_INTERNATIONAL: digits.length >= 11 ? `+${digits}` : '',
      EXTENSION: '',
      USER_ID: String(opts.userId),
      CALL_LIST_ID: '0',
      LINE_NUMBER: opts.line ?? '',
      IS_MOBILE: '0',
      CALL_ID: callId,
      CRM_ENTITY_TYPE: opts.crmEntityType ?? '',
      CRM_ENTITY_ID: String(opts.crmEntityId ?? 0),
    };
    if (binding.offline) this.queueOfflineEvent('ONEXTERNALCALLSTART', data, opts.at);
    return callId;
  }

  /** Puts an event on every offline subscriber's queue (identical payloads collapse, as MESSAGE_ID does). */
  queueOfflineEvent(event: string, data: Record<string, unknown>, at = Date.now()): void {
    const name = event.toUpperCase();
    const messageId = md5(`${name}|${JSON.stringify(data)}`);
    for (const b of this.eventBindings.filter((x) => x.offline && x.event === name)) {
      if (this.offlineQueue.some((e) => e.MESSAGE_ID === messageId && e.appKey === b.appKey && e.processId === '')) continue;
      this.offlineQueue.push({
        ID: String(++this.seq.offline),
        TIMESTAMP_X: isoWithOffset(at, this.tzOffsetMin),
        EVENT_NAME: name,
        EVENT_DATA: data,
        EVENT_ADDITIONAL: { user_id: data.USER_ID },
        MESSAGE_ID: messageId,
        appKey: b.appKey,
        processId: '',
      });
    }
  }

  private userGet(params: Params, ctx: CallCtx): HandlerResult {
    const q: Params = {};
    for (const [k, v] of Object.entries(params)) q[k.toUpperCase()] = v;
    let filter: Record<string, unknown> = {};
    if (isMap(q.FILTER)) filter = q.FILTER;
    else if (q.FILTER === undefined) {
      const reserved = new Set(['SORT', 'ORDER', 'SELECT', 'ADMIN_MODE', 'IMAGE_RESIZE', 'FILTER']);
      for (const [k, v] of Object.entries(q)) if (!reserved.has(k)) filter[k] = v;
    }
    let list = this.users.filter((u) => u.USER_TYPE !== 'bot' && u.USER_TYPE !== 'email').filter((u) => this.userMatches(u, filter));
    const sortField = typeof q.SORT === 'string' && q.SORT !== '' ? q.SORT.toUpperCase() : 'ID';
    const desc = typeof q.ORDER === 'string' && q.ORDER.toUpperCase() === 'DESC';
    list = [...list].sort((a, b) => {
      const av = this.userField(a, sortField);
      const bv = this.userField(b, sortField);
      let c: number;
      if (typeof av === 'number' && typeof bv === 'number') c = av - bv;
      else c = toStr(av).localeCompare(toStr(bv));
      if (desc) c = -c;
      return c !== 0 ? c : a.ID - b.ID;
    });
    const noCount = ctx.start === -1;
    const start = Math.max(0, ctx.start);
    const page = list.slice(start, start + 50);
    const select = isList(q.SELECT) ? q.SELECT.map(toStr) : isMap(q.SELECT) ? Object.values(q.SELECT).map(toStr) : [];
    const result = page.map((u) => {
      const full = this.formatUser(u);
      if (select.length === 0 || select.includes('*')) return full;
      const out: Record<string, unknown> = { ID: full.ID };
      for (const f of select) {
        const F = f.toUpperCase();
        if (F === 'UF_*') {
          for (const k of Object.keys(full)) if (k.startsWith('UF_')) out[k] = full[k];
        } else if (F in full) out[F] = full[F];
      }
      return out;
    });
    const r: HandlerResult = { result };
    if (!noCount) {
      r.total = list.length;
      if (start + 50 < list.length) r.next = start + 50;
    }
    return r;
  }

  private register(p: Params, ctx: CallCtx): HandlerResult {
    const now = Date.now();
    const userId = this.resolveUserId(p);
    const type = [1, 2, 3, 4, 5].find((n) => looseEqualsInt(p.TYPE, n));
    if (type === undefined) throw this.moduleError('Unknown TYPE');
    let startMs = now;
    if (p.CALL_START_DATE !== undefined && p.CALL_START_DATE !== null && p.CALL_START_DATE !== '') {
      const parsed = typeof p.CALL_START_DATE === 'string' ? parseStrtotime(p.CALL_START_DATE, this.tzOffsetMin, now) : null;
      if (parsed === null) throw this.moduleError('CALL_START_DATE should be in the ISO-8601 format');
      startMs = parsed;
    }
    const phone = toStr(p.PHONE_NUMBER).replace(/[^0-9+*#,;]/g, '');
    if (!truthy(phone)) throw this.moduleError('Unsupported phone number format');
    if (!this.isRealActive(this.findUser(userId))) throw this.moduleError('User is not found or is not active');

    let lineNumber = '';
    if (p.LINE_NUMBER !== undefined && p.LINE_NUMBER !== null) {
      const ln = toStr(p.LINE_NUMBER).trim();
      if (ln !== '') {
        lineNumber = ln.slice(0, 50);
        this.ensureLine(ctx.auth.appKey, lineNumber);
      }
    }
    const internal = this.users.some((u) => u.ACTIVE && (u.UF_PHONE_INNER ?? '') !== '' && u.UF_PHONE_INNER === phone);
    const hasExt = p.EXTERNAL_CALL_ID !== undefined && p.EXTERNAL_CALL_ID !== null;
    const ext = hasExt ? toStr(p.EXTERNAL_CALL_ID) : '';
    const show = p.SHOW !== undefined && p.SHOW !== null ? truthy(p.SHOW) : true;

    for (const c of this.activeCalls.values() as IterableIterator<CallState>) {
      if (
        c.USER_ID === userId &&
        c.PHONE_NUMBER === phone &&
        c.TYPE === type &&
        c.appKey === ctx.auth.appKey &&
        now - c.createdAt < DEDUP_WINDOW_MS &&
        (lineNumber === '' || c.LINE_NUMBER === lineNumber) &&
        (!hasExt || ((c.hasExternalCallId ?? c.EXTERNAL_CALL_ID !== '') && c.EXTERNAL_CALL_ID === ext))
      ) {
        if (show) this.shows.push({ callId: c.CALL_ID, userIds: [c.USER_ID], result: true });
        return {
          result: {
            CALL_ID: c.CALL_ID,
            CRM_CREATED_LEAD: c.crmCreatedLead ?? null,
            CRM_CREATED_ENTITIES: c.createdEntities ?? [],
            CRM_ENTITY_TYPE: c.CRM_ENTITY_TYPE === '' ? null : c.CRM_ENTITY_TYPE,
            CRM_ENTITY_ID: c.CRM_ENTITY_ID || null,
          },
        };
      }
    }

    const callId = `externalCall.${md5(`${ctx.auth.appKey}${userId}${phone}${now}${randomHex(8)}`)}.${Math.floor(now / 1000)}`;
    const call: CallState = {
      CALL_ID: callId,
      USER_ID: userId,
      PHONE_NUMBER: phone,
      TYPE: type,
      LINE_NUMBER: lineNumber,
      EXTERNAL_CALL_ID: ext,
      CALL_START_DATE: isoWithOffset(startMs, this.tzOffsetMin),
      CRM_ENTITY_TYPE: '',
      CRM_ENTITY_ID: null,
      createdAt: now,
      appKey: ctx.auth.appKey,
      hasExternalCallId: hasExt,
      crmCreatedLead: null,
      createdEntities: [],
      internal,
    };
    this.activeCalls.set(callId, call);

    const explicit =
      p.CRM_ENTITY_TYPE !== undefined && p.CRM_ENTITY_TYPE !== null && p.CRM_ENTITY_ID !== undefined && p.CRM_ENTITY_ID !== null;
    if (explicit) {
      call.CRM_ENTITY_TYPE = toStr(p.CRM_ENTITY_TYPE);
      call.CRM_ENTITY_ID = toInt(p.CRM_ENTITY_ID) || null;
    } else if (!internal) {
      const found = this.searchCrm(phone)[0];
      if (found) {
        call.CRM_ENTITY_TYPE = found.type;
        call.CRM_ENTITY_ID = found.id;
      }
    }
    const crmCreate = (truthy(p.CRM) || truthy(p.CRM_CREATE)) && !internal;
    if (crmCreate && !call.CRM_ENTITY_ID) {
      const lead = this.addCrm({ type: 'LEAD', name: `Звонок с ${phone}`, phones: [phone], assignedById: userId });
      this.createdLeads.push(lead);
      call.crmCreatedLead = lead.id;
      call.createdEntities = [{ ENTITY_TYPE: 'LEAD', ENTITY_ID: lead.id }];
      call.CRM_ENTITY_TYPE = 'LEAD';
      call.CRM_ENTITY_ID = lead.id;
    }
    if (show) this.shows.push({ callId, userIds: [userId], result: true });
    return {
      result: {
        CALL_ID: callId,
        CRM_CREATED_LEAD: call.crmCreatedLead ?? null,
        CRM_CREATED_ENTITIES: call.createdEntities ?? [],
        CRM_ENTITY_TYPE: call.CRM_ENTITY_TYPE,
        CRM_ENTITY_ID: call.CRM_ENTITY_ID || null,
      },
    };
  }

  private finish(p: Params, ctx: CallCtx): HandlerResult {
    const userId = this.resolveUserId(p);
    const callId = p.CALL_ID;
    if (typeof callId !== 'string') throw new ApiError(400, 'INVALID_ARGUMENT', 'CALL_ID must be a string');
    const call = this.activeCalls.get(callId) as CallState | undefined;
    if (!call) throw this.moduleError('Call is not found (call should be registered prior to finishing');
    if (!this.isRealActive(this.findUser(userId))) throw this.moduleError('User is not found or is not active');
    this.hides.push({ callId, userIds: [userId], result: true });

    const duration = toInt(p.DURATION);
    const rawStatus = toStr(p.STATUS_CODE);
    const statusCode = truthy(rawStatus) ? rawStatus : duration > 0 ? '200' : '304';
    const callStatus: 0 | 1 = duration > 0 ? 1 : 0;
    const restAppId = this.restAppId(ctx.auth);
    const hasCrm = call.CRM_ENTITY_TYPE !== '' && (call.CRM_ENTITY_ID ?? 0) > 0;
    for (const ce of call.createdEntities ?? []) {
      const e = this.crm.find((x) => x.type === ce.ENTITY_TYPE && x.id === ce.ENTITY_ID);
      if (e) e.assignedById = userId;
    }
    const id = ++this.seq.stat;
    const record: Record<string, unknown> = {
      CALL_ID: call.CALL_ID,
      EXTERNAL_CALL_ID: call.hasExternalCallId === false || call.EXTERNAL_CALL_ID === '' ? null : call.EXTERNAL_CALL_ID,
      PORTAL_USER_ID: userId,
      PHONE_NUMBER: call.PHONE_NUMBER,
      PORTAL_NUMBER: call.LINE_NUMBER !== '' ? call.LINE_NUMBER : `REST_APP:${restAppId ?? ''}`,
      INCOMING: String(call.TYPE),
      CALL_DURATION: duration,
      CALL_START_DATE: {},
      CALL_STATUS: callStatus,
      CALL_VOTE: toInt(p.VOTE),
      COST: toFloat(p.COST),
      COST_CURRENCY: toStr(p.COST_CURRENCY),
      CALL_FAILED_CODE: statusCode,
      CALL_FAILED_REASON: toStr(p.FAILED_REASON),
      REST_APP_ID: restAppId,
      REST_APP_NAME: restAppId === null ? false : 'Fake PBX connector',
      CRM_ACTIVITY_ID: hasCrm ? ++this.seq.activity : null,
      COMMENT: null,
    };
    if (toStr(p.RECORD_URL) !== '') record.CALL_RECORD_URL = toStr(p.RECORD_URL);
    if (hasCrm) {
      record.CRM_ENTITY_TYPE = call.CRM_ENTITY_TYPE;
      record.CRM_ENTITY_ID = call.CRM_ENTITY_ID;
    }
    record.ID = id;
    const finished: FinishedCall & CallState = {
      ...call,
      PORTAL_USER_ID: userId,
      CALL_DURATION: duration,
      CALL_STATUS: callStatus,
      CALL_FAILED_CODE: statusCode,
      ID: id,
      finishedAt: Date.now(),
      record: { ...record, ADD_TO_CHAT: truthy(p.ADD_TO_CHAT) },
    };
    this.activeCalls.delete(callId);
    this.finishedCalls.set(callId, finished);
    return { result: record };
  }

  private showHide(p: Params, log: Array<{ callId: string; userIds: number[]; result: boolean }>): HandlerResult {
    const callId = toStr(p.CALL_ID);
    const call = this.activeCalls.get(callId);
    let userIds: number[];
    if (p.USER_ID !== undefined && p.USER_ID !== null) {
      if (isList(p.USER_ID)) userIds = p.USER_ID.map(toInt);
      else if (isMap(p.USER_ID)) userIds = Object.values(p.USER_ID).map(toInt);
      else userIds = [toInt(p.USER_ID)];
    } else userIds = call ? [call.USER_ID] : [];
    const result = call !== undefined;
    log.push({ callId, userIds, result });
    return { result };
  }

  private checkExtension(filename: string): void {
    const dot = filename.lastIndexOf('.');
    const ext = dot < 0 ? '' : filename.slice(dot + 1);
    if (ext !== 'wav' && ext !== 'mp3') throw this.moduleError('Wrong file extension. Only wav and mp3 are allowed');
  }

  private notFinished(): ApiError {
    return this.moduleError('Call is not found in the statistic table. Looks like it is not finished yet.');
  }

  private async attachRecord(p: Params, ctx: CallCtx): Promise<HandlerResult> {
    const callId = toStr(p.CALL_ID);
    if (p.RECORD_URL !== undefined && p.RECORD_URL !== null) {
      if (!this.finishedCalls.has(callId)) throw this.notFinished();
      const url = toStr(p.RECORD_URL);
      let filename = toStr(p.FILENAME);
      if (filename === '') {
        let path = '';
        try {
          path = new URL(url).pathname;
        } catch {
          path = url;
        }
        filename = decodeURIComponent(path.split('/').pop() ?? '');
      }
      const data = await this.download(url);
      this.checkExtension(filename);
      if (data.length === 0) throw this.moduleError('File content is empty.');
      return { result: { FILE_ID: this.storeFile(callId, filename, data, 'url') } };
    }
    if (p.FILENAME !== undefined && p.FILENAME !== null) {
      if (!this.finishedCalls.has(callId)) throw this.notFinished();
      if (p.FILE_CONTENT === undefined || p.FILE_CONTENT === null) {
        const token = randomHex(16);
        this.uploads.set(token, { callId, filename: toStr(p.FILENAME) });
        const auth = ctx.auth.accessToken ?? '';
        return {
          result: {
            uploadUrl: `${this.url}/rest/upload.json?auth=${encodeURIComponent(auth)}&token=${encodeURIComponent(`telephony|${token}`)}`,
            fieldName: 'file',
          },
        };
      }
      const filename = toStr(p.FILENAME);
      if (filename === '') throw this.moduleError('File name is empty');
      this.checkExtension(filename);
      const content = toStr(p.FILE_CONTENT);
      if (content === '' || content === 'false') throw this.moduleError('File content is empty.');
      const data = strictBase64Decode(content);
      if (data === null || data.length === 0) {
        throw this.moduleError('File content is not properly encoded. Base64 encoding is expected.');
      }
      return { result: { FILE_ID: this.storeFile(callId, filename, data, 'base64') } };
    }
    throw this.moduleError('Required parameters are not set. Request should contain or URL or FILENAME parameter');
  }

  private storeFile(callId: string, filename: string, data: Buffer, mode: AttachedFile['mode']): number {
    const fileId = ++this.seq.file;
    this.attachedFiles.push({ callId, filename, data, mode, fileId });
    return fileId;
  }

  private download(url: string, redirects = 5): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        reject(this.moduleError('NETWORK: Wrong URI scheme. Only http and https are supported.'));
        return;
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        reject(this.moduleError('NETWORK: Wrong URI scheme. Only http and https are supported.'));
        return;
      }
      const lib = parsed.protocol === 'https:' ? https : http;
      const r = lib.get(parsed, { rejectUnauthorized: false, timeout: 15000 }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
          res.resume();
          this.outgoing.delete(r);
          this.download(new URL(res.headers.location, parsed).toString(), redirects - 1).then(resolve, reject);
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          this.outgoing.delete(r);
          if (status !== 200) reject(this.moduleError(`Server returns HTTP error code ${status}`));
          else resolve(Buffer.concat(chunks));
        });
        res.on('error', () => {
          this.outgoing.delete(r);
          reject(this.moduleError('NETWORK: Stream reading error.'));
        });
      });
      this.outgoing.add(r);
      r.on('timeout', () => r.destroy(new Error('timeout')));
      r.on('error', (err: NodeJS.ErrnoException) => {
        this.outgoing.delete(r);
        reject(this.moduleError(`NETWORK: Socket connection error (${err.code ?? err.message}).`));
      });
    });
  }

  private handleUpload(search: URLSearchParams, body: Buffer, contentType: string, res: http.ServerResponse, rec: RecordedRequest): Promise<void> {
    const startMs = Date.now();
    rec.auth = 'none';
    const token = (search.get('token') ?? '').replace(/^telephony\|/, '');
    const pending = this.uploads.get(token);
    if (!pending) return this.sendError(res, rec, new ApiError(401, 'NO_AUTH_FOUND', 'Wrong authorization data'));
    try {
      if (!this.finishedCalls.has(pending.callId)) throw this.notFinished();
      const parts = contentType.toLowerCase().includes('multipart/form-data') ? parseMultipart(body, contentType) ?? [] : [];
      const part = parts.find((x) => x.name === 'file' && x.filename !== undefined);
      if (!part) throw this.moduleError('File is not found');
      const filename = pending.filename !== '' ? pending.filename : (part.filename as string);
      rec.params = { ...rec.params, file: { filename: part.filename, size: part.data.length } };
      this.checkExtension(filename);
      if (part.data.length === 0) throw this.moduleError('File content is empty.');
      const fileId = this.storeFile(pending.callId, filename, part.data, 'upload');
      return this.sendJson(res, rec, 200, { result: { FILE_ID: fileId }, time: this.timeInfo(startMs, Date.now()) }, startMs);
    } catch (e) {
      if (e instanceof ApiError) return this.sendError(res, rec, e);
      throw e;
    }
  }

  private searchCrmEntities(p: Params): HandlerResult {
    const phone = toStr(p.PHONE_NUMBER ?? null);
    if (phone === '') throw this.moduleError('PHONE_NUMBER is empty');
    return {
      result: this.searchCrm(phone).map((e) => {
        const assigned = e.assignedById ?? this.webhook.userId;
        return {
          CRM_ENTITY_TYPE: e.type,
          CRM_ENTITY_ID: e.id,
          ASSIGNED_BY_ID: assigned,
          NAME: e.name,
          ASSIGNED_BY: this.assignedBy(assigned),
        };
      }),
    };
  }

  private lineAdd(p: Params, ctx: CallCtx): HandlerResult {
    const number = toStr(p.NUMBER).trim();
    if (number === '') throw this.moduleError('NUMBER should not be empty');
    if (this.linesOf(ctx.auth.appKey).some((l) => l.NUMBER === number)) throw this.moduleError('Line already exists');
    const line: ExternalLine = {
      ID: ++this.seq.line,
      NUMBER: number,
      NAME: toStr(p.NAME),
      CRM_AUTO_CREATE: p.CRM_AUTO_CREATE === undefined || p.CRM_AUTO_CREATE === null || toStr(p.CRM_AUTO_CREATE) === 'Y' ? 'Y' : 'N',
      appKey: ctx.auth.appKey,
    };
    this.lines.push(line);
    return { result: { ID: line.ID } };
  }

  private lineUpdate(p: Params, ctx: CallCtx): HandlerResult {
    const number = toStr(p.NUMBER).trim();
    if (number === '') throw this.moduleError('NUMBER should not be empty');
    const line = this.linesOf(ctx.auth.appKey).find((l) => l.NUMBER === number);
    if (!line) throw this.moduleError(`Could not find line with number ${number}`);
    const hasName = p.NAME !== undefined && p.NAME !== null;
    const hasCrm = p.CRM_AUTO_CREATE !== undefined && p.CRM_AUTO_CREATE !== null;
    if (!hasName && !hasCrm) throw this.moduleError('There are no fields to update');
    if (hasName) line.NAME = toStr(p.NAME);
    if (hasCrm) line.CRM_AUTO_CREATE = toStr(p.CRM_AUTO_CREATE) === 'Y' ? 'Y' : 'N';
    return { result: { ID: String(line.ID) } };
  }

  private lineDelete(p: Params, ctx: CallCtx): HandlerResult {
    const number = toStr(p.NUMBER).trim();
    if (number === '') throw this.moduleError('NUMBER should not be empty');
    const i = this.lines.findIndex((l) => l.appKey === ctx.auth.appKey && l.NUMBER === number);
    if (i < 0) throw this.moduleError(`Could not find line with number ${number}`);
    this.lines.splice(i, 1);
    return { result: [] };
  }

  private findByComm(p: Params): HandlerResult {
    const type = toStr(p.type ?? p.TYPE).toUpperCase();
    if (type === '') throw this.moduleError('Communication type is not defined.');
    if (type !== 'PHONE' && type !== 'EMAIL') throw this.moduleError(`Communication type '${type}' is not supported in current context.`);
    const values = p.values ?? p.VALUES;
    const list = isList(values) ? values.map(toStr) : isMap(values) ? Object.values(values).map(toStr) : null;
    if (!list || list.length === 0) throw this.moduleError('Communication values is not defined.');
    const entityType = toStr(p.entity_type ?? p.ENTITY_TYPE).toUpperCase();
    if (entityType !== '' && !['LEAD', 'CONTACT', 'COMPANY'].includes(entityType)) {
      throw this.moduleError(`Entity type '${entityType}' is not supported in current context.`);
    }
    const out: Record<string, number[]> = {};
    if (type === 'PHONE') {
      const wanted = new Set(list.map(normalizePhone).filter((x) => x !== ''));
      for (const t of ['LEAD', 'CONTACT', 'COMPANY'] as const) {
        if (entityType !== '' && entityType !== t) continue;
        const ids = this.crm
          .filter((e) => e.type === t && e.phones.some((ph) => wanted.has(normalizePhone(ph))))
          .map((e) => e.id)
          .sort((a, b) => a - b);
        if (ids.length > 0) out[t] = ids;
      }
    }
    return { result: phpArray(out) };
  }
}

// ================================================================ batch substitution

const BATCH_REF = /\$(result|result_error|result_total|result_next|result_time)((?:\[[^\]]+\])+)/gi;

/** CRestUtil::processBatchElement on parsed values: whole-value references keep their type. */
function substituteBatch(v: unknown, sections: Record<string, Record<string, unknown>>): unknown {
  if (isList(v)) return v.map((x) => substituteBatch(x, sections));
  if (isMap(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = substituteBatch(x, sections);
    return o;
  }
  if (typeof v !== 'string' || !v.includes('$')) return v;
  const resolve = (name: string, path: string): unknown => {
    let r: unknown = sections[name.toLowerCase()];
    for (const m of path.matchAll(/\[([^\]]+)\]/g)) {
      const key = m[1];
      if (isList(r) && /^\d+$/.test(key) && r[Number(key)] !== undefined && r[Number(key)] !== null) r = r[Number(key)];
      else if (isMap(r) && r[key] !== undefined && r[key] !== null) r = r[key];
      else break;
    }
    return r;
  };
  const whole = new RegExp(`^${BATCH_REF.source}$`, 'i').exec(v);
  if (whole) return resolve(whole[1], whole[2]);
  return v.replace(BATCH_REF, (match, name: string, path: string) => {
    const r = resolve(name, path);
    if (typeof r === 'number' || typeof r === 'string') return String(r);
    return match;
  });
}

// ================================================================ demo data

/** Demo portal used by serve.ts and the demo script. */
export function seedDemo(fake: FakeBitrix): void {
  fake.addUser({ ID: 1, NAME: 'Portal', LAST_NAME: 'Admin', ACTIVE: true, UF_PHONE_INNER: null, IS_ONLINE: 'Y' });
  fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101', IS_ONLINE: 'Y', TIMEMAN: 'OPENED' });
  fake.addUser({ ID: 15, NAME: 'Anna', LAST_NAME: 'Smirnova', ACTIVE: true, UF_PHONE_INNER: '102', IS_ONLINE: 'N', TIMEMAN: 'CLOSED' });
  fake.addUser({ ID: 17, NAME: 'Oleg', LAST_NAME: 'Sidorov', ACTIVE: false, UF_PHONE_INNER: '103', IS_ONLINE: 'N' });
  fake.addCrm({ type: 'CONTACT', id: 651, name: 'Иван Петров', phones: ['+79161234567'], assignedById: 12 });
  fake.addCrm({ type: 'COMPANY', id: 643, name: 'ООО Ромашка', phones: ['+74951112233'], assignedById: 15 });
  fake.addCrm({ type: 'LEAD', id: 311, name: 'Лид с сайта', phones: ['+79035550011'], assignedById: 12 });
}
