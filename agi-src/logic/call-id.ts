// The only CALL_ID shape Bitrix24 makes: 'externalCall.' . md5(…) . '.' . time() (voximplant's
// Rest\Helper::registerExternalCall). It goes into a channel variable and into later requests,
// so anything else the portal (or something pretending to be it) answers is not taken.

const CALL_ID = /^externalCall\.[0-9a-fA-F]{32}\.[0-9]{1,12}$/;

export function isCallId(value: unknown): value is string {
  return typeof value === 'string' && CALL_ID.test(value);
}
