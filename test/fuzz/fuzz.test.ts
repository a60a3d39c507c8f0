// Fuzzing with a fixed seed: hostile caller IDs, DIDs, CRM names, AGI replies and Bitrix24 answers.
import { expect } from 'chai';
import * as http from 'http';
import { AddressInfo } from 'net';
import { PassThrough } from 'stream';
import { AgiChannel } from '../../agi-src/agi/channel';
import { quote } from '../../agi-src/agi/protocol';
import { BitrixClient } from '../../agi-src/bitrix/client';
import { BitrixError } from '../../agi-src/bitrix/errors';
import { MAX_NAME_CHARS, pickCrmName, sanitiseCallerName } from '../../agi-src/logic/name';
import { isListedDid, normaliseNumber } from '../../agi-src/logic/phone';
import { FakeBitrix } from '../fake-bitrix/server';
import { testSetup } from '../helpers/config';
import { parseAgiArgs, runAgiScript } from '../helpers/fake-asterisk';
import { FUZZ_SEED, hostileString, prng } from './prng';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 5000);

describe(`fuzz (seed ${FUZZ_SEED})`, function () {
  this.timeout(120_000);

  it(`${ITERATIONS} hostile values: one AGI argument each, no line breaks, names clean and short`, () => {
    const rand = prng(FUZZ_SEED);
    for (let i = 0; i < ITERATIONS; i++) {
      const s = hostileString(rand);
      const q = quote(s);
      expect(q, JSON.stringify(s)).not.to.match(/[\r\n]/);
      const words = parseAgiArgs(`SET VARIABLE CALLERID(name) ${q}`);
      expect(words, JSON.stringify(s)).to.have.length(4);
      const name = sanitiseCallerName(s);
      expect(name).not.to.match(/[\p{Cc}\p{Cf}\u2028\u2029]/u);
      expect(name, 'nothing FreePBX would read as dialplan').not.to.match(/["$\{\}\[\]|;,\\]/);
      expect(Array.from(name).length).to.be.at.most(MAX_NAME_CHARS);
      expect(name).to.equal(name.trim());
      const n = normaliseNumber(s, '7');
      if (n) expect(n.forBitrix).to.match(/^\+?\d{1,32}$/);
      expect(() => isListedDid(s, ['74951234567', s], '7')).not.to.throw();
      expect(() => pickCrmName([{ CRM_ENTITY_TYPE: 'CONTACT', NAME: s }, s, null, 7])).not.to.throw();
    }
  });

  it(`the AGI channel survives ${ITERATIONS / 10} random replies without throwing outside its promises`, async () => {
    const rand = prng(FUZZ_SEED + 1);
    for (let i = 0; i < ITERATIONS / 10; i++) {
      const input = new PassThrough();
      const output = new PassThrough();
      output.resume();
      const channel = new AgiChannel({ input, output });
      input.write(`agi_uniqueid: ${hostileString(rand, 10)}\n\n`);
      await channel.readEnvironment();
      const pending = [channel.getVariable('A'), channel.setVariable('B', hostileString(rand)), channel.getFullVariable('${C}')].map((p) =>
        p.then(
          () => 'ok',
          (e: Error) => e.name,
        ),
      );
      const replies = ['200 result=1 (x)', '510 Invalid', '511 dead', '520-usage', '520 End of proper usage.', 'HANGUP', '200 result=1 (a', 'b)', hostileString(rand, 20)];
      for (let k = 0; k < 8; k++) input.write(`${replies[Math.floor(rand() * replies.length)]}\n`);
      input.end();
      for (const r of await Promise.all(pending)) expect(['ok', 'AgiHangupError', 'AgiCommandError']).to.include(r);
    }
  });

  it('the Bitrix24 client turns any answer into a result or a BitrixError without the secret', async () => {
    const rand = prng(FUZZ_SEED + 2);
    const bodies = () => {
      const shapes = [
        () => JSON.stringify({ result: hostileString(rand) }),
        () => JSON.stringify({ error: hostileString(rand, 10), error_description: hostileString(rand) }),
        () => JSON.stringify({ error: '', error_description: 'Call is not found' }),
        () => '<html><body>502 Bad Gateway</body></html>',
        () => hostileString(rand),
        () => JSON.stringify([1, 2, 3]),
        () => JSON.stringify({ result: { result: hostileString(rand), result_error: [] } }),
        () => '',
      ];
      return shapes[Math.floor(rand() * shapes.length)]();
    };
    const statuses = [200, 400, 401, 403, 404, 429, 500, 502, 503];
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = statuses[Math.floor(rand() * statuses.length)];
        res.end(bodies());
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const secret = 'S3cr3tW3bh00kC0de';
    const client = new BitrixClient({
      credentials: { kind: 'webhook', baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/rest/1/${secret}/` },
      rateBackoffMs: 1,
    });
    for (let i = 0; i < 300; i++) {
      try {
        await client.sendAll({ a: { method: 'telephony.externalcall.finish', params: { CALL_ID: 'x' } }, b: { method: 'user.get', params: {} } }, Date.now() + 2000);
      } catch (err) {
        expect(err).to.be.instanceOf(BitrixError);
        expect((err as Error).message).not.to.contain(secret);
      }
    }
    await new Promise((r) => server.close(r));
  });

  it('40 calls through the built incoming AGI with hostile caller IDs, DIDs and CRM names', async () => {
    const rand = prng(FUZZ_SEED + 3);
    const fake = await FakeBitrix.start({ rateLimit: false });
    fake.addUser({ ID: 1, NAME: 'Default', ACTIVE: true, UF_PHONE_INNER: null });
    const t = testSetup({ webhookUrl: fake.webhookUrl, dids: ['74951234567'] });
    const secret = fake.webhookUrl.split('/')[5];
    try {
      for (let i = 0; i < 40; i++) {
        const digits = `7916${String(Math.floor(rand() * 1e7)).padStart(7, '0')}`;
        const callerid = rand() < 0.5 ? `${hostileString(rand, 4)}${digits}${hostileString(rand, 4)}`.replace(/[\r\n\0]/g, '') : hostileString(rand, 12).replace(/[\r\n\0]/g, '');
        const did = rand() < 0.7 ? '84951234567' : hostileString(rand, 8).replace(/[\r\n\0]/g, '');
        fake.addCrm({ type: rand() < 0.5 ? 'CONTACT' : 'LEAD', name: hostileString(rand, 80), phones: [`+${digits}`] });
        const r = await runAgiScript({ script: 'itd_bitrix_incoming.js', args: [did], env: { agi_uniqueid: `1700009000.${i}`, agi_callerid: callerid }, configPath: t.configPath });
        expect(r.exitCode, r.stderr).to.equal(0);
        expect(r.stderr).to.equal('');
        expect(r.rejected, 'a command Asterisk would not parse').to.deep.equal([]);
        const allowed = /^(GET FULL VARIABLE|GET VARIABLE|SET VARIABLE) "/;
        expect(r.commands.every((c) => allowed.test(c)), r.commands.join('\n')).to.equal(true);
        expect(r.commands.length).to.be.at.most(4);
        const setNames = r.commands.map((c) => parseAgiArgs(c)).filter((w) => w[0] === 'SET').map((w) => w[2]);
        expect(setNames.every((n) => ['__BITRIX_CALL_ID', 'CALLERID(name)'].includes(n))).to.equal(true);
        if (r.vars['CALLERID(name)'] !== undefined) {
          expect(Array.from(r.vars['CALLERID(name)']).length).to.be.at.most(MAX_NAME_CHARS);
          expect(r.vars['CALLERID(name)']).not.to.match(/["$\{\}\[\]|;,\\\p{Cc}]/u);
        }
        if (r.vars.__BITRIX_CALL_ID !== undefined) expect(r.vars.__BITRIX_CALL_ID).to.match(/^externalCall\.[0-9a-f]{32}\.\d+$/);
      }
      expect(t.log()).not.to.contain(secret);
    } finally {
      await fake.stop();
    }
  });
});
