import { expect } from 'chai';
import { decideFinish, usersToHide } from '../../agi-src/logic/finish';
import { isCallId } from '../../agi-src/logic/call-id';
import { MIN_UPLINK_BYTES_PER_S, UPLOAD_FLOOR_MS, uploadBudgetMs } from '../../agi-src/logic/upload';
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
});

describe('dates', () => {
  it('writes ISO-8601 with the local offset', () => {
    const s = isoWithOffset(Date.UTC(2025, 11, 30, 11, 0, 0));
    expect(s).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    expect(new Date(s).getTime()).to.equal(Date.UTC(2025, 11, 30, 11, 0, 0));
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
