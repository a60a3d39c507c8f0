// `npm run demo`: one answered call and one missed call through the built AGI executables,
// against the bundled fake Bitrix24 on loopback, with a real SQLite file in .tmp/demo/.
import { execFileSync } from 'child_process';
import { mkdirSync, rmSync, writeFileSync } from 'fs';
import { join } from 'path';
import { FakeBitrix, seedDemo } from '../test/fake-bitrix/server';
import { AGI_BIN, runAgiScript } from '../test/helpers/fake-asterisk';
import { waitFor, wavFile } from '../test/helpers/calls';
import { endFacts, inboundFacts, recordAnswer } from '../test/helpers/facts';

const DID = '74951234567';
const dir = join(__dirname, '..', '.tmp', 'demo');

async function main(): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const fake = await FakeBitrix.start();
  seedDemo(fake);
  const configPath = join(dir, 'itd_bitrix.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      version: 1,
      enabled: true,
      webhookUrl: fake.webhookUrl,
      dids: [DID],
      defaultUserId: 1,
      databasePath: join(dir, 'itd_bitrix.sqlite'),
      logPath: join(dir, 'itd_bitrix.log'),
    }),
    { mode: 0o640 },
  );
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`fake Bitrix24 listening on ${fake.url}; config ${configPath}`);

  // 1. A known contact calls, operator 101 answers, talks, hangs up; the call was recorded. The
  // channel variables are what the module's dialplan records (test/helpers/facts.ts).
  const call = inboundFacts('1764150000.1');
  const inc = await runAgiScript({ script: 'itd_bitrix_incoming.js', args: [DID], env: { agi_uniqueid: '1764150000.1', agi_callerid: '89161234567' }, vars: call, configPath });
  const vars = { ...call, BITRIX_CALL_ID: inc.vars.__BITRIX_CALL_ID ?? '' };
  say(`incoming  89161234567 on ${DID}: CALLERID(name)="${inc.vars['CALLERID(name)'] ?? ''}", CALL_ID ${vars.BITRIX_CALL_ID} (${inc.durationMs} ms)`);
  recordAnswer(vars, '101');
  const sh = await runAgiScript({ script: 'itd_bitrix_show.js', args: ['101'], env: { agi_uniqueid: '1764150000.2' }, vars, configPath });
  await waitFor(() => fake.shows.length > 0, 10_000).catch(() => undefined);
  say(`show      operator 101 answered: step done in ${sh.durationMs} ms; card shown to user(s) ${fake.shows.map((s) => s.userIds.join(',')).join(' ')}`);
  await new Promise((r) => setTimeout(r, 2000));
  const wav = join(dir, 'in-74951234567-89161234567-1764150000.1.wav');
  writeFileSync(wav, wavFile(32_000));
  const hup = await runAgiScript({
    script: 'itd_bitrix_hangup.js',
    env: { agi_uniqueid: '1764150000.1', agi_context: 'itd-bitrix-hangup' },
    vars: endFacts({ ...vars, MIXMONITOR_FILENAME: wav }),
    dead: true,
    configPath,
  });
  say(`hangup    handler done in ${hup.durationMs} ms; waiting for the recording worker…`);
  for (let i = 0; i < 100 && fake.attachedFiles.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  const done = fake.finishedCalls.get(vars.BITRIX_CALL_ID);
  say(`finished  status ${done?.CALL_FAILED_CODE}, ${done?.CALL_DURATION} s, user ${done?.PORTAL_USER_ID}; recording ${fake.attachedFiles[0]?.filename ?? 'not attached'} (${fake.attachedFiles[0]?.data.length ?? 0} bytes)`);

  // 2. An unknown number calls and hangs up before anyone answers.
  const missedCall = inboundFacts('1764150100.1');
  const missed = await runAgiScript({
    script: 'itd_bitrix_incoming.js',
    args: [DID],
    env: { agi_uniqueid: '1764150100.1', agi_callerid: '+79990001122' },
    vars: missedCall,
    configPath,
  });
  await runAgiScript({
    script: 'itd_bitrix_hangup.js',
    env: { agi_uniqueid: '1764150100.1' },
    vars: endFacts({ ...missedCall, BITRIX_CALL_ID: missed.vars.__BITRIX_CALL_ID ?? '' }),
    dead: true,
    configPath,
  });
  const m = fake.finishedCalls.get(missed.vars.__BITRIX_CALL_ID ?? '');
  say(`missed    +79990001122: status ${m?.CALL_FAILED_CODE}, ${m?.CALL_DURATION} s, user ${m?.PORTAL_USER_ID}`);
  say(`requests  ${fake.httpRequestCount()} HTTP requests to Bitrix24 for two calls`);

  say('\n$ itd_bitrix.js calls');
  say(execFileSync(process.execPath, [join(AGI_BIN, 'itd_bitrix.js'), 'calls', '--config', configPath], { encoding: 'utf8' }).trimEnd());
  say('$ itd_bitrix.js status');
  say(execFileSync(process.execPath, [join(AGI_BIN, 'itd_bitrix.js'), 'status', '--config', configPath], { encoding: 'utf8' }).trimEnd());
  say(`\nlog: ${join(dir, 'itd_bitrix.log')}`);
  await fake.stop();
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${(err as Error).stack}\n`);
  process.exitCode = 1;
});
