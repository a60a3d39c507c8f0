// `itd_bitrix.js check`: a live test of the connection, explained in plain words for the GUI.
import { BitrixError } from '../bitrix/errors';
import type { Services } from './services';

export interface CheckItem {
  id: string;
  ok: boolean;
  message: string;
}

export interface CheckReport {
  ok: boolean;
  checks: CheckItem[];
  /** Keys of the config file this version does not know (ignored). */
  warnings: string[];
}

function explain(err: unknown): string {
  if (!(err instanceof BitrixError)) return (err as Error).message;
  switch (err.code) {
    case 'TRANSPORT':
      return `the portal cannot be reached: ${err.description}`;
    case 'INVALID_CREDENTIALS':
    case 'NO_AUTH_FOUND':
      return 'the portal refused the webhook: check the URL and that the webhook still exists';
    case 'WRONG_AUTH_TYPE':
      return 'the portal refuses webhooks for telephony calls: switch to a local application';
    case 'insufficient_scope':
    case 'ERROR_METHOD_NOT_FOUND':
      return 'the webhook lacks a permission (scope) this method needs';
    case 'expired_token':
    case 'invalid_token':
    case 'invalid_grant':
    case 'NOT_CONNECTED':
      return 'the local application is not connected or its tokens are no longer valid: press Connect again';
    case 'PORTAL_MOVED':
      return err.description;
    case 'TOKEN_EXPIRED':
      return 'the access token has expired and the scheduled retry has not renewed it: check that itd_bitrix.js retry runs every minute (the log says why)';
    case 'QUERY_LIMIT_EXCEEDED':
      return 'the portal is rate-limiting requests right now; try again in a minute';
    default:
      return err.message;
  }
}

export async function check(s: Services, deadline: number, warnings: string[] = []): Promise<CheckReport> {
  const valid = 'configuration file is valid';
  const checks: CheckItem[] = [{ id: 'config', ok: true, message: warnings.length ? `${valid} (${warnings.join('; ')})` : valid }];
  const client = await s.client();
  const probe = async (id: string, method: string, params: Record<string, unknown>, ok: string): Promise<boolean> => {
    try {
      await client.call(method, params, deadline);
      checks.push({ id, ok: true, message: ok });
      return true;
    } catch (err) {
      checks.push({ id, ok: false, message: explain(err) });
      return false;
    }
  };
  const reached = await probe('reach', 'user.current', {}, 'portal reached and credentials accepted');
  if (reached) {
    await probe('scope_user', 'user.get', { FILTER: { ID: s.config.defaultUserId } }, 'user scope available');
    await probe('scope_telephony', 'telephony.externalLine.get', {}, 'telephony scope available');
    await probe('scope_crm', 'telephony.externalCall.searchCrmEntities', { PHONE_NUMBER: '+70000000000' }, 'CRM search available');
  }
  return { ok: checks.every((c) => c.ok), checks, warnings };
}
