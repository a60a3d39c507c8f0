// Which of the sqlite3 bindings the module ships fits this host. There is one N-API binding per
// architecture, named itd_bitrix_sqlite3-<platform>-<arch>-glibc<oldest glibc it loads on>.node
// (scripts/build-sqlite3.sh); the build tells the bundles the names it shipped, and the runtime
// picks by name. Plain functions: no file system, no process.

export interface ShippedBinding {
  file: string;
  platform: string;
  arch: string;
  /** oldest glibc the binding loads on, e.g. "2.28" */
  glibc: string;
}

const NAME = /^itd_bitrix_sqlite3-([a-z0-9]+)-([a-z0-9]+)-glibc(\d+\.\d+)\.node$/;

export function parseBindingName(file: string): ShippedBinding | null {
  const m = NAME.exec(file);
  return m ? { file, platform: m[1], arch: m[2], glibc: m[3] } : null;
}

export function bindingFileName(platform: string, arch: string, glibc: string): string {
  return `itd_bitrix_sqlite3-${platform}-${arch}-glibc${glibc}.node`;
}

/** Dotted numeric versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function bindingsFor(shipped: ShippedBinding[], platform: string, arch: string): ShippedBinding[] {
  return shipped.filter((b) => b.platform === platform && b.arch === arch);
}

/** The binding with the newest glibc floor the host's glibc still satisfies. */
export function pickForGlibc(candidates: ShippedBinding[], glibc: string | null): ShippedBinding | undefined {
  if (!glibc) return undefined;
  return candidates
    .filter((b) => compareVersions(b.glibc, glibc) <= 0)
    .sort((a, b) => compareVersions(b.glibc, a.glibc))[0];
}

/** "x64 and arm64": the architectures the module ships a binding for. */
export function shippedArchitectures(shipped: ShippedBinding[]): string {
  const archs = [...new Set(shipped.map((b) => b.arch))];
  return archs.length > 1 ? `${archs.slice(0, -1).join(', ')} and ${archs[archs.length - 1]}` : archs[0] || 'nothing';
}

export function oldestGlibc(candidates: ShippedBinding[]): string | undefined {
  return candidates.map((b) => b.glibc).sort(compareVersions)[0];
}

/**
 * The binding an AGI loads: the only one for this platform and architecture (the usual case,
 * decided without asking for the glibc version, which costs a few milliseconds), else the one
 * that fits `glibc()`. Throws one line naming what is missing.
 */
export function chooseBinding(shipped: ShippedBinding[], platform: string, arch: string, glibc: () => string | null): ShippedBinding {
  const candidates = bindingsFor(shipped, platform, arch);
  if (candidates.length === 0) {
    throw new Error(`no SQLite binding for ${platform} ${arch}: itd-bitrix ships one for linux ${shippedArchitectures(shipped)}`);
  }
  if (candidates.length === 1) return candidates[0];
  const version = glibc();
  const pick = pickForGlibc(candidates, version);
  if (!pick) throw new Error(`no SQLite binding for glibc ${version ?? '(none found)'}: the oldest the module ships for is ${oldestGlibc(candidates)}`);
  return pick;
}

/**
 * The bundles load a private copy of the shipped binding, never the shipped file itself: FreePBX
 * rewrites every agi-bin/ file in place (same inode) on each reload, which crashes a process that
 * has it mapped. The copy's name is dotted (reload never writes it) and carries the build's hash,
 * so a new version gets a new copy.
 */
export function privateCopyName(file: string, sha256: string): string {
  return `.${file.replace(/\.node$/, '')}.${sha256.slice(0, 16)}.node`;
}

const PRIVATE_COPY = /^\.itd_bitrix_sqlite3-([a-z0-9]+)-([a-z0-9]+)-glibc\d+\.\d+\.[0-9a-f]{16}\.node$/;

/** Private copies in `names` for this binding's platform and architecture other than `keep`: older versions' copies. */
export function staleCopies(names: string[], binding: ShippedBinding, keep: string): string[] {
  return names.filter((n) => {
    const m = PRIVATE_COPY.exec(n);
    return !!m && m[1] === binding.platform && m[2] === binding.arch && n !== keep;
  });
}

declare const ITD_SQLITE3_BINDINGS: string[] | undefined;
// JSON text, not an object: esbuild inlines a string where it is used, an object in every module.
declare const ITD_SQLITE3_BINDING_SHA256: string | undefined;

/** The sha256 (hex) of each binding the build shipped, by name (empty when running from source). */
export function shippedSha256(): Record<string, string> {
  return typeof ITD_SQLITE3_BINDING_SHA256 === 'undefined' ? {} : (JSON.parse(ITD_SQLITE3_BINDING_SHA256) as Record<string, string>);
}

/** What the build shipped beside the bundle (empty when running from source). */
export function shippedBindings(): ShippedBinding[] {
  const names = typeof ITD_SQLITE3_BINDINGS === 'undefined' ? [] : ITD_SQLITE3_BINDINGS;
  return names.map(parseBindingName).filter((b): b is ShippedBinding => b !== null);
}
