// Cards while the phones ring: the decisions of service/live-cards.ts on a scripted clock (who gets
// the card, who has it hidden, in how many flushes), without a PBX or Bitrix24.
import { expect } from 'chai';
import { CardBatch, LiveCards, SendOutcome, Timers } from '../../agi-src/service/live-cards';

/** Timers on a clock the test moves. */
class Clock implements Timers {
  now = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  set(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.due.set(id, { at: this.now + ms, fn });
    return id;
  }
  clear(handle: unknown): void {
    this.due.delete(handle as number);
  }
  get pending(): number {
    return this.due.size;
  }
  /** Moves the clock, firing what falls due in order; lets the sends settle after each. */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      const next = [...this.due.entries()].sort((a, b) => a[1].at - b[1].at)[0];
      if (!next || next[1].at > until) break;
      this.due.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
      await settle();
    }
    this.now = until;
    await settle();
  }
}

const settle = () => new Promise((r) => setImmediate(r));

function setup(outcome: (b: CardBatch) => SendOutcome = () => 'sent') {
  const clock = new Clock();
  const sent: CardBatch[] = [];
  const cards = new LiveCards({
    send: async (b) => {
      sent.push({ ...b, show: [...b.show].sort(), hide: [...b.hide].sort() });
      return outcome(b);
    },
    now: () => clock.now,
    timers: clock,
    windowMs: 300,
    unregisteredRetryMs: 1000,
  });
  return { clock, sent, cards };
}

const C = 'call-1';
const ID = '12345';

