// Stand-alone fake Bitrix24 portal with demo data, for the demo script and manual poking:
//   npx tsx test/fake-bitrix/serve.ts --port 0 [--no-rate-limit] [--webhooks-denied] [--latency MS]
//                                     [--exit-on-stdin-close] [--trace]
// Prints one JSON line {"url","webhookUrl","oauthUrl","clientId","clientSecret","refreshToken"} and
// runs until SIGTERM/SIGINT. --trace: then one JSON line per request the portal handled (the lab
// reads what the PBX sent from there).
import { FakeBitrix, FakeBitrixOptions, seedDemo } from './server';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`${name}=`));
  return eq === undefined ? undefined : eq.slice(name.length + 1);
}

async function main(): Promise<void> {
  const port = Number(argValue('--port') ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${String(argValue('--port'))}`);
  const opts: FakeBitrixOptions = { port };
  if (process.argv.includes('--no-rate-limit')) opts.rateLimit = false;
  if (process.argv.includes('--webhooks-denied')) opts.webhooksAllowedForTelephony = false;
  const latency = argValue('--latency');
  if (latency !== undefined) opts.latencyMs = Number(latency);

  const fake = await FakeBitrix.start(opts);
  seedDemo(fake);
  const tokens = fake.issueTokens();
  process.stdout.write(
    `${JSON.stringify({
      url: fake.url,
      webhookUrl: fake.webhookUrl,
      oauthUrl: fake.oauthUrl,
      clientId: 'local.app1',
      clientSecret: 'app-s3cr3t-value',
      refreshToken: tokens.refreshToken,
    })}\n`,
  );

  if (process.argv.includes('--trace')) {
    let seen = 0;
    setInterval(() => {
      for (; seen < fake.requests.length; seen++) {
        const r = fake.requests[seen];
        const calls = r.subcalls?.length ? r.subcalls : [r];
        for (const c of calls) process.stdout.write(`${JSON.stringify({ at: new Date(c.at).toISOString(), method: c.method, status: c.status, params: c.params })}\n`);
      }
    }, 200).unref();
  }

  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    fake.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // for parents that cannot signal the grandchild (npm exec does not forward signals)
  if (process.argv.includes('--exit-on-stdin-close')) {
    process.stdin.on('end', shutdown);
    process.stdin.on('close', shutdown);
    process.stdin.resume();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fake-bitrix: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
