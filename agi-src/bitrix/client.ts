import { BitrixError, errorFromEnvelope, movedError, transientError } from './errors';
import { HttpError, multipartFile, request, Transport } from './http';
import { batchCommand, Params } from './query';
import type { OAuthSession } from './oauth';

export type Credentials = { kind: 'webhook'; baseUrl: string } | { kind: 'oauth'; portalUrl: string; session: OAuthSession };

/** Shared by every process on the PBX: keeps the portal under its leaky bucket. */
export interface RequestGate {
  /** Resolves when a request may go out; rejects with a 'rate' BitrixError if that is past the deadline. */
  acquire(method: string, deadline: number): Promise<void>;
  /** OPERATION_TIME_LIMIT: no more requests of this method until `untilMs`. */
  pauseMethod(method: string, untilMs: number): Promise<void>;
}

export interface Health {
  success(): void;
  failure(err: BitrixError): void;
}

export interface BatchResult {
  result: Record<string, unknown>;
  errors: Record<string, BitrixError>;
}

export interface ClientOptions {
  credentials: Credentials;
  gate?: RequestGate;
  health?: Health;
  now?: () => number;
  /** Back-off before repeating a 503 QUERY_LIMIT_EXCEEDED, doubled each time. */
  rateBackoffMs?: number;
  /** HTTPS proxy and/or a resident process's keep-alive agent. */
  transport?: Transport;
}

const RESPONSE_RESERVE_MS = 20;

/** All Bitrix24 traffic of the project goes through this client. */
export class BitrixClient {
  private readonly now: () => number;

  constructor(private readonly opts: ClientOptions) {
    this.now = opts.now ?? Date.now;
  }

  async call(method: string, params: Params, deadline: number): Promise<unknown> {
    try {
      const result = await this.send(method, params, deadline);
      this.opts.health?.success();
      return result;
    } catch (err) {
      if (err instanceof BitrixError) this.opts.health?.failure(err);
      throw err;
    }
  }

  /** One HTTP request for several methods; sub-request failures come back in `errors`, not thrown. */
  async batch(cmds: Record<string, { method: string; params: Params }>, deadline: number, halt = false): Promise<BatchResult> {
    const cmd: Record<string, string> = {};
    const methodOf: Record<string, string> = {};
    for (const [key, c] of Object.entries(cmds)) {
      cmd[key] = batchCommand(c.method, c.params);
      methodOf[key] = c.method;
    }
    const raw = (await this.call('batch', { halt: halt ? 1 : 0, cmd }, deadline)) as Record<string, unknown>;
    const result = asRecord(raw?.result);
    const errors: Record<string, BitrixError> = {};
    for (const [key, e] of Object.entries(asRecord(raw?.result_error))) {
      errors[key] = errorFromEnvelope(methodOf[key] ?? key, 400, asRecord(e));
    }
    return { result, errors };
  }

  /** The second step of attachRecord: the file itself, to the signed upload URL it returned. */
  async upload(url: string, field: string, filename: string, data: Buffer, deadline: number): Promise<unknown> {
    const method = 'attachRecord.upload';
    await this.opts.gate?.acquire(method, deadline);
    const { body, contentType } = multipartFile(field, filename, data);
    let res;
    try {
      res = await request({
        method: 'POST',
        url,
        headers: { 'content-type': contentType },
        body,
        timeoutMs: deadline - this.now() - RESPONSE_RESERVE_MS,
        ...this.opts.transport,
      });
    } catch (err) {
      throw transientError(method, (err as Error).message);
    }
    if (isRedirect(res.status)) throw movedError(method, res.status, res.location, url);
    const parsed = parseJsonObject(res.body);
    if (!parsed) throw transientError(method, `HTTP ${res.status} with a non-JSON body`, res.status);
    if (parsed.error !== undefined || res.status >= 400) throw errorFromEnvelope(method, res.status, parsed);
    this.opts.health?.success();
    return parsed.result;
  }

  /**
   * Sends one or more requests in a single HTTP round trip: a plain call for one, `batch` for
   * several. Per-command refusals come back in `errors`; a failure of the whole request throws.
   */
  async sendAll(cmds: Record<string, { method: string; params: Params }>, deadline: number): Promise<BatchResult> {
    const entries = Object.entries(cmds);
    if (entries.length !== 1) return this.batch(cmds, deadline);
    const [key, c] = entries[0];
    try {
      return { result: { [key]: await this.call(c.method, c.params, deadline) }, errors: {} };
    } catch (err) {
      if (err instanceof BitrixError && err.kind === 'rejected') return { result: {}, errors: { [key]: err } };
      throw err;
    }
  }

  private async send(method: string, params: Params, deadline: number): Promise<unknown> {
    let backoff = this.opts.rateBackoffMs ?? 500;
    for (;;) {
      await this.opts.gate?.acquire(method, deadline);
      const { url, body } = await this.target(method, params);
      let status = 0;
      let parsed: Record<string, unknown> | undefined;
      try {
        const res = await request({
          method: 'POST',
          url,
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: JSON.stringify(body),
          timeoutMs: deadline - this.now() - RESPONSE_RESERVE_MS,
          ...this.opts.transport,
        });
        status = res.status;
        if (isRedirect(status)) throw movedError(method, status, res.location, url);
        parsed = parseJsonObject(res.body);
        if (!parsed) throw transientError(method, `HTTP ${res.status} with a non-JSON body`, res.status);
      } catch (err) {
        if (err instanceof HttpError) throw transientError(method, err.message);
        throw err;
      }
      if (parsed.error === undefined && status < 400 && 'result' in parsed) return parsed.result;
      const err = parsed.error !== undefined ? errorFromEnvelope(method, status, parsed) : transientError(method, `HTTP ${status}`, status);
      // Never refreshed here: a refresh inside a step's budget may lose its answer and, with
      // it, the rotated refresh token. The step's work waits; the scheduled retry renews.
      if (err.kind === 'expired' && this.opts.credentials.kind === 'oauth') await this.opts.credentials.session.markExpired(String(body.auth ?? ''));
      if (err.code === 'QUERY_LIMIT_EXCEEDED' && this.now() + backoff < deadline - RESPONSE_RESERVE_MS) {
        await sleep(backoff);
        backoff *= 2;
        continue;
      }
      if (err.code === 'OPERATION_TIME_LIMIT') {
        const resetAt = Number(asRecord(parsed.time).operating_reset_at);
        const until = Number.isFinite(resetAt) && resetAt > 0 ? resetAt * 1000 : this.now() + 60_000;
        await this.opts.gate?.pauseMethod(method, until);
      }
      throw err;
    }
  }

  private async target(method: string, params: Params): Promise<{ url: string; body: Params }> {
    const creds = this.opts.credentials;
    if (creds.kind === 'webhook') {
      const base = creds.baseUrl.endsWith('/') ? creds.baseUrl : `${creds.baseUrl}/`;
      return { url: `${base}${method}.json`, body: params };
    }
    const token = await creds.session.accessToken();
    const portal = creds.portalUrl.replace(/\/+$/, '');
    return { url: `${portal}/rest/${method}.json`, body: { ...params, auth: token } };
  }
}

export function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** PHP serialises an empty map as []: treat arrays and non-objects as empty maps. */
export function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
