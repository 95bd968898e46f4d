/**
 * GDPR for the audit log and the Data agent: personal identifiers (operator names, badge ids, e-mail addresses) never
 * enter a log in clear. They are replaced by keyed pseudonyms, HMAC-SHA-256 under a random key per data subject. The
 * keys live outside the log, in `<stateDir>/audit/subjects.db`; an erasure request deletes the subject's key
 * (crypto-shredding), after which the pseudonyms already in the log can no longer be linked to anyone, while every
 * leaf, root and signature of the log stays exactly as it was (so it still verifies).
 *
 * The key table is indexed by HMAC(lookup secret, subject), so it holds no identifier in clear either; the lookup
 * secret sits in `<stateDir>/audit/subject-lookup.key` (mode 0600). SQLite runs with secure_delete and the WAL is
 * truncated after an erasure, so a deleted key does not linger in free pages.
 *
 * With a data key (cluster mode: generated and wrapped by the HSM-backed KMS key, data-key.ts), the subject keys and the
 * lookup secret are stored sealed under it (AES-256-GCM), so the volume alone yields no key. A store is created either
 * sealed or clear and is never opened the other way.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { GlimmerError, quote } from '../errors';

export interface Pseudonymiser {
  /** The keyed pseudonym (`psn_` + 22 base64url characters) of a personal identifier; stable until erased. */
  pseudonym(subject: string): string;
  /**
   * A copy of `record` with the named top-level fields replaced by their pseudonyms (string values only; other
   * values are refused with GLM_ERR_AUDIT_RECORD_INVALID so nothing personal slips through unnoticed).
   */
  pseudonymiseFields<T extends Record<string, unknown>>(record: T, fields: readonly (keyof T & string)[]): T;
  /** Whether `pseudonym` belongs to `subject` (for an authorised re-identification). Throws GLM_ERR_AUDIT_SUBJECT_ERASED after erasure. */
  matches(subject: string, pseudonym: string): boolean;
  /**
   * Erasure (GDPR art. 17): deletes the subject's key. Returns the pseudonym the subject had (to audit the erasure
   * itself without naming the subject) or undefined when the subject was unknown.
   */
  erase(subject: string): { pseudonym: string } | undefined;
  isErased(subject: string): boolean;
  close(): void;
}

const PREFIX = 'psn_';

/** Identifiers compare after Unicode NFC and trimming; e-mail addresses also case-insensitively. */
export function normaliseSubject(subject: string): string {
  if (typeof subject !== 'string' || subject.trim().length === 0 || subject.length > 1024) {
    throw new GlimmerError('GLM_ERR_AUDIT_RECORD_INVALID', 'a data subject identifier must be a non-empty string of at most 1024 characters');
  }
  const s = subject.normalize('NFC').trim();
  return s.includes('@') ? s.toLowerCase() : s;
}

/** AES-256-GCM under the data key: iv (12) | tag (16) | ciphertext. */
function seal(dataKey: Buffer, plain: Buffer): Buffer {
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', dataKey, iv);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]);
}

function unseal(dataKey: Buffer, blob: Buffer, what: string): Buffer {
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', dataKey, blob.subarray(0, 12));
    d.setAuthTag(blob.subarray(12, 28));
    return Buffer.concat([d.update(blob.subarray(28)), d.final()]);
  } catch (err) {
    throw new GlimmerError('GLM_ERR_DATA_KEY_UNAVAILABLE', `${what} does not open under the data key (another data key, or tampered)`, { cause: err });
  }
}

