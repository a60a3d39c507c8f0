// Preloaded into AGI processes the test PBX starts (NODE_OPTIONS=--require): their wall clock
// reads the PBX's virtual time, which is the real time plus PBX_CLOCK_OFFSET_MS (constant while a
// process runs, see clock.ts). Test-only; the shipped executables are not changed.
'use strict';
const offset = Number(process.env.PBX_CLOCK_OFFSET_MS || 0);
if (offset) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(realNow() + offset);
      else super(...args);
    }
    static now() {
      return realNow() + offset;
    }
  }
  globalThis.Date = ShiftedDate;
}
