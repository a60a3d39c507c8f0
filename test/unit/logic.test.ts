import { expect } from 'chai';
import { decideAnswer, InboundFacts, parseAnswerFact, showVerdict } from '../../agi-src/logic/answer';
import { decideFinish, lostCallEnd, usersToHide } from '../../agi-src/logic/finish';
import { isCallId } from '../../agi-src/logic/call-id';
import { MIN_UPLINK_BYTES_PER_S, UPLOAD_FLOOR_MS, uploadBudgetMs } from '../../agi-src/logic/upload';
import { MAX_NAME_CHARS, pickCrmName, sanitiseCallerName } from '../../agi-src/logic/name';
import { didKey, isListedDid, normaliseNumber } from '../../agi-src/logic/phone';
import { agentCallerName, clickChannelId, clickEndStatus, ClickRequest, dialNumber, isStale, parseClickEvent, STALE_CLICK_MS, validExtension } from '../../agi-src/logic/click';
import { causeCode, decideOutgoingFinish, lineNumber, OutgoingEnd } from '../../agi-src/logic/outgoing';
import { pickResponsible } from '../../agi-src/logic/responsible';
import { epochMs, isoWithOffset, talkSeconds } from '../../agi-src/logic/time';

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
  it('removes control characters and newlines, collapses spaces, keeps Cyrillic', () => {
    expect(sanitiseCallerName('  Иван\n\tПетров\r\n')).to.equal('Иван Петров');
    expect(sanitiseCallerName('a\u200Bb\u2028c')).to.equal('a b c');
  });
  it('removes what FreePBX would read as dialplan when it substitutes the name: " $ { } [ ] | ; , \\', () => {
    expect(sanitiseCallerName('Ivan "The Terrible"\u0000 Petrov\\')).to.equal('Ivan The Terrible Petrov');
    expect(sanitiseCallerName('${SHELL(rm -rf /)}')).to.equal('SHELL(rm -rf /)');
    expect(sanitiseCallerName('$[1/0]|Gosub(evil,s,1);x')).to.equal('1/0 Gosub(evil s 1) x');
    expect(sanitiseCallerName('ООО "Ромашка", филиал №2')).to.equal('ООО Ромашка филиал №2');
    expect(sanitiseCallerName("O'Brien & Sons (Ltd.) <sales>")).to.equal("O'Brien & Sons (Ltd.) <sales>");
    expect(sanitiseCallerName('",$;|')).to.equal('');
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
    expect(showVerdict('103@1796208759.635', '', '103')).to.deep.equal({ verdict: 'deliver', at: 1_796_208_759_635, transferred: false });
    expect(showVerdict('103@1796208759.635', '', '101')).to.deep.equal({ verdict: 'lost', winner: '103' });
    expect(showVerdict('', '', '101')).to.deep.equal({ verdict: 'no-fact' });
  });
  it('after a transfer the card is for its target, with the first answer\'s time; the transferring operator gets none', () => {
    expect(showVerdict('101@1796208759.635', '102@1796208790.100', '102')).to.deep.equal({ verdict: 'deliver', at: 1_796_208_759_635, transferred: true });
    expect(showVerdict('101@1796208759.635', '102@1796208790.100', '101')).to.deep.equal({ verdict: 'lost', winner: '102' });
    expect(showVerdict('101@1796208759.635', 'garbage', '101'), 'an unreadable last fact changes nothing').to.deep.equal({ verdict: 'deliver', at: 1_796_208_759_635, transferred: false });
  });
  it('hangup after a transfer: the last operator, talk time from the first answer', () => {
    expect(decideAnswer(facts({ answerFact: '101@1796208759.635', lastOperatorFact: '103@1796208790.001' }))).to.deep.equal({ extension: '103', at: 1_796_208_759_635, source: 'hook' });
    expect(decideAnswer(facts({ answerFact: '101@1796208759.635', lastOperatorFact: '' }))).to.deep.equal({ extension: '101', at: 1_796_208_759_635, source: 'hook' });
    expect(decideAnswer(facts({ answerFact: '', lastOperatorFact: '103@1796208790.001' })), 'no answer fact: not answered by a hook').to.equal(null);
  });
});