export function openPseudonymiser(options: { stateDir: string; dataKey?: Buffer }): Pseudonymiser {
  const dir = path.join(options.stateDir, 'audit');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dataKey = options.dataKey;
  if (dataKey && dataKey.length !== 32) throw new GlimmerError('GLM_ERR_DATA_KEY_UNAVAILABLE', `the data key must be 32 bytes, received ${dataKey.length}`);
  const clearFile = path.join(dir, 'subject-lookup.key');
  const sealedFile = path.join(dir, 'subject-lookup.key.sealed');
  if (fs.existsSync(dataKey ? clearFile : sealedFile)) {
    throw new GlimmerError('GLM_ERR_DATA_KEY_UNAVAILABLE', dataKey
      ? `${quote(dir)} holds clear subject keys; a sealed store cannot be opened over them`
      : `${quote(dir)} holds subject keys sealed under a KMS data key; open it with the data key (GLIMMER_DATA_KEY)`);
  }
  const secretFile = dataKey ? sealedFile : clearFile;
  try {
    const secret = crypto.randomBytes(32);
    fs.writeFileSync(secretFile, dataKey ? seal(dataKey, secret) : secret, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const lookupSecret = dataKey ? unseal(dataKey, fs.readFileSync(secretFile), secretFile) : fs.readFileSync(secretFile);
  const db = new Database(path.join(dir, 'subjects.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('secure_delete = ON');
  db.exec(`CREATE TABLE IF NOT EXISTS subject_keys(lookup TEXT PRIMARY KEY, key BLOB NOT NULL, created_at INTEGER NOT NULL);
           CREATE TABLE IF NOT EXISTS erasures(lookup TEXT PRIMARY KEY, erased_at INTEGER NOT NULL);`);
  const getKey = db.prepare('SELECT key FROM subject_keys WHERE lookup = ?').pluck();
  const putKey = db.prepare('INSERT OR IGNORE INTO subject_keys(lookup, key, created_at) VALUES (?, ?, ?)');
  const delKey = db.prepare('DELETE FROM subject_keys WHERE lookup = ?');
  const putErasure = db.prepare('INSERT OR REPLACE INTO erasures(lookup, erased_at) VALUES (?, ?)');
  const getErasure = db.prepare('SELECT 1 FROM erasures WHERE lookup = ?').pluck();
  const delErasure = db.prepare('DELETE FROM erasures WHERE lookup = ?');
  const cache = new Map<string, Buffer>();

  const lookupOf = (subject: string) => crypto.createHmac('sha256', lookupSecret).update(normaliseSubject(subject)).digest('base64url');
  const derive = (key: Buffer, subject: string) =>
    PREFIX + crypto.createHmac('sha256', key).update(normaliseSubject(subject)).digest().subarray(0, 16).toString('base64url');

  const keyOf = (subject: string, create: boolean): Buffer | undefined => {
    const lookup = lookupOf(subject);
    const hit = cache.get(lookup);
    if (hit) return hit;
    const stored = () => {
      const raw = getKey.get(lookup) as Buffer | undefined;
      return raw && dataKey ? unseal(dataKey, raw, 'a subject key') : raw;
    };
    let key = stored();
    if (!key && create) {
      // A subject seen again after an erasure gets a fresh key: new pseudonyms, unlinkable to the erased ones.
      const fresh = crypto.randomBytes(32);
      db.transaction(() => {
        putKey.run(lookup, dataKey ? seal(dataKey, fresh) : fresh, Date.now());
        delErasure.run(lookup);
      })();
      key = stored() as Buffer;
    }
    if (key) {
      cache.set(lookup, key);
      if (cache.size > 10_000) cache.delete(cache.keys().next().value as string);
    }
    return key;
  };

  return {
    pseudonym(subject) {
      return derive(keyOf(subject, true) as Buffer, subject);
    },
    pseudonymiseFields(record, fields) {
      const out: Record<string, unknown> = { ...record };
      for (const field of fields) {
        const value = out[field];
        if (value === undefined || value === null) continue;
        if (typeof value !== 'string') throw new GlimmerError('GLM_ERR_AUDIT_RECORD_INVALID', `personal field ${quote(field)} must be a string to be pseudonymised`);
        out[field] = this.pseudonym(value);
      }
      return out as typeof record;
    },
    matches(subject, pseudonym) {
      const key = keyOf(subject, false);
      if (!key) {
        if (getErasure.get(lookupOf(subject))) throw new GlimmerError('GLM_ERR_AUDIT_SUBJECT_ERASED', 'the data subject was erased; its pseudonyms cannot be linked any more');
        return false;
      }
      const expected = Buffer.from(derive(key, subject));
      const given = Buffer.from(String(pseudonym));
      return expected.length === given.length && crypto.timingSafeEqual(expected, given);
    },
    erase(subject) {
      const lookup = lookupOf(subject);
      const key = keyOf(subject, false);
      if (!key) return undefined;
      const pseudonym = derive(key, subject);
      db.transaction(() => {
        delKey.run(lookup);
        putErasure.run(lookup, Date.now());
      })();
      cache.delete(lookup);
      key.fill(0);
      db.pragma('wal_checkpoint(TRUNCATE)');
      return { pseudonym };
    },
    isErased(subject) {
      return Boolean(getErasure.get(lookupOf(subject)));
    },
    close() {
      db.close();
    },
  };
}