describe('live cards: ringing cards per call (live-cards.ts)', () => {
  it('ring-all: every member in one show, the others hidden in one request at the answer, nothing at the end', async () => {
    const { clock, sent, cards } = setup();
    cards.ring(C, ID, 'PJSIP/101-1', '101');
    cards.ring(C, ID, 'PJSIP/102-2', '102');
    cards.ring(C, ID, 'PJSIP/103-3', '103');
    await clock.advance(300);
    expect(sent).to.deep.equal([{ uniqueid: C, callId: ID, show: ['101', '102', '103'], hide: [] }]);
    await clock.advance(3000);
    // Asterisk hangs up the others before U() runs on the answerer.
    cards.ringEnd(C, 'PJSIP/101-1', '101');
    cards.ringEnd(C, 'PJSIP/103-3', '103');
    expect(cards.answered(C, '102'), 'the answerer has the card already').to.equal(true);
    await clock.advance(0);
    expect(sent[1]).to.deep.equal({ uniqueid: C, callId: ID, show: [], hide: ['101', '103'] });
    await clock.advance(60_000);
    cards.ringEnd(C, 'PJSIP/102-2', '102'); // the answerer's leg at the end of the call
    await clock.advance(1000);
    expect(sent, 'two requests for the whole call').to.have.length(2);
    expect(cards.size, 'forgotten at the end').to.equal(0);
    expect(clock.pending).to.equal(0);
  });

  it('hunt: the next member is shown and the previous one hidden in the same flush', async () => {
    const { clock, sent, cards } = setup();
    cards.ring(C, ID, 'PJSIP/101-1', '101');
    await clock.advance(15_000);
    cards.ringEnd(C, 'PJSIP/101-1', '101');
    cards.ring(C, ID, 'PJSIP/102-2', '102');
    await clock.advance(300);
    expect(sent).to.deep.equal([
      { uniqueid: C, callId: ID, show: ['101'], hide: [] },
      { uniqueid: C, callId: ID, show: ['102'], hide: ['101'] },
    ]);
    cards.ringEnd(C, 'PJSIP/102-2', '102'); // the caller hung up
    await clock.advance(300);
    expect(sent[2]).to.deep.equal({ uniqueid: C, callId: ID, show: [], hide: ['102'] });
    expect(cards.size).to.equal(0);
  });

  it('a member that rang and stopped within the window costs nothing', async () => {
    const { clock, sent, cards } = setup();
    cards.ring(C, ID, 'PJSIP/101-1', '101');
    await clock.advance(200);
    cards.ringEnd(C, 'PJSIP/101-1', '101');
    await clock.advance(1000);
    expect(sent).to.deep.equal([]);
    expect(cards.size).to.equal(0);
  });

  it('an answer within the window: no card goes out to ringing phones, the answerer is left to the show on answer', async () => {
    const { clock, sent, cards } = setup();
    cards.ring(C, ID, 'PJSIP/101-1', '101');
    cards.ring(C, ID, 'PJSIP/102-2', '102');
    await clock.advance(100);
    cards.ringEnd(C, 'PJSIP/102-2', '102');
    expect(cards.answered(C, '101')).to.equal(false);
    await clock.advance(1000);
    expect(sent).to.deep.equal([]);
  });

  it('a person with two phones: hidden only once neither rings, never for the answerer', async () => {
    const { clock, sent, cards } = setup();
    cards.ring(C, ID, 'PJSIP/101a-1', '101');
    cards.ring(C, ID, 'PJSIP/101b-2', '101');
    cards.ring(C, ID, 'PJSIP/102-3', '102');
    await clock.advance(300);
    expect(sent[0].show).to.deep.equal(['101', '102']);
    cards.ringEnd(C, 'PJSIP/101a-1', '101'); // one phone of 101 rejected, the other still rings
    await clock.advance(300);
    expect(sent).to.have.length(1);
    cards.ringEnd(C, 'PJSIP/102-3', '102');
    expect(cards.answered(C, '101')).to.equal(true);
    await clock.advance(0);
    expect(sent[1].hide).to.deep.equal(['102']);
  });

  it('a ring before the call is registered: the show waits for the CALL_ID, then goes', async () => {
    let registered = false;
    const { clock, sent, cards } = setup(() => (registered ? 'sent' : 'unregistered'));
    cards.ring(C, '', 'PJSIP/101-1', '101');
    await clock.advance(300);
    expect(sent).to.have.length(1);
    registered = true;
    await clock.advance(1000);
    expect(sent.map((b) => b.show)).to.deep.equal([['101'], ['101']]);
    expect(cards.answered(C, '101'), 'confirmed by the second send').to.equal(true);
  });

  it('a ring of a call not registered that stops ringing: the held show is dropped', async () => {
    const { clock, sent, cards } = setup(() => 'unregistered');
    cards.ring(C, '', 'PJSIP/101-1', '101');
    await clock.advance(300);
    cards.ringEnd(C, 'PJSIP/101-1', '101');
    await clock.advance(10_000);
    expect(sent).to.have.length(1);
    expect(cards.size).to.equal(0);
    expect(clock.pending).to.equal(0);
  });

  it('a show that failed is not taken for a card the answerer has', async () => {
    const { clock, cards } = setup(() => 'failed');
    cards.ring(C, ID, 'PJSIP/101-1', '101');
    await clock.advance(300);
    expect(cards.answered(C, '101')).to.equal(false);
  });

  it('after the answer, phones rung later get no card; ring-ends of unknown calls are ignored', async () => {
    const { clock, sent, cards } = setup();
    cards.ring(C, ID, 'PJSIP/101-1', '101');
    await clock.advance(300);
    cards.answered(C, '101');
    cards.ring(C, ID, 'PJSIP/104-9', '104');
    cards.ringEnd('other', 'PJSIP/105-1', '105');
    await clock.advance(1000);
    expect(sent).to.have.length(1);
  });

  it('bounded: the oldest call is forgotten beyond the limit, an idle one after its timeout', async () => {
    const clock = new Clock();
    const cards = new LiveCards({ send: async () => 'sent', now: () => clock.now, timers: clock, maxCalls: 3, idleMs: 10_000 });
    for (let i = 0; i < 5; i++) cards.ring(`c${i}`, ID, `PJSIP/10${i}-1`, `10${i}`);
    expect(cards.size).to.equal(3);
    await clock.advance(120_000);
    cards.ring('late', ID, 'PJSIP/101-2', '101');
    expect(cards.size, 'the idle ones swept').to.equal(1);
  });

  it('the call ends while hides wait: the finish carries those, nothing more is sent; shows not sent are dropped', async () => {
    let registered = true;
    const { clock, sent, cards } = setup(() => (registered ? 'sent' : 'unregistered'));
    cards.ring(C, ID, 'PJSIP/101-1', '101');
    cards.ring(C, ID, 'PJSIP/102-2', '102');
    await clock.advance(300);
    cards.ringEnd(C, 'PJSIP/101-1', '101');
    cards.ringEnd(C, 'PJSIP/102-2', '102');
    registered = false;
    cards.ring(C, '', 'PJSIP/103-3', '103');
    cards.ended(C);
    await clock.advance(5000);
    expect(sent).to.have.length(1);
    expect(cards.size).to.equal(0);
    expect(clock.pending).to.equal(0);
  });
});
