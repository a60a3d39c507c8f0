// One round trip for everything a later step needs from the channel.
import type { AgiChannel } from '../agi/channel';
import { isCallId } from '../logic/call-id';

export interface CallVars {
  uniqueid: string;
  callId: string;
  recording: string;
  linkedid: string;
  /** FreePBX's FROM_DID: the DID as the trunk delivered it. */
  did: string;
}

const EXPRESSION = '${BITRIX_UNIQUEID}|${BITRIX_CALL_ID}|${MIXMONITOR_FILENAME}|${CHANNEL(linkedid)}|${FROM_DID}';

export async function readCallVars(channel: AgiChannel): Promise<CallVars> {
  const value = await channel.getFullVariable(EXPRESSION).catch(() => '');
  const [uniqueid = '', callId = '', recording = '', linkedid = '', did = ''] = value.split('|');
  // BITRIX_CALL_ID is only ever set by incoming, from a checked answer; anything else is not ours.
  const id = callId.trim();
  return { uniqueid: uniqueid.trim(), callId: isCallId(id) ? id : '', recording: recording.trim(), linkedid: linkedid.trim(), did: did.trim() };
}
