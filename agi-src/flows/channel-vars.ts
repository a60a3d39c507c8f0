// One round trip for everything a step reads from the channel: the facts the dialplan recorded.
import type { AgiChannel } from '../agi/channel';
import { isCallId } from '../logic/call-id';

const SEP = '|';

/** The values of several ${…} expressions, read with one GET FULL VARIABLE (none of them holds a "|"). */
async function readAll<K extends string>(channel: AgiChannel, names: Record<K, string>): Promise<Record<K, string>> {
  const keys = Object.keys(names) as K[];
  const value = await channel.getFullVariable(keys.map((k) => names[k]).join(SEP)).catch(() => '');
  const parts = value.split(SEP);
  const out = {} as Record<K, string>;
  keys.forEach((k, i) => (out[k] = (parts[i] ?? '').trim()));
  return out;
}

const COMMON = {
  uniqueid: '${BITRIX_UNIQUEID}',
  callId: '${BITRIX_CALL_ID}',
  recording: '${MIXMONITOR_FILENAME}',
  linkedid: '${CHANNEL(linkedid)}',
  /** FreePBX's FROM_DID: the DID as the trunk delivered it. */
  did: '${FROM_DID}',
};

export type CallVars = Record<keyof typeof COMMON, string>;

/** On an answering channel: the call it belongs to and the answer fact on the inbound channel. */
export async function readAnswerVars(channel: AgiChannel): Promise<CallVars & { answerFact: string; lastOperatorFact: string }> {
  return checked(
    await readAll(channel, {
      ...COMMON,
      answerFact: '${SHARED(BITRIX_ANSWER,${BITRIX_CHANNEL})}',
      lastOperatorFact: '${SHARED(BITRIX_LAST_OPERATOR,${BITRIX_CHANNEL})}',
    }),
  );
}

/** BITRIX_CALL_ID is only ever set by incoming, from a checked answer; anything else is not ours. */
function checked<T extends CallVars>(vars: T): T {
  return isCallId(vars.callId) ? vars : { ...vars, callId: '' };
}

/** On the inbound channel in its hangup handler: everything the dialplan recorded about the call. */
export async function readHangupVars(channel: AgiChannel): Promise<
  CallVars & { started: string; ended: string; answerFact: string; lastOperatorFact: string; dialStatus: string; dialOperator: string; answeredTimeMs: string }
> {
  const vars = await readAll(channel, {
    ...COMMON,
    started: '${BITRIX_STARTED}',
    ended: '${BITRIX_ENDED}',
    answerFact: '${SHARED(BITRIX_ANSWER)}',
    lastOperatorFact: '${SHARED(BITRIX_LAST_OPERATOR)}',
    dialStatus: '${DIALSTATUS}',
    dialOperator: '${BITRIX_OPERATOR}',
    answeredTimeMs: '${ANSWEREDTIME_MS}',
  });
  return checked(vars);
}

/** On the inbound channel during the incoming step. */
export async function readInboundVars(channel: AgiChannel): Promise<{ linkedid: string; started: string }> {
  return readAll(channel, { linkedid: '${CHANNEL(linkedid)}', started: '${BITRIX_STARTED}' });
}
