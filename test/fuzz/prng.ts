// A seeded generator, so a fuzz failure can be replayed (FUZZ_SEED=<n> npm test).
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['"', '\\', '\n', '\r', '\r\n', '\t', ' ', '(', ')', '$', '{', '}', '|', ';', '%', '+', '0', '7', '8', 'Я', '😀', '\u0000', '\u2028', '\u200b',
  'SET VARIABLE EVIL 1', 'HANGUP', '200 result=1', '${SHELL}', 'unknown', '&', '#', '*'];

/** A string built from bytes and hostile fragments, up to `max` pieces long. */
export function hostileString(rand: () => number, max = 60): string {
  const n = Math.floor(rand() * max);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.4) s += PIECES[Math.floor(rand() * PIECES.length)];
    else if (r < 0.7) s += String.fromCharCode(Math.floor(rand() * 128));
    else if (r < 0.9) s += String.fromCharCode(0x400 + Math.floor(rand() * 0x60));
    else s += String.fromCodePoint(Math.floor(rand() * 0x10ffff) & 0xffff || 0x20);
  }
  return s;
}

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261126);
