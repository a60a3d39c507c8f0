import { expect } from 'chai';
import { decideFinish, lostCallEnd, usersToHide } from '../../agi-src/logic/finish';
import { MAX_NAME_CHARS, pickCrmName, sanitiseCallerName } from '../../agi-src/logic/name';
import { didKey, isListedDid, normaliseNumber } from '../../agi-src/logic/phone';
import { pickResponsible } from '../../agi-src/logic/responsible';
import { isoWithOffset, talkSeconds } from '../../agi-src/logic/time';

describe('caller number normalisation (countryCode 7)', () => {
  const n = (raw: string | undefined) => normaliseNumber(raw, '7')?.forBitrix ?? null;
  it('turns the Russian spellings of one number into +7…', () => {
    expect(n('+7 (495) 123-45-67')).to.equal('+74951234567');
    expect(n('84951234567')).to.equal('+74951234567');
    expect(n('74951234567')).to.equal('+74951234567');
    expect(n('4951234567')).to.equal('+74951234567');
    expect(n('0074951234567')).to.equal('+74951234567');
  });
  it('keeps other international numbers international and short numbers as digits', () => {
    expect(n('+14155550123')).to.equal('+14155550123');
    expect(n('0014155550123')).to.equal('+14155550123');
    expect(n('101')).to.equal('101');
    expect(n('123456')).to.equal('123456');
  });
  it('treats unknown, empty and digit-less caller IDs as anonymous', () => {
    for (const raw of [undefined, '', 'unknown', 'anonymous', 'Restricted', '  ', '+']) expect(n(raw)).to.equal(null);
  });
  it('drops letters but keeps the digits; caps absurd lengths', () => {
    expect(n('tel:8(495)123-45-67;ext')).to.equal('+74951234567');
    expect(normaliseNumber('1'.repeat(40), '7')?.digits).to.have.length(32);
  });
  it('does not rewrite national prefixes for other countries', () => {
    expect(normaliseNumber('84951234567', '375')?.forBitrix).to.equal('84951234567');
    expect(normaliseNumber('375291234567', '375')?.forBitrix).to.equal('+375291234567');
  });
});

describe('DID matching', () => {
  it('matches +7…, 8… and 7… spellings of one DID', () => {
    expect(didKey('+74951234567', '7')).to.equal(didKey('84951234567', '7'));
    expect(isListedDid('84951234567', ['+74951234567'], '7')).to.equal(true);
    expect(isListedDid('74951234567', ['84951234567'], '7')).to.equal(true);
  });
  it('does not match other DIDs or empty ones', () => {
    expect(isListedDid('74951234568', ['74951234567'], '7')).to.equal(false);
    expect(isListedDid('', ['74951234567'], '7')).to.equal(false);
    expect(isListedDid(undefined, ['74951234567'], '7')).to.equal(false);
  });
});

describe('caller name', () => {
  it('removes control characters and newlines, collapses spaces, keeps Cyrillic and quotes', () => {
    expect(sanitiseCallerName('  Иван\n\tПетров\r\n')).to.equal('Иван Петров');
    expect(sanitiseCallerName('Ivan "The Terrible"\u0000 Petrov\\')).to.equal('Ivan "The Terrible" Petrov\\');
    expect(sanitiseCallerName('a\u200Bb\u2028c')).to.equal('a b c');
  });
  it(`cuts at ${MAX_NAME_CHARS} characters without splitting an emoji`, () => {
    const name = sanitiseCallerName('😀'.repeat(300));
    expect(Array.from(name)).to.have.length(MAX_NAME_CHARS);
    expect(name).to.equal('😀'.repeat(MAX_NAME_CHARS));
    expect(Array.from(sanitiseCallerName('Я'.repeat(300)))).to.have.length(MAX_NAME_CHARS);
  });
  it('prefers contact, then company, then lead', () => {
    const found = [
      { CRM_ENTITY_TYPE: 'LEAD', NAME: 'Lead' },
      { CRM_ENTITY_TYPE: 'COMPANY', NAME: 'ООО Ромашка' },
      { CRM_ENTITY_TYPE: 'CONTACT', NAME: 'Иван Петров' },
    ];
    expect(pickCrmName(found)).to.equal('Иван Петров');
    expect(pickCrmName(found.slice(0, 2))).to.equal('ООО Ромашка');
    expect(pickCrmName(found.slice(0, 1))).to.equal('Lead');
    expect(pickCrmName([])).to.equal('');
    expect(pickCrmName({})).to.equal('');
    expect(pickCrmName([{ CRM_ENTITY_TYPE: 'CONTACT' }, { CRM_ENTITY_TYPE: 'LEAD', NAME: 'L' }])).to.equal('L');
  });
});

