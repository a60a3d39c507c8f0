// The incoming step keeps the caller's responsible manager (extension, workday status) from the
// CRM search it already makes, for the responsible-manager destination: built AGI, fake Bitrix24.
import { expect } from 'chai';
import { FakeBitrix } from '../fake-bitrix/server';
import { testSetup, TestSetup } from '../helpers/config';
import { runAgiScript } from '../helpers/fake-asterisk';

const DID = '74951234567';

describe('incoming step: the responsible manager (built AGI, fake Bitrix24)', function () {
  this.timeout(30_000);
  let fake: FakeBitrix;
  let t: TestSetup;
  let n = 0;

  beforeEach(async () => {
    fake = await FakeBitrix.start();
    fake.addUser({ ID: 1, NAME: 'Default', LAST_NAME: 'Owner', ACTIVE: true, UF_PHONE_INNER: '100' });
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101', TIMEMAN: 'OPENED', PERSONAL_MOBILE: '+7 903 111-22-33' });
    fake.addUser({ ID: 15, NAME: 'Anna', LAST_NAME: 'Smirnova', ACTIVE: true, UF_PHONE_INNER: '102', TIMEMAN: 'CLOSED' });
    fake.addCrm({ type: 'LEAD', name: 'Лид', phones: ['+79161234567'], assignedById: 15 });
    fake.addCrm({ type: 'CONTACT', name: 'Иван Петров', phones: ['+79161234567'], assignedById: 12 });
    fake.addCrm({ type: 'COMPANY', name: 'ООО Ромашка', phones: ['+74951112233'], assignedById: 15 });
    fake.addCrm({ type: 'CONTACT', name: 'Сам Себе', phones: ['+79031112233'], assignedById: 12 });
    fake.addCrm({ type: 'CONTACT', name: 'Ничей', phones: ['+74957770000'], assignedById: 1 });
    t = testSetup({ webhookUrl: fake.webhookUrl, dids: [DID], defaultUserId: 1, responsibleRouting: true });
  });
  afterEach(() => fake.stop());

  const incoming = (callerid: string) =>
    runAgiScript({ script: 'itd_bitrix_incoming.js', args: [DID], env: { agi_uniqueid: `1700000100.${++n}`, agi_callerid: callerid }, configPath: t.configPath });
  const manager = (vars: Record<string, string>) => ({ ext: vars.__BITRIX_RESP_EXT, status: vars.__BITRIX_RESP_STATUS });

  it('known contact: the contact’s manager and their workday, from the one lookup + register round trip', async () => {
    const r = await incoming('89161234567');
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.rejected).to.deep.equal([]);
    expect(manager(r.vars)).to.deep.equal({ ext: '101', status: 'OPENED' });
    expect(r.vars['CALLERID(name)']).to.equal('Иван Петров');
    expect(fake.httpRequestCount(), 'one round trip').to.equal(1);
    expect(t.log()).to.contain('responsible manager 101 (user 12, CONTACT');
  });

  it('company: its manager with a closed workday (the destination decides what that means)', async () => {
    const r = await incoming('+74951112233');
    expect(manager(r.vars)).to.deep.equal({ ext: '102', status: 'CLOSED' });
  });

  it('the name cached or not looked up: the search still goes in the same batch, the manager is fresh', async () => {
    await incoming('89161234567');
    fake.addUser({ ID: 12, NAME: 'Ivan', LAST_NAME: 'Petrov', ACTIVE: true, UF_PHONE_INNER: '101', TIMEMAN: 'PAUSED' });
    const before = fake.httpRequestCount();
    const cached = await incoming('89161234567');
    expect(fake.httpRequestCount() - before).to.equal(1);
    expect(fake.calls('telephony.externalCall.searchCrmEntities')).to.have.length(2);
    expect(manager(cached.vars)).to.deep.equal({ ext: '101', status: 'PAUSED' });
    expect(cached.vars['CALLERID(name)'], 'the name from the same answer').to.equal('Иван Петров');

    t.write({ lookupCallerName: false });
    const noName = await incoming('89161234567');
    expect(manager(noName.vars)).to.deep.equal({ ext: '101', status: 'PAUSED' });
    expect(noName.vars['CALLERID(name)']).to.equal(undefined);
  });

  it('nobody to ring: unknown number, the caller is the manager himself, the default user owns the client', async () => {
    for (const caller of ['+79990000000', '+79031112233', '84957770000']) {
      const r = await incoming(caller);
      expect(r.exitCode).to.equal(0);
      expect(manager(r.vars), caller).to.deep.equal({ ext: undefined, status: undefined });
      expect(r.vars.__BITRIX_CALL_ID, 'still registered').to.match(/^externalCall\./);
    }
    expect(t.log()).to.contain('the caller is an employee (user 12)');
    expect(t.log()).to.contain('the number is not in the CRM');
  });

  it('Bitrix24 down: no manager, the call goes on within its budget', async () => {
    fake.setDown(true);
    const r = await incoming('89161234567');
    expect(r.exitCode).to.equal(0);
    expect(manager(r.vars)).to.deep.equal({ ext: undefined, status: undefined });
  });

  it('routing off (no destination): no manager variables, and a cached name needs no search', async () => {
    t.write({ responsibleRouting: false });
    const first = await incoming('89161234567');
    expect(manager(first.vars)).to.deep.equal({ ext: undefined, status: undefined });
    await incoming('89161234567');
    expect(fake.calls('telephony.externalCall.searchCrmEntities')).to.have.length(1);
  });
});
