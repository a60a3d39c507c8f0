// The resident service's coalescing front: against the strict fake Bitrix24 over real HTTP, with
// a scripted rate limiter.
import { expect } from 'chai';
import type { RequestPriority } from '../../agi-src/bitrix/client';
import { BitrixClient } from '../../agi-src/bitrix/client';
import { CoalescingClient, RequestLimiter } from '../../agi-src/bitrix/coalesce';
import { BitrixError } from '../../agi-src/bitrix/errors';
import { FakeBitrix, seedDemo } from '../fake-bitrix/server';
import { rejects } from '../helpers/assert';

/** Slots as the test says: `waits` is consulted for each take (0 = admitted). */
function limiter(waits: (priority: RequestPriority, n: number) => number, paused: Record<string, number> = {}): RequestLimiter & { takes: RequestPriority[] } {
  const takes: RequestPriority[] = [];
  return {
    takes,
    ratePerSec: 2,
    take: async (p) => waits(p, takes.push(p) - 1),
    pausedUntil: (m) => paused[m] ?? 0,
    pauseMethod: (m, until) => (paused[m] = until),
  };
}

const userGet = (ext: string) => ({ method: 'user.get', params: { FILTER: { UF_PHONE_INNER: ext, ACTIVE: true }, select: ['ID'] } });
const ids = (r: unknown) => (r as Array<{ ID: string }>).map((u) => Number(u.ID));

describe('coalescing client (resident service)', () => {
  let fake: FakeBitrix;
  let inner: BitrixClient;

  beforeEach(async () => {
    fake = await FakeBitrix.start({ rateLimit: false });
    seedDemo(fake);
    inner = new BitrixClient({ credentials: { kind: 'webhook', baseUrl: fake.webhookUrl } });
  });
  afterEach(() => fake.stop());

  it('a request that finds a slot goes alone, as the plain method an AGI process would send', async () => {
    const front = new CoalescingClient(inner, limiter(() => 0)).as('call-path');
    const r = await front.call(userGet('101').method, userGet('101').params, Date.now() + 2000);
    expect(ids(r)).to.deep.equal([12]);
    expect(fake.requests.map((q) => q.method)).to.deep.equal(['user.get']);
  });

  it('requests waiting for a slot leave together as one batch; each caller gets its own answer or refusal', async () => {
    const lim = limiter((_p, n) => (n === 0 ? 150 : 0));
    const c = new CoalescingClient(inner, lim);
    const deadline = Date.now() + 3000;
    const a = c.as('call-path').call(userGet('101').method, userGet('101').params, deadline);
    const b = c.as('call-path').sendAll({ u: userGet('102'), s: { method: 'telephony.externalCall.searchCrmEntities', params: { PHONE_NUMBER: '+79161234567' } } }, deadline);
    const refused = c.as('background').call('telephony.externalcall.finish', { CALL_ID: 'externalCall.nope', USER_ID: 1 }, deadline);
    const refusedAll = c.as('background').sendAll({ f: { method: 'telephony.externalcall.finish', params: { CALL_ID: 'externalCall.nope2', USER_ID: 1 } } }, deadline);
    expect(ids(await a)).to.deep.equal([12]);
    const rb = await b;
    expect(ids(rb.result.u)).to.deep.equal([15]);
    expect(rb.result.s).to.be.an('array').with.length(1);
    const e = await rejects(refused, BitrixError);
    expect(e.isCallNotFound).to.equal(true);
    const ra = await refusedAll;
    expect(ra.errors.f?.isCallNotFound, 'a refusal of a one-command sendAll comes back in errors').to.equal(true);
    expect(fake.httpRequestCount(), 'one HTTP request for four callers').to.equal(1);
    expect(fake.requests[0].method).to.equal('batch');
    expect(fake.requests[0].subcalls!.map((s) => s.method)).to.deep.equal([
      'user.get',
      'user.get',
      'telephony.externalcall.searchcrmentities',
      'telephony.externalcall.finish',
      'telephony.externalcall.finish',
    ]);
  });

  it('background work waiting for its lower threshold leaves with the next call-path request', async () => {
    const lim = limiter((p) => (p === 'background' ? 5000 : 0));
    const c = new CoalescingClient(inner, lim);
    const bg = c.as('background').call('user.current', {}, Date.now() + 8000);
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.requests).to.have.length(0);
    const cp = c.as('call-path').call(userGet('101').method, userGet('101').params, Date.now() + 2000);
    await Promise.all([bg, cp]);
    expect(fake.httpRequestCount()).to.equal(1);
    expect(fake.requests[0].subcalls!.map((s) => s.method)).to.deep.equal(['user.get', 'user.current']);
  });

  it('a request that gets no slot before its deadline is never sent; a paused method fails at once', async () => {
    const c = new CoalescingClient(inner, limiter(() => 1000, { 'telephony.externalcall.show': Date.now() + 60_000 }));
    const late = await rejects(c.as('call-path').call('user.current', {}, Date.now() + 200), BitrixError);
    expect(late).to.include({ kind: 'rate', code: 'LOCAL_RATE_LIMIT' });
    const paused = await rejects(c.as('call-path').call('telephony.externalcall.show', { CALL_ID: 'x', USER_ID: 12 }, Date.now() + 2000), BitrixError);
    expect(paused).to.include({ kind: 'rate', code: 'OPERATION_TIME_LIMIT' });
    expect(fake.requests).to.have.length(0);
  });

  it('no batch carries more than 50 commands; a large job goes alone', async () => {
    const lim = limiter((_p, n) => (n === 0 ? 150 : 0));
    const c = new CoalescingClient(inner, lim, { maxInFlight: 1 });
    const deadline = Date.now() + 5000;
    const small = Array.from({ length: 60 }, () => c.as('background').call('user.current', {}, deadline));
    const big = c.as('background').call('user.get', { FILTER: { NAME: 'x'.repeat(40_000) } }, deadline);
    await Promise.all([...small, big]);
    const sizes = fake.requests.map((q) => (q.method === 'batch' ? q.subcalls!.length : 1));
    expect(Math.max(...sizes)).to.be.at.most(50);
    expect(sizes.reduce((a, b) => a + b, 0)).to.equal(61);
    expect(fake.requests.some((q) => q.method === 'user.get'), 'the large one as a plain request').to.equal(true);
  });
});