describe('responsible manager', () => {
  const by = (id: string | null, ext: string | null, status: string | null = 'OPENED', phones: Record<string, string | null> = {}) => ({
    ID: id, TIMEMAN_STATUS: status, USER_PHONE_INNER: ext, WORK_PHONE: null, PERSONAL_PHONE: null, PERSONAL_MOBILE: null, ...phones,
  });
  const entity = (type: string, id: number, assigned: ReturnType<typeof by>) => ({ CRM_ENTITY_TYPE: type, CRM_ENTITY_ID: id, ASSIGNED_BY_ID: Number(assigned.ID), NAME: 'x', ASSIGNED_BY: assigned });
  const opts = { defaultUserId: 1, callerDigits: '79161234567', countryCode: '7' };
  const pick = (entities: unknown, o = opts) => pickResponsible(entities, o);

  it('the contact’s manager wins over the company’s and the lead’s, whatever order Bitrix24 sends them in', () => {
    const answer = [entity('LEAD', 311, by('15', '102')), entity('COMPANY', 643, by('17', '103')), entity('CONTACT', 651, by('12', '101', 'CLOSED'))];
    expect(pick(answer)).to.deep.equal({ responsible: { extension: '101', workStatus: 'CLOSED', userId: 12, entity: 'CONTACT 651' } });
    expect(pick(answer.slice(0, 2))).to.deep.include({ responsible: { extension: '103', workStatus: 'OPENED', userId: 17, entity: 'COMPANY 643' } });
    expect(pick(answer.slice(0, 1))).to.deep.include({ responsible: { extension: '102', workStatus: 'OPENED', userId: 15, entity: 'LEAD 311' } });
  });
  it('within a type, the first in Bitrix24’s order', () => {
    expect(pick([entity('CONTACT', 9, by('15', '102')), entity('CONTACT', 3, by('12', '101'))])).to.have.nested.property('responsible.extension', '102');
  });
  it('skips an entity owned by the default user, without an extension or without a user, and takes the next', () => {
    const answer = [entity('CONTACT', 1, by('1', '100')), entity('CONTACT', 2, by('12', null)), entity('CONTACT', 3, by(null, null, null)), entity('COMPANY', 4, by('15', '102'))];
    expect(pick(answer)).to.have.nested.property('responsible.userId', 15);
    expect(pick(answer.slice(0, 3))).to.deep.equal({ none: 'no entity has a responsible with an extension other than the default user' });
  });
  it('no entity at all, or not an answer: nobody', () => {
    expect(pick([])).to.deep.equal({ none: 'the number is not in the CRM' });
    expect(pick(undefined)).to.deep.equal({ none: 'the number is not in the CRM' });
    expect(pick({ error: 'x' })).to.deep.equal({ none: 'the number is not in the CRM' });
  });
  it('a caller whose number is one of a responsible’s own phones is an employee: nobody, whichever entity it is on', () => {
    const own = [entity('CONTACT', 651, by('15', '102')), entity('LEAD', 7, by('12', '101', 'OPENED', { PERSONAL_MOBILE: '8 (916) 123-45-67' }))];
    expect(pick(own)).to.deep.equal({ none: 'the caller is an employee (user 12)' });
    expect(pick([entity('CONTACT', 1, by('12', '101', 'OPENED', { WORK_PHONE: '+7 916 123 45 67' }))])).to.have.property('none');
    expect(pick([entity('CONTACT', 1, by('12', '101'))], { ...opts, callerDigits: '101' })).to.have.property('none');
    expect(pick([entity('CONTACT', 1, by('12', '101', 'OPENED', { PERSONAL_MOBILE: '+7 916 000 00 00' }))])).to.have.property('responsible');
  });
  it('only digits leave as the extension, only a status word as the work status', () => {
    expect(pick([entity('CONTACT', 1, by('12', '101&PJSIP/evil'))])).to.have.property('none');
    expect(pick([entity('CONTACT', 1, by('12', ' 101 ', 'OPENED}${X'))])).to.deep.equal({ responsible: { extension: '101', workStatus: '', userId: 12, entity: 'CONTACT 1' } });
    const numeric = [{ CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: '5', ASSIGNED_BY_ID: '12', ASSIGNED_BY: { ID: '12', USER_PHONE_INNER: 101, TIMEMAN_STATUS: 'NOT_INSTALLED' } }];
    expect(pick(numeric)).to.deep.equal({ responsible: { extension: '101', workStatus: 'NOT_INSTALLED', userId: 12, entity: 'CONTACT 5' } });
  });
});

