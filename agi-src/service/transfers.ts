// Attended transfers of reported calls, followed on the manager interface: a phone's own
// attended transfer (consult call + REFER/Replaces) runs no dialplan at all, and one made with
// `*2` completes without any (the consultation leg's answer is deliberately not recorded: the
// transfer may never complete). On AMI AttendedTransfer the service writes the fact where the
// dialplan writes its own — SHARED(BITRIX_LAST_OPERATOR) on the inbound channel, through AMI
// Setvar (manager.c action_setvar → pbx_builtin_setvar_helper → the function's write on that
// channel) — so the hangup step finishes the call in the new operator's name, then hands the card
// over: shown to the new operator, hidden for the others. No state is kept per call.
// BlindTransfer needs nothing here: the transferee runs the dialplan, whose answer hook does it.
import type { Ami } from '../ami/client';
import type { AmiMessage } from '../ami/message';
import type { CardJob } from '../flows/show';
import type { Logger } from '../log/logger';
import { currentOperator, parseAnswerFact } from '../logic/answer';
import { isCallId } from '../logic/call-id';
import { attendedMove, channelOwner, TransferParty } from '../logic/transfer';

const ACTION_MS = 3000;

export class TransferFollower {
  private readonly onEvent = (msg: AmiMessage) => this.event(msg);
  /** Moves in progress: stop() waits for them (a handful at most, each a few AMI round trips). */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly ami: Ami,
    private readonly log: Logger,
    /** The card of the operator the call moved to (the service's card task). */
    private readonly deliver: (job: CardJob) => void,
  ) {
    ami.on('event', this.onEvent);
  }

  async stop(): Promise<void> {
    this.ami.off('event', this.onEvent);
    await Promise.allSettled([...this.inFlight]);
  }

  private event(msg: AmiMessage): void {
    if (msg.Event === 'BlindTransfer') {
      this.log.debug(`transfer: blind ${msg.Result} of ${msg.TransfereeChannel ?? '?'} by ${msg.TransfererChannel ?? '?'} to ${msg.Extension ?? '?'}@${msg.Context ?? '?'} (the dialplan follows it)`);
      return;
    }
    if (msg.Event !== 'AttendedTransfer') return;
    const move = attendedMove(msg);
    if (!move.follow) {
      this.log.debug(`transfer: attended transfer by ${msg.OrigTransfererChannel ?? '?'} not followed (${move.why})`);
      return;
    }
    const work = this.follow(move.transferee, move.target).catch((err) => this.log.warn(`transfer: attended transfer to ${move.target.channel} not followed (${(err as Error).message})`));
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async follow(transferee: TransferParty, target: TransferParty): Promise<void> {
    // The customer's side carries the call's marker (inherited): normally the transferee; the
    // other way round when the consultation was the older bridge ("chronological establishment").
    let ours = transferee;
    let other = target;
    let inbound = await this.getvar(ours.channel, 'BITRIX_CHANNEL');
    if (!inbound) {
      [ours, other] = [target, transferee];
      inbound = await this.getvar(ours.channel, 'BITRIX_CHANNEL');
    }
    if (!inbound) {
      this.log.debug(`transfer: ${transferee.channel} ↔ ${target.channel} is not a reported call`);
      return;
    }
    const uniqueid = await this.getvar(ours.channel, 'BITRIX_UNIQUEID');
    if (!uniqueid) return;
    const extension = await this.extensionOf(other.channel);
    if (!extension) {
      this.log.info(`transfer ${uniqueid}: cannot tell whose channel ${other.channel} is; the call stays with its operator`);
      return;
    }
    const first = parseAnswerFact(await this.getvar(inbound, 'SHARED(BITRIX_ANSWER)'));
    if (first && currentOperator(first, await this.getvar(inbound, 'SHARED(BITRIX_LAST_OPERATOR)')).extension === extension) return;
    const now = (await this.getvar(inbound, 'STRFTIME(,,%s.%3q)')) || (Date.now() / 1000).toFixed(3);
    const res = await this.ami.action([['Action', 'Setvar'], ['Channel', inbound], ['Variable', 'SHARED(BITRIX_LAST_OPERATOR)'], ['Value', `${extension}@${now}`]], ACTION_MS);
    if (res.Response !== 'Success') throw new Error(`Setvar on ${inbound}: ${res.Message ?? res.Response}`);
    this.log.info(`transfer ${uniqueid}: attended transfer to ${extension} (${other.channel})`);
    const callId = await this.getvar(ours.channel, 'BITRIX_CALL_ID');
    this.deliver({ uniqueid, extension, answeredAt: first?.at ?? null, callId: isCallId(callId) ? callId : '', recording: '', transferred: true });
  }

  /** A channel variable or function through AMI Getvar; '' when unset or the channel is gone. */
  private async getvar(channel: string, variable: string): Promise<string> {
    const res = await this.ami.action([['Action', 'Getvar'], ['Channel', channel], ['Variable', variable]], ACTION_MS);
    return res.Response === 'Success' ? (res.Value ?? '').trim() : '';
  }

  /** The operator's extension: a Local channel's exten, else the device's user (AstDB DEVICE/<device>/user), else the device. */
  private async extensionOf(channel: string): Promise<string | null> {
    const owner = channelOwner(channel);
    if (!owner) return null;
    if ('extension' in owner) return owner.extension;
    const { response, events } = await this.ami.listAction([['Action', 'DBGet'], ['Family', 'DEVICE'], ['Key', `${owner.device}/user`]], ACTION_MS).catch(() => ({ response: {} as AmiMessage, events: [] as AmiMessage[] }));
    const user = response.Response === 'Success' ? (events.find((e) => e.Event === 'DBGetResponse')?.Val ?? '').trim() : '';
    return user && user !== 'none' && channelOwner(`Local/${user}`) ? user : owner.device;
  }
}
