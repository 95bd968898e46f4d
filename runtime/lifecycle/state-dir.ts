/** The state dir (default `.glimmer/`): mode 0700, holding the admin token (0600), the PKI and the audit log. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function ensureStateDir(dir: string): string {
  const abs = path.resolve(dir);
  fs.mkdirSync(abs, { recursive: true, mode: 0o700 });
  fs.chmodSync(abs, 0o700);
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
