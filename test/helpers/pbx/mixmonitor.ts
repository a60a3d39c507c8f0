// MixMonitor as Asterisk 22 records: the file exists (header only) from the start and
// MIXMONITOR_FILENAME names it at once (relative names go to <spool>/monitor); it is closed, at its
// full size, only after the channel's hangup handlers returned, then the post command is due.
import { mkdirSync, utimesSync, writeFileSync } from 'fs';
import { dirname, isAbsolute, join } from 'path';
import { standardArgs } from './args';
import type { Channel } from './channel';
import type { Pbx } from './engine';
import { PbxError, registerApps } from './registry';

/** 8 kHz 16-bit mono: what one second of recording weighs. */
const BYTES_PER_SECOND = 16_000;
/** Long recordings are cut at this size: tests need the shape of the file, not an hour of it. */
const MAX_BYTES = 160_000;

/** 8 kHz 16-bit mono WAV header; sizes 0 while MixMonitor still writes, as a real file looks. */
function wavHeader(dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(dataBytes ? 36 + dataBytes : 0, 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(BYTES_PER_SECOND, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** Written with a virtual-time mtime, so an AGI judging "has it stopped changing" sees PBX time. */
function writeRecording(pbx: Pbx, path: string, data: Buffer): void {
  writeFileSync(path, data);
  const at = pbx.clock.now() / 1000;
  utimesSync(path, at, at);
}

/** At the end of ast_hangup: the recorded time (from the first bridge with option b) becomes the file. */
export function closeMixMonitor(pbx: Pbx, chan: Channel): void {
  const mm = chan.mixmonitor!;
  const from = mm.options.includes('b') ? mm.bridgedAt ?? pbx.clock.now() : mm.startedAt;
  const bytes = Math.min(MAX_BYTES, Math.max(0, Math.round(((pbx.clock.now() - from) / 1000) * BYTES_PER_SECOND)));
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 7) & 0xff;
  writeRecording(pbx, mm.path, Buffer.concat([wavHeader(bytes), data]));
  const command = mm.command ? pbx.substitute(chan, mm.command.replace(/\^\{/g, '${')) : '';
  pbx.event('mixmonitor-closed', chan, { path: mm.path, bytes, command });
  chan.mixmonitor = undefined;
}

registerApps({
  MixMonitor({ pbx, chan, data }) {
    const [file, options, command] = standardArgs(data, 3);
    if (!file) throw new PbxError('MixMonitor requires an argument (filename)');
    const path = isAbsolute(file) ? file : join(pbx.options.spoolDir, 'monitor', file);
    mkdirSync(dirname(path), { recursive: true });
    writeRecording(pbx, path, wavHeader(0));
    chan.mixmonitor = { path, options: options ?? '', command: command ?? '', startedAt: pbx.clock.now() };
    chan.setVar('MIXMONITOR_FILENAME', path);
    const idVar = /i\(([^)]*)\)/.exec(options ?? '')?.[1];
    if (idVar) chan.setVar(idVar, `mixmonitor-${chan.uniqueid}`);
    pbx.event('mixmonitor-start', chan, { path });
    return 0;
  },
});
