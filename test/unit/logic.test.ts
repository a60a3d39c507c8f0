import { expect } from 'chai';
import { decideAnswer, epochMs, InboundFacts, parseAnswerFact, showVerdict } from '../../agi-src/logic/answer';
import { decideFinish, lostCallEnd, usersToHide } from '../../agi-src/logic/finish';
import { MAX_NAME_CHARS, pickCrmName, sanitiseCallerName } from '../../agi-src/logic/name';
import { didKey, isListedDid, normaliseNumber } from '../../agi-src/logic/phone';
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

describe('answer facts (what the dialplan recorded decides; no clock of ours)', () => {
  const facts = (over: Partial<InboundFacts> = {}): InboundFacts => ({
    answerFact: '',
    dialStatus: '',
    dialOperator: '',
    answeredTimeMs: '',
    endedAt: 1_796_208_800_000,
    ...over,
  });
  it('reads STRFTIME(,,%s.%3q) times to the millisecond', () => {
    expect(epochMs('1796208763.918')).to.equal(1_796_208_763_918);
    expect(epochMs('1796208763.9')).to.equal(1_796_208_763_900);
    expect(epochMs('1796208763')).to.equal(1_796_208_763_000);
    for (const bad of ['', ' ', 'x', '-1', '1796208763.918.1', '12.5', undefined]) expect(epochMs(bad), String(bad)).to.equal(null);
  });
  it('the answer hook\'s fact: operator and time as recorded', () => {
    expect(decideAnswer(facts({ answerFact: '103@1796208759.635' }))).to.deep.equal({ extension: '103', at: 1_796_208_759_635, source: 'hook' });
  });
  it('the fact wins over Dial results (a ring-all group: DIALEDPEERNAME names the same leg, EXTTOCALL never counts)', () => {
    const a = decideAnswer(facts({ answerFact: '101@1796208797.051', dialStatus: 'ANSWER', dialOperator: '101', answeredTimeMs: '4001' }));
    expect(a).to.deep.equal({ extension: '101', at: 1_796_208_797_051, source: 'hook' });
  });
  it('no hook ran but the inbound Dial was answered: the dialled operator, ANSWEREDTIME_MS before the end', () => {
    expect(decideAnswer(facts({ dialStatus: 'ANSWER', dialOperator: '101', answeredTimeMs: '3001' }))).to.deep.equal({
      extension: '101',
      at: 1_796_208_800_000 - 3001,
      source: 'dial',
    });
    expect(decideAnswer(facts({ dialStatus: 'ANSWER', dialOperator: '101', answeredTimeMs: '' }))?.at, 'unknown talk time: none claimed').to.equal(1_796_208_800_000);
  });
  it('not answered: no fact and no answered Dial, or nothing usable', () => {
    expect(decideAnswer(facts())).to.equal(null);
    expect(decideAnswer(facts({ dialStatus: 'NOANSWER', dialOperator: '101' }))).to.equal(null);
    expect(decideAnswer(facts({ dialStatus: 'ANSWER', dialOperator: '' })), 'queue: Dial results empty').to.equal(null);
    expect(decideAnswer(facts({ answerFact: 'garbage' }))).to.equal(null);
    expect(decideAnswer(facts({ answerFact: '10 1@1796208759.635' }))).to.equal(null);
    expect(decideAnswer(facts({ answerFact: '@1796208759.635' }))).to.equal(null);
  });
  it('parses what the answer subroutine writes and nothing else', () => {
    expect(parseAnswerFact('101@1796208763.918')).to.deep.equal({ extension: '101', at: 1_796_208_763_918 });
    expect(parseAnswerFact('5551234#@1796208763.918')).to.deep.equal({ extension: '5551234#', at: 1_796_208_763_918 });
    expect(parseAnswerFact('101@')).to.equal(null);
    expect(parseAnswerFact('101')).to.equal(null);
  });
  it('the show step delivers only for the operator the fact names', () => {
    expect(showVerdict('103@1796208759.635', '103')).to.deep.equal({ verdict: 'deliver', at: 1_796_208_759_635 });
    expect(showVerdict('103@1796208759.635', '101')).to.deep.equal({ verdict: 'lost', winner: '103' });
    expect(showVerdict('', '101')).to.deep.equal({ verdict: 'no-fact' });
  });
});