describe('outgoing call finish', () => {
  const end = (o: Partial<OutgoingEnd>): OutgoingEnd => ({ answeredAt: null, hungUpAt: 1_000_000, dialStatus: '', cause: null, answeredTimeMs: null, ...o });
  it('answered: 200 and talk time from the trunk answer, by the caller', () => {
    expect(decideOutgoingFinish(end({ answeredAt: 900_000, hungUpAt: 962_400, dialStatus: 'ANSWER', answeredTimeMs: 70_000 }), 12)).to.deep.equal({
      userId: 12,
      duration: 62,
      statusCode: '200',
    });
  });
  it('answered without our stamp (another U() on the Dial): Asterisk\'s ANSWEREDTIME', () => {
    expect(decideOutgoingFinish(end({ dialStatus: 'ANSWER', answeredTimeMs: 12_600 }), 12)).to.deep.equal({ userId: 12, duration: 13, statusCode: '200' });
  });
  it('maps the last trunk\'s DIALSTATUS and cause; never talk time when unanswered', () => {
    const cases: Array<[string, number | null, string]> = [
      ['BUSY', 17, '486'],
      ['NOANSWER', 19, '304'],
      ['CANCEL', 16, '603-S'],
      ['', null, '603-S'],
      ['CHANUNAVAIL', 1, '404'],
      ['CONGESTION', 3, '404'],
      ['CONGESTION', 28, '484'],
      ['CHANUNAVAIL', 34, '503'],
      ['CONGESTION', null, '503'],
      ['DONTCALL', null, 'OTHER'],
      ['TORTURE', null, 'OTHER'],
      ['INVALIDARGS', null, 'OTHER'],
    ];
    for (const [status, cause, code] of cases) {
      expect(decideOutgoingFinish(end({ dialStatus: status, cause, answeredTimeMs: 5000 }), 7), `${status}/${cause}`).to.deep.equal({
        userId: 7,
        duration: 0,
        statusCode: code,
      });
    }
  });
  it('reads the dialplan\'s stamps and causes strictly', () => {
    expect(epochMs('1767096000.250')).to.equal(1767096000250);
    expect(epochMs('1767096000')).to.equal(1767096000000);
    for (const bad of ['', ' ', 'x', '12', '1767096000.', '-1767096000.5']) expect(epochMs(bad), bad).to.equal(null);
    expect(causeCode('16')).to.equal(16);
    expect(causeCode('')).to.equal(null);
    expect(causeCode('SIP 486')).to.equal(null);
  });
  it('LINE_NUMBER: the route name, printable, at most 50 characters', () => {
    expect(lineNumber(' Main ')).to.equal('Main');
    expect(lineNumber('a\u0000b\nc')).to.equal('a b c');
    expect(Array.from(lineNumber('Маршрут'.repeat(20)))).to.have.length(50);
  });
});

