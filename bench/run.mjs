#!/usr/bin/env node
// `npm run bench`: a thin launcher. The benchmark itself is TypeScript (bench/bench.ts, run with
// tsx) because it reuses the test suite's fake Asterisk and fake Bitrix24. It builds nothing:
// run `npm run build` first; it measures the agi-bin/ that is there.
import { spawn } from 'child_process';
import { existsSync } from 'fs';
import { dirname, join } from 'path';
import { fileURLToPath } from 'url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');
if (!existsSync(tsx)) {
  process.stderr.write('bench: node_modules/.bin/tsx is missing; run `npm ci` first\n');
  process.exit(2);
}
const sub = { soak: 'soak.ts', http: 'http-client.ts' }[process.argv[2]];
const script = sub ?? 'bench.ts';
const args = process.argv.slice(sub ? 3 : 2);
const child = spawn(tsx, [join(root, 'bench', script), ...args], { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
