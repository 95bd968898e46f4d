/** The state dir (default `.glimmer/`): mode 0700, holding the admin token (0600), the PKI and the audit log. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GlimmerError, quote } from '../errors';

/** Kernel pseudo file systems (statfs f_type): no state can live there, and recursive mkdir on /proc never returns. */
const PSEUDO_FS: Readonly<Record<number, string>> = {
  0x9fa0: 'proc', 0x62656572: 'sysfs', 0x27e0eb: 'cgroup', 0x63677270: 'cgroup2', 0x64626720: 'debugfs',
  0x73636673: 'securityfs', 0x1cd1: 'devpts', 0xcafe4a11: 'bpf', 0x74726163: 'tracefs',
};

/**
 * Creates (mode 0700) and checks the state dir; refuses with GLM_ERR_STATE_DIR_UNUSABLE naming the path and the
 * reason, never a bare internal error. Directories are created one level at a time below the nearest existing one,
 * after checking that one's file system.
 */
export function ensureStateDir(dir: string): string {
  const abs = path.resolve(dir);
  const unusable = (why: string, cause?: unknown) => new GlimmerError('GLM_ERR_STATE_DIR_UNUSABLE', `state directory ${quote(abs)} is unusable: ${why}`, cause === undefined ? {} : { cause });
  const missing: string[] = [];
  let existing = abs;
  while (!fs.existsSync(existing)) {
    missing.unshift(existing);
    existing = path.dirname(existing);
  }
  let type: number;
  try {
    type = fs.statfsSync(existing).type;
  } catch (err) {
    throw unusable(`cannot inspect ${existing}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err);
  }
  const pseudo = PSEUDO_FS[type];
  if (pseudo !== undefined) throw unusable(`${existing} is on the kernel's ${pseudo} file system`);
  try {
    for (const d of missing) fs.mkdirSync(d, { mode: 0o700 });
    if (!fs.statSync(abs).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    fs.chmodSync(abs, 0o700);
    fs.accessSync(abs, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    throw unusable((err as NodeJS.ErrnoException).code ?? (err as Error).message, err);
  }
  return abs;
}

/** Reads the admin token, creating a fresh 256-bit one on first use. */
export function ensureAdminToken(stateDir: string): string {
  const file = path.join(stateDir, 'admin-token');
  if (fs.existsSync(file)) {
    fs.chmodSync(file, 0o600);
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token.length >= 32) return token;
  }
  const token = crypto.randomBytes(32).toString('base64url');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}
