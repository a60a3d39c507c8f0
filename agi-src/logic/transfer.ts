// Transfers as Asterisk reports them on the manager interface (main/stasis_bridges.c): what an
// AttendedTransfer event says about who has the customer now. Phone-native attended transfers
// (consult call + REFER/Replaces) run no dialplan at all, so this event is the only fact there is.
import type { AmiMessage } from '../ami/message';
import { EXTENSION } from './answer';

export interface TransferParty {
  channel: string;
  uniqueid: string;
  linkedid: string;
}

export type AttendedMove =
  | { follow: true; transferee: TransferParty; target: TransferParty; destType: string }
  | { follow: false; why: string };

function party(msg: AmiMessage, prefix: string): TransferParty | null {
  const channel = msg[`${prefix}Channel`];
  if (!channel) return null;
  return { channel, uniqueid: msg[`${prefix}Uniqueid`] ?? '', linkedid: msg[`${prefix}Linkedid`] ?? '' };
}

/**
 * A completed attended transfer that moved one party to another: Result Success and the two
 * bridges merged (DestType Bridge) or linked by a Local pair (Link). The transferee is the party
 * the first transferer leg was bridged to (the customer, or a queue member's Local leg), the
 * target the party of the second (the consulted operator, or the Local `*2` dialled). App
 * (the target was an application), Threeway and Fail move nobody.
 */
export function attendedMove(msg: AmiMessage): AttendedMove {
  if (msg.Event !== 'AttendedTransfer') return { follow: false, why: 'not an AttendedTransfer' };
  if (msg.Result !== 'Success') return { follow: false, why: `result ${msg.Result ?? '(none)'}` };
  const destType = msg.DestType ?? '';
  if (destType !== 'Bridge' && destType !== 'Link') return { follow: false, why: `DestType ${destType || '(none)'}` };
  const transferee = party(msg, 'Transferee');
  const target = party(msg, 'TransferTarget');
  if (!transferee || !target) return { follow: false, why: 'no transferee or target in the event' };
  return { follow: true, transferee, target, destType };
}

/**
 * Whose channel it is, from its name alone, as the dialplan's itd-bitrix-operator works it out:
 * the exten of a Local channel (`Local/102@from-internal-xfer-0000001a;1`, what `*2` dials), else
 * the device of a phone's channel (`PJSIP/102-0000000b`, `SIP/…`, `IAX2/…`), which the caller maps
 * to its user (AstDB DEVICE/<device>/user).
 */
export function channelOwner(name: string): { extension: string } | { device: string } | null {
  const slash = name.indexOf('/');
  if (slash <= 0) return null;
  const tech = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  if (tech === 'Local') {
    const exten = rest.split('@')[0];
    // `_attended@transfer`: the Local pair Asterisk links two bridges with, nobody's channel.
    return EXTENSION.test(exten) && !exten.startsWith('_') ? { extension: exten } : null;
  }
  const dash = rest.lastIndexOf('-');
  const device = dash > 0 ? rest.slice(0, dash) : rest;
  return EXTENSION.test(device) ? { device } : null;
}
