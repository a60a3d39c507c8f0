// The Bitrix24 requests of a call, built from its database row: the AGIs and the retry send
// exactly the same register/finish, which is what makes a retry idempotent.
import { BitrixError } from '../bitrix/errors';
import type { Config } from '../config/config';
import { isCallId } from '../logic/call-id';
import type { Params } from '../bitrix/query';
import { isoWithOffset } from '../logic/time';
import type { CallRow } from '../store/calls';

export interface Request {
  method: string;
  params: Params;
}

export function registerRequest(
  call: Pick<CallRow, 'caller_number' | 'did' | 'started_at' | 'linkedid'> & Partial<Pick<CallRow, 'type' | 'operator_user_id' | 'hungup_at'>>,
  config: Config,
): Request {
  if (call.type === 'out') {
    // The caller's card pops while the call is on, and only for the caller's own user.
    const show = config.outgoingShowCard && call.operator_user_id != null && call.hungup_at == null;
    return {
      method: 'telephony.externalcall.register',
      params: {
        USER_ID: call.operator_user_id ?? config.defaultUserId,
        PHONE_NUMBER: call.caller_number,
        TYPE: 1,
        CALL_START_DATE: isoWithOffset(call.started_at),
        CRM_CREATE: config.createCrmEntity ? 1 : 0,
        SHOW: show ? 1 : 0,
        ...(call.did ? { LINE_NUMBER: call.did } : {}),
        EXTERNAL_CALL_ID: call.linkedid,
      },
    };
  }
  return {
    method: 'telephony.externalcall.register',
    params: {
      USER_ID: config.defaultUserId,
      PHONE_NUMBER: call.caller_number,
      TYPE: 2,
      CALL_START_DATE: isoWithOffset(call.started_at),
      CRM_CREATE: config.createCrmEntity ? 1 : 0,
      SHOW: 0,
      LINE_NUMBER: call.did,
      EXTERNAL_CALL_ID: call.linkedid,
    },
  };
}

export function searchRequest(number: string): Request {
  return { method: 'telephony.externalCall.searchCrmEntities', params: { PHONE_NUMBER: number } };
}

export function finishRequest(callId: string, finish: { userId: number; duration: number; statusCode: string }): Request {
  return {
    method: 'telephony.externalcall.finish',
    params: { CALL_ID: callId, USER_ID: finish.userId, DURATION: finish.duration, STATUS_CODE: finish.statusCode, ADD_TO_CHAT: 1 },
  };
}

export function hideRequest(callId: string, userIds: number[]): Request {
  return { method: 'telephony.externalcall.hide', params: { CALL_ID: callId, USER_ID: userIds } };
}

export function showRequest(callId: string, userId: number | number[]): Request {
  return { method: 'telephony.externalcall.show', params: { CALL_ID: callId, USER_ID: userId } };
}

/** The user a click came from: their extension (UF_PHONE_INNER) and whether they are active. */
export function userByIdRequest(userId: number): Request {
  return { method: 'user.get', params: { FILTER: { ID: userId }, select: ['ID', 'ACTIVE', 'UF_PHONE_INNER'] } };
}

export function userByExtensionRequest(extension: string): Request {
  return {
    method: 'user.get',
    params: { FILTER: { UF_PHONE_INNER: extension, ACTIVE: true }, select: ['ID', 'UF_PHONE_INNER'] },
  };
}

/** The first active user the CRM returned for an extension, or null. */
export function userIdFrom(result: unknown): number | null {
  if (!Array.isArray(result)) return null;
  for (const u of result) {
    const id = Number((u as { ID?: unknown })?.ID);
    if (Number.isInteger(id) && id > 0) return id;
  }
  return null;
}

/**
 * The CALL_ID of a register answer. null when there is none; a BitrixError (a failed register,
 * queued like any other) when it has another shape than the portal's own: such a value never
 * reaches a channel variable or a later request.
 */
export function callIdFrom(result: unknown): string | null {
  const id = (result as { CALL_ID?: unknown })?.CALL_ID;
  if (id === undefined || id === null || id === '') return null;
  if (isCallId(id)) return id;
  throw new BitrixError('rejected', 'BAD_CALL_ID', `register returned a CALL_ID of unknown shape ${JSON.stringify(id).slice(0, 80)}`, 200, 'telephony.externalcall.register');
}
