/**
 * The revocation list of the trust domain: certificate serials that must be refused even though they chain and are
 * within their validity. Persisted at `<stateDir>/pki/revoked.json` (atomic replace, mode 0600) so a restart keeps
 * it; listeners (mTLS servers) close live connections that use a serial as soon as it is revoked.
 * SVIDs live one hour, so entries older than their certificate's notAfter could be pruned; the list stays small.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GlimmerError, quote } from '../errors';
import type { AuditSink } from '../model/messages';
import type { TrustAuditRecord } from './audit';
import { normalizeSerial } from './x509';

interface RevokedEntry {
  readonly serial: string;
  readonly reason: string;
  readonly at: string;
}

export type RevocationListener = (serial: string) => number;

export class RevocationList {
  readonly #file: string | undefined;
  readonly #entries = new Map<string, RevokedEntry>();
  readonly #listeners = new Set<RevocationListener>();
  readonly #audit: AuditSink<TrustAuditRecord> | undefined;
  #snapshot: ReadonlySet<string> | undefined;

  private constructor(file: string | undefined, audit: AuditSink<TrustAuditRecord> | undefined) {
    this.#file = file;
    this.#audit = audit;
  }

  /** An in-memory list (tests, agents that receive the list from their supervisor). */
  static inMemory(audit?: AuditSink<TrustAuditRecord>): RevocationList {
    return new RevocationList(undefined, audit);
  }

  /** Loads (or starts) the persisted list of a state dir. */
  static async load(stateDir: string, audit?: AuditSink<TrustAuditRecord>): Promise<RevocationList> {
    const file = path.join(stateDir, 'pki', 'revoked.json');
    const list = new RevocationList(file, audit);
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new GlimmerError('GLM_ERR_CERT_UNREADABLE', `revocation list ${quote(file)} is not valid JSON`, { cause: err });
      }
      if (!Array.isArray(parsed) || !parsed.every(isEntry)) {
        throw new GlimmerError('GLM_ERR_CERT_UNREADABLE', `revocation list ${quote(file)} must be an array of {serial, reason, at}`);
      }
      for (const e of parsed) list.#entries.set(normalizeSerial(e.serial), e);
      list.#snapshot = undefined;
    }
    return list;
  }

  /** The revoked serials (lowercase hex, no leading zeros): pass to validateSvid's revokedSerials. */
  get serials(): ReadonlySet<string> {
    // Read on every handshake: rebuilt only when the list changes.
    this.#snapshot ??= new Set(this.#entries.keys());
    return this.#snapshot;
  }

  has(serial: string): boolean {
    return this.#entries.has(normalizeSerial(serial));
  }

  /** Called with each newly revoked serial; returns how many live connections it closed. */
  onRevoke(listener: RevocationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async revoke(serial: string, reason = 'unspecified'): Promise<void> {
    const key = normalizeSerial(serial);
    if (!/^[0-9a-f]{1,40}$/.test(key)) throw new GlimmerError('GLM_ERR_USAGE', `serial ${quote(serial)} is not a hex certificate serial`);
    if (this.#entries.has(key)) return;
    const entry = { serial: key, reason: reason.slice(0, 200), at: new Date().toISOString() };
    this.#entries.set(key, entry);
    this.#snapshot = undefined;
    await this.#persist();
    let closed = 0;
    for (const listener of this.#listeners) closed += listener(key);
    this.#audit?.({ type: 'trust.svid_revoked', at: entry.at, serial: key, reason: entry.reason, connections_closed: closed });
  }

  async #persist(): Promise<void> {
    if (this.#file === undefined) return;
    await mkdir(path.dirname(this.#file), { recursive: true, mode: 0o700 });
    const tmp = `${this.#file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify([...this.#entries.values()], null, 1), { mode: 0o600 });
    await rename(tmp, this.#file);
  }
}

function isEntry(v: unknown): v is RevokedEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.serial === 'string' && typeof e.reason === 'string' && typeof e.at === 'string';
}