describe('click-to-call decisions', () => {
  const event = (data: Record<string, unknown>, over: Record<string, unknown> = {}) => ({
    ID: '7',
    TIMESTAMP_X: '2026-12-02T14:00:00+03:00',
    EVENT_NAME: 'ONEXTERNALCALLSTART',
    EVENT_DATA: data,
    EVENT_ADDITIONAL: { user_id: '12' },
    MESSAGE_ID: 'm',
    ...over,
  });
  const data = { PHONE_NUMBER: '8 (916) 123-45-67', PHONE_NUMBER_INTERNATIONAL: '+79161234567', USER_ID: '12', CALL_ID: 'externalCall.abc123.1796210900', LINE_NUMBER: '', CALL_LIST_ID: '0' };

  it('reads an OnExternalCallStart from the offline queue (strings on the wire)', () => {
    expect(parseClickEvent(event(data))).to.deep.equal({
      callId: 'externalCall.abc123.1796210900',
      userId: 12,
      phone: '8 (916) 123-45-67',
      phoneInternational: '+79161234567',
      line: '',
      queuedAt: Date.parse('2026-12-02T11:00:00Z'),
    });
    expect(parseClickEvent(event({ data }))?.callId, 'wrapped in data').to.equal('externalCall.abc123.1796210900');
  });
  it('refuses what it cannot finish or dial for: other events, no CALL_ID, no user', () => {
    expect(parseClickEvent(event(data, { EVENT_NAME: 'ONCRMLEADADD' }))).to.equal(null);
    expect(parseClickEvent(event({ ...data, CALL_ID: '' }))).to.equal(null);
    expect(parseClickEvent(event({ ...data, CALL_ID: 'a b\r\nAction: x' }))).to.equal(null);
    expect(parseClickEvent(event({ ...data, USER_ID: '0' }))).to.equal(null);
    expect(parseClickEvent(null)).to.equal(null);
    expect(parseClickEvent(event(data, { TIMESTAMP_X: {} }))?.queuedAt, 'an unreadable time: not stale').to.equal(null);
  });
  it('a click queued over a minute ago is not dialled', () => {
    const c = parseClickEvent(event(data)) as ClickRequest;
    expect(isStale(c, (c.queuedAt as number) + STALE_CLICK_MS)).to.equal(false);
    expect(isStale(c, (c.queuedAt as number) + STALE_CLICK_MS + 1)).to.equal(true);
    expect(isStale({ ...c, queuedAt: null }, Date.now())).to.equal(false);
  });
  it('dials the E.164 form through the first rewrite rule that fits', () => {
    const rules = [
      { prefix: '+7', replace: '8' },
      { prefix: '+', replace: '810' },
    ];
    expect(dialNumber({ phone: '8 (916) 123-45-67', phoneInternational: '+79161234567' }, rules)).to.equal('89161234567');
    expect(dialNumber({ phone: '+1 415 555 0123', phoneInternational: '+14155550123' }, rules)).to.equal('81014155550123');
    expect(dialNumber({ phone: '+79161234567', phoneInternational: '+79161234567' }, [])).to.equal('+79161234567');
    expect(dialNumber({ phone: '101', phoneInternational: '' }, rules), 'an internal number as clicked').to.equal('101');
    expect(dialNumber({ phone: '8 800 100-00-00 доб. 5', phoneInternational: '' }, [])).to.equal('880010000005');
  });
  it('leaves nothing that could break the AMI action or the dial string', () => {
    expect(dialNumber({ phone: 'abc', phoneInternational: '' }, [])).to.equal(null);
    expect(dialNumber({ phone: '123\r\nAction: Command', phoneInternational: '' }, [])).to.equal('123');
    expect(dialNumber({ phone: '1'.repeat(40), phoneInternational: '' }, [])).to.equal(null);
    expect(validExtension('101')).to.equal('101');
    for (const bad of ['', null, '10 1', '101@from-internal', '101/n', '*65', 'x']) expect(validExtension(bad), String(bad)).to.equal(null);
    expect(agentCallerName('+79161234567')).to.equal('Bitrix24 +79161234567');
    expect(agentCallerName('"<x>"\r\n')).to.equal('Bitrix24 x');
  });
  it('names the originated channel with a uniqueid of its own, short enough for the CDR', () => {
    const id = clickChannelId(1796210900123, 'a1b2c3d4e5f6');
    expect(id).to.equal('1796210900.c2ca1b2c3d4e5f6');
    expect(id.length).to.be.at.most(32);
    expect(clickChannelId(1796210900123, 'zz;\n')).to.equal('1796210900.c2c');
  });
  it('a click that never became a call: 304 when the agent did not answer, else 603-S', () => {
    expect(clickEndStatus('agent-no-answer')).to.equal('304');
    expect(clickEndStatus('not-placed')).to.equal('603-S');
    expect(clickEndStatus('not-dialled')).to.equal('603-S');
  });
});

describe('recording upload budget', () => {
  it('a floor for a small file, then time in proportion to the size at the slowest planned uplink', () => {
    expect(uploadBudgetMs(0)).to.equal(UPLOAD_FLOOR_MS);
    expect(uploadBudgetMs(MIN_UPLINK_BYTES_PER_S)).to.equal(UPLOAD_FLOOR_MS + 1000);
    // One hour of 8 kHz 16-bit WAV (57.6 MB): an hour and 20 s at 128 kbit/s.
    expect(uploadBudgetMs(57_600_000)).to.equal(UPLOAD_FLOOR_MS + 3600_000);
  });
});

describe('Bitrix24 CALL_ID', () => {
  it('accepts the shape the portal makes: externalCall.<md5>.<unix time>', () => {
    expect(isCallId('externalCall.9b1e2c3d4f5a6b7c8d9e0f1a2b3c4d5e.1767096000')).to.equal(true);
    expect(isCallId('externalCall.9B1E2C3D4F5A6B7C8D9E0F1A2B3C4D5E.1767096000')).to.equal(true);
    expect(isCallId('externalCall.00000000000000000000000000000000.999999999')).to.equal(true);
  });
  it('refuses anything else', () => {
    for (const bad of [
      '',
      'externalCall.',
      'externalCall.9b1e2c3d4f5a6b7c8d9e0f1a2b3c4d5e',
      'externalCall.9b1e2c3d4f5a6b7c8d9e0f1a2b3c4d5.1767096000',
      'externalCall.9b1e2c3d4f5a6b7c8d9e0f1a2b3c4d5e.1767096000;Set(x=1)',
      'externalCall.9b1e2c3d4f5a6b7c8d9e0f1a2b3c4d5e.1767096000\nHANGUP',
      'externalcall.9b1e2c3d4f5a6b7c8d9e0f1a2b3c4d5e.1767096000',
      'externalCall.zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz.1767096000',
      'externalCall.9b1e2c3d4f5a6b7c8d9e0f1a2b3c4d5e.1767096000000000',
      '${EVIL}',
    ]) {
      expect(isCallId(bad), JSON.stringify(bad)).to.equal(false);
    }
    expect(isCallId(12345)).to.equal(false);
  });
});
