// itd_bitrix_selftest.js: can this host run the module? Run by install.sh and the module's
// install step (as the asterisk user, from the module's own agi-bin/) and by the settings page.
// Built for Node 8 syntax so that an old Node gets a clear answer instead of a SyntaxError.
//   node itd_bitrix_selftest.js [--json]
// Prints one line (or the JSON report); exit 0 ok, 3 Node.js, 4 architecture, 5 glibc,
// 6 SQLite binding, 2 bad arguments, 1 unexpected error.
import { shippedBindings } from '../platform/bindings';
import { detectGlibc } from '../platform/host';
import { EXIT_CODES, exerciseSqlite3, runSelfTest } from '../platform/selftest';

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--json');
if (unknown.length) {
  process.stderr.write(`itd_bitrix_selftest.js: unknown argument ${unknown[0]}; usage: itd_bitrix_selftest.js [--json]\n`);
  process.exit(2);
}
const json = args.includes('--json');

runSelfTest({
  nodeVersion: process.version,
  platform: process.platform,
  arch: process.arch,
  glibc: detectGlibc,
  shipped: shippedBindings(),
  exerciseSqlite: () => exerciseSqlite3(),
})
  .then((report) => {
    process.stdout.write(json ? `${JSON.stringify(report)}\n` : `${report.message}\n`);
    process.exitCode = report.failed ? EXIT_CODES[report.failed] : 0;
  })
  .catch((err: Error) => {
    const message = `self-test failed unexpectedly: ${String(err && err.message).split('\n')[0]}`;
    process.stdout.write(json ? `${JSON.stringify({ ok: false, failed: null, message })}\n` : `${message}\n`);
    process.exitCode = 1;
  });