describe('finish decision', () => {
  it('answered: the operator finishes with 200 and the talk time', () => {
    expect(decideFinish({ answeredAt: 10_000, hungUpAt: 93_400, operatorUserId: 12 }, 1)).to.deep.equal({
      userId: 12,
      duration: 83,
      statusCode: '200',
    });
  });
  it('answered by an extension without a Bitrix24 user: the default user, real duration', () => {
    expect(decideFinish({ answeredAt: 0 + 1, hungUpAt: 61_001, operatorUserId: null }, 7)).to.deep.equal({
      userId: 7,
      duration: 61,
      statusCode: '200',
    });
  });
  it('not answered: the default user, 304, duration 0', () => {
    expect(decideFinish({ answeredAt: null, hungUpAt: 50_000, operatorUserId: null }, 3)).to.deep.equal({
      userId: 3,
      duration: 0,
      statusCode: '304',
    });
  });
  it('a clock that jumped back never gives a negative duration', () => {
    expect(talkSeconds(100_000, 40_000)).to.equal(0);
  });
  it('hides the card for everyone shown except the finishing user, once each', () => {
    expect(usersToHide([12, 15, 12, 20], 12)).to.deep.equal([15, 20]);
  });
  it('a call the PBX lost ends at the last thing known of it', () => {
    const now = 100_000_000;
    expect(lostCallEnd({ startedAt: 1000, answeredAt: null, recordingWrittenAt: 9000 }, now), 'not answered: no talk time').to.equal(1000);
    expect(lostCallEnd({ startedAt: 1000, answeredAt: 5000, recordingWrittenAt: null }, now), 'no recording: talk time unknown').to.equal(5000);
    expect(lostCallEnd({ startedAt: 1000, answeredAt: 5000, recordingWrittenAt: 95_000 }, now)).to.equal(95_000);
    expect(lostCallEnd({ startedAt: 1000, answeredAt: 5000, recordingWrittenAt: 4000 }, now), 'an older file is not this call').to.equal(5000);
    expect(lostCallEnd({ startedAt: 1000, answeredAt: 5000, recordingWrittenAt: now + 5000 }, now), 'never in the future').to.equal(now);
  });
});

describe('dates', () => {
  it('writes ISO-8601 with the local offset', () => {
    const s = isoWithOffset(Date.UTC(2025, 11, 30, 11, 0, 0));
    expect(s).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    expect(new Date(s).getTime()).to.equal(Date.UTC(2025, 11, 30, 11, 0, 0));
  });
});
