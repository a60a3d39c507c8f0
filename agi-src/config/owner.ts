// Admins run the operator CLI as root. A database, log or folder it creates must still belong to
// the user the AGIs run as (asterisk), or every AGI fails on it afterwards (SQLITE_CANTOPEN).
import { chownSync, mkdirSync, readFileSync, statSync } from 'fs';
import { join, relative } from 'path';

export interface FileOwner {
  uid: number;
  gid: number;
}

/** Hands a file or folder this process just created to the AGIs' user. */
export type Claim = (path: string) => void;

export interface OwnerDeps {
  getuid: () => number;
  stat: (path: string) => { uid: number; gid: number };
  passwd: () => string;
}

const system: OwnerDeps = {
  getuid: () => process.getuid?.() ?? -1,
  stat: (p) => statSync(p),
  passwd: () => readFileSync('/etc/passwd', 'utf8'),
};

/**
 * Who should own what this process creates: null unless it runs as root; then the owner of the
 * config file (the module writes it as asterisk), else the `asterisk` user, else nobody in particular.
 */
export function fileOwner(configPath: string, deps: OwnerDeps = system): FileOwner | null {
  if (deps.getuid() !== 0) return null;
  try {
    const st = deps.stat(configPath);
    if (st.uid !== 0) return { uid: st.uid, gid: st.gid };
  } catch {
    // no config file: fall back to the asterisk user
  }
  try {
    const entry = deps
      .passwd()
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => f[0] === 'asterisk' && f.length >= 4);
    if (entry) return { uid: Number(entry[2]), gid: Number(entry[3]) };
  } catch {
    // no passwd file
  }
  return null;
}

export function claimFor(owner: FileOwner | null, chown: (path: string, uid: number, gid: number) => void = chownSync): Claim | undefined {
  if (!owner) return undefined;
  return (path) => {
    try {
      chown(path, owner.uid, owner.gid);
    } catch {
      // best effort: the file stays root's, and the AGI that cannot open it says so in the log
    }
  };
}

/** `mkdir -p`, handing every folder it created to `claim`, outermost first. */
export function makeDirs(dir: string, claim?: Claim): void {
  const first = mkdirSync(dir, { recursive: true });
  if (!first || !claim) return;
  let at = first;
  claim(at);
  for (const part of relative(first, dir).split(/[\\/]/).filter(Boolean)) claim((at = join(at, part)));
}
