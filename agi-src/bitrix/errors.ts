// Every way a Bitrix24 request can fail, sorted by what the caller should do about it.

export type BitrixErrorKind =
  /** Credentials or scopes refused: wait for the admin to change the config, don't hammer. */
  | 'auth'
  /** OAuth access token expired: wait for the scheduled retry to renew it. */
  | 'expired'
  /** 503 QUERY_LIMIT_EXCEEDED or 429 OPERATION_TIME_LIMIT: back off. */
  | 'rate'
  /** Network, timeout, 5xx, HTML instead of JSON: try again later. */
  | 'transient'
  /** Bitrix24 understood and refused this particular request (e.g. "Call is not found"). */
  | 'rejected';

const AUTH_CODES = new Set([
  'WRONG_AUTH_TYPE',
  'INVALID_CREDENTIALS',
  'insufficient_scope',
  'NO_AUTH_FOUND',
  'invalid_token',
  'user_access_error',
  'authorization_error',
  'INVALID_REQUEST',
  'ACCESS_DENIED',
  'PORTAL_DELETED',
  'METHOD_CONFIRM_WAITING',
  'ERROR_METHOD_NOT_FOUND',
  'invalid_client',
  'invalid_grant',
]);

export class BitrixError extends Error {
  constructor(
    readonly kind: BitrixErrorKind,
    readonly code: string,
    readonly description: string,
    readonly httpStatus: number,
    readonly method: string,
    /** For OPERATION_TIME_LIMIT: epoch ms until which the method is blocked, when known. */
    readonly retryAfterMs?: number,
    /** For a redirect: the host it points to (never its path: it may hold the webhook code). */
    readonly redirectHost?: string,
  ) {
    super(`${method}: ${[code, description].filter(Boolean).join(': ') || 'refused'}${httpStatus ? ` (HTTP ${httpStatus})` : ''}`);
    this.name = 'BitrixError';
  }

  get isCallNotFound(): boolean {
    return /call is not found/i.test(this.description);
  }
}

export function classify(code: string, httpStatus: number): BitrixErrorKind {
  if (code === 'expired_token') return 'expired';
  if (code === 'QUERY_LIMIT_EXCEEDED' || code === 'OPERATION_TIME_LIMIT') return 'rate';
  if (AUTH_CODES.has(code)) return 'auth';
  if (code === 'OVERLOAD_LIMIT' || code === 'INTERNAL_SERVER_ERROR') return 'transient';
  if (httpStatus >= 500 || httpStatus === 429) return 'transient';
  if (httpStatus === 401 || httpStatus === 403) return 'auth';
  return 'rejected';
}

export function errorFromEnvelope(method: string, httpStatus: number, body: Record<string, unknown>): BitrixError {
  const code = typeof body.error === 'string' ? body.error : String(body.error ?? '');
  const description = typeof body.error_description === 'string' ? body.error_description : '';
  return new BitrixError(classify(code, httpStatus), code, description, httpStatus, method);
}

/** Anything a request can throw, as a BitrixError (unexpected ones count as transient). */
export function asBitrixError(err: unknown, method: string): BitrixError {
  if (err instanceof BitrixError) return err;
  return new BitrixError('transient', 'ERROR', err instanceof Error ? err.message : String(err), 0, method);
}

/**
 * A 3xx: the portal was renamed or moved (http → https). Following it would send the webhook
 * code or the token to wherever it points, and repeating it never helps: a configuration
 * error, held like refused credentials until the address changes.
 */
export function movedError(method: string, httpStatus: number, location: string | undefined, requestUrl: string): BitrixError {
  let target: URL | undefined;
  try {
    target = new URL(location ?? '', requestUrl);
  } catch {
    target = undefined;
  }
  const where = target && location ? `to ${target.protocol}//${target.host}` : 'elsewhere';
  const description = `the portal redirects ${where} (renamed, or moved to https); put its new address in the module settings`;
  return new BitrixError('auth', 'PORTAL_MOVED', description, httpStatus, method, undefined, target && location ? target.host : undefined);
}

export function transientError(method: string, description: string, httpStatus = 0): BitrixError {
  return new BitrixError('transient', 'TRANSPORT', description, httpStatus, method);
}
