// What an AttendedTransfer says about who has the customer now, and whose channel a channel is:
// plain decisions, on events as the strict fake AMI writes them (main/stasis_bridges.c).
import { expect } from 'chai';
import type { AmiMessage } from '../../agi-src/ami/message';
import { AmiClient } from '../../agi-src/ami/client';
import { Logger } from '../../agi-src/log/logger';
import { attendedMove, channelOwner } from '../../agi-src/logic/transfer';
import { waitFor } from '../helpers/calls';
import { AttendedTransferEvent, ChannelSnapshot, FakeAmi } from '../helpers/fake-ami';

const chan = (channel: string, uniqueid: string, linkedid = '1796300000.1'): ChannelSnapshot => ({ channel, context: 'from-internal', exten: '102', uniqueid, linkedid });
const customer = chan('PJSIP/trunk-00000001', '1796300000.1');
const target = chan('PJSIP/102-00000007', '1796300010.7', '1796300010.6');
const bridgeEvent = (over: Partial<AttendedTransferEvent> = {}): AttendedTransferEvent => ({
  result: 'Success',
  origTransferer: chan('PJSIP/101-00000002', '1796300000.2'),
  origBridge: { uniqueid: 'b-1', numChannels: 2 },
  secondTransferer: chan('PJSIP/101-00000006', '1796300010.6', '1796300010.6'),
  secondBridge: { uniqueid: 'b-2', numChannels: 2 },
  transferee: customer,
  transferTarget: target,
  isExternal: true,
  dest: { type: 'Bridge', bridgeUniqueid: 'b-1' },
  ...over,
});

describe('attended transfers as AMI reports them', function () {
  this.timeout(10_000);
  let fake: FakeAmi;
  let client: AmiClient;
  let events: AmiMessage[];

  before(async () => {
    fake = await FakeAmi.start();
    client = new AmiClient({ port: fake.port, username: 'admin', secret: 'amp111', minRetryMs: 50 }, new Logger('test'));
    client.start();
    await waitFor(() => client.connected, 3000);
  });
  after(async () => {
    client.close();
    await fake.stop();
  });
  beforeEach(() => {
    events = [];
    client.removeAllListeners('event');
    client.on('event', (m) => events.push(m));
  });
  const received = async (emit: () => void) => {
    emit();
    await waitFor(() => events.length === 1, 3000);
    return events[0];
  };

  it('DestType Bridge: the transferee (the customer) moves to the target (the consulted phone)', async () => {
    const msg = await received(() => fake.emitAttendedTransfer(bridgeEvent()));
    expect(msg).to.include({ Event: 'AttendedTransfer', Result: 'Success', DestType: 'Bridge', DestBridgeUniqueid: 'b-1', IsExternal: 'Yes', OrigBridgeUniqueid: 'b-1', SecondBridgeUniqueid: 'b-2', TransfereeLinkedid: '1796300000.1' });
    expect(attendedMove(msg)).to.deep.equal({
      follow: true,
      destType: 'Bridge',
      transferee: { channel: 'PJSIP/trunk-00000001', uniqueid: '1796300000.1', linkedid: '1796300000.1' },
      target: { channel: 'PJSIP/102-00000007', uniqueid: '1796300010.7', linkedid: '1796300010.6' },
    });
  });

  it('DestType Link: the same parties, the Local pair beside them', async () => {
    const local = (half: string) => chan(`Local/_attended@transfer-0000000a;${half}`, `1796300020.${half}`);
    const msg = await received(() => fake.emitAttendedTransfer(bridgeEvent({ dest: { type: 'Link', localOne: local('1'), localTwo: local('2') } })));
    expect(msg).to.include({ DestType: 'Link', LocalOneChannel: 'Local/_attended@transfer-0000000a;1', LocalTwoChannel: 'Local/_attended@transfer-0000000a;2' });
    expect(attendedMove(msg)).to.include({ follow: true, destType: 'Link' });
  });

  it('nothing moves on a failed transfer, a threeway call, an application as the target, or without both parties', async () => {
    for (const over of [
      { result: 'Fail' as const, dest: { type: 'Fail' as const } },
      { dest: { type: 'Threeway' as const, bridgeUniqueid: 'b-1', transfererChannel: 'PJSIP/101-00000002' } },
      { dest: { type: 'App' as const, app: 'VoiceMail' } },
      { transferTarget: undefined },
    ]) {
      events = [];
      const msg = await received(() => fake.emitAttendedTransfer(bridgeEvent(over)));
      expect(attendedMove(msg).follow, JSON.stringify(over)).to.equal(false);
    }
  });

  it('a BlindTransfer is no attended move (the dialplan follows it)', async () => {
    const msg = await received(() =>
      fake.emitBlindTransfer({ result: 'Success', transferer: chan('PJSIP/101-00000002', '1796300000.2'), transferee: customer, bridge: { uniqueid: 'b-1', numChannels: 2 }, isExternal: false, context: 'from-internal-xfer', extension: '102' }),
    );
    expect(msg).to.include({ Event: 'BlindTransfer', Result: 'Success', TransfererChannel: 'PJSIP/101-00000002', TransfereeChannel: 'PJSIP/trunk-00000001', BridgeUniqueid: 'b-1', IsExternal: 'No', Context: 'from-internal-xfer', Extension: '102' });
    expect(attendedMove(msg).follow).to.equal(false);
  });
});

describe('whose channel it is', () => {
  it('a Local channel: its exten; a phone: its device', () => {
    expect(channelOwner('Local/102@from-internal-xfer-0000001a;1')).to.deep.equal({ extension: '102' });
    expect(channelOwner('PJSIP/102-0000000b')).to.deep.equal({ device: '102' });
    expect(channelOwner('SIP/mobile-101-0000000b')).to.deep.equal({ device: 'mobile-101' });
    expect(channelOwner('IAX2/103-7')).to.deep.equal({ device: '103' });
  });
  it('nothing usable: nothing', () => {
    for (const bad of ['', 'PJSIP', 'Local/_attended@transfer-0000000a;1', 'PJSIP/ab cd-1']) expect(channelOwner(bad), bad).to.equal(null);
  });
});
