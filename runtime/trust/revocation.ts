/**
 * The revocation list of the trust domain: certificate serials, and whole SPIFFE IDs, that must be refused even though
 * they chain and are within their validity.
 *
 * One process is the authority (the embedded default: the supervisor, which holds the CA): its list is persisted at
 * `<stateDir>/pki/revoked.json` (atomic replace, mode 0600) and published as a feed signed by the CA key. Every other
 * holder (the agent processes; in a cluster, the runtimes of the other pods) applies only signed feeds: the feed carries
 * the whole list and the time the authority signed it, so a follower knows how old its view is. A follower whose feed
 * is older than `maxAgeMs` is stale: `assertFresh` throws GLM_ERR_REVOCATION_FEED_STALE and the stale listeners fire,
 * so enforcement points refuse (fail closed) rather than trust a list that may miss a revocation.
 *
 * Listeners (mTLS servers, client pools, the OPC UA trust gate) close what a revoked serial or SPIFFE ID has open as
 * soon as the entry arrives.
 */
import { createPublicKey, verify as verifySignature, webcrypto, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GlimmerError, quote } from '../errors';
import type { AuditSink } from '../model/messages';
import type { TrustAuditRecord } from './audit';
import { parseSpiffeId } from './spiffe';
import { EC_SIGNING_ALGORITHM, normalizeSerial } from './x509';

export interface RevokedSerial {
  readonly serial: string;
  /** The SPIFFE ID the certificate carried, when the revoker knew it. */
  readonly spiffe_id: string | null;
  readonly reason: string;
  readonly at: string;
}

export interface RevokedIdentity {
  readonly spiffe_id: string;
  readonly reason: string;
  readonly at: string;
}

/** What one revocation names: a certificate (serial) or a whole identity (every certificate carrying the SPIFFE ID). */
export type RevocationTarget =
  | { readonly kind: 'serial'; readonly serial: string; readonly spiffeId: string | null }
  | { readonly kind: 'spiffe_id'; readonly spiffeId: string };

/** Called with each new entry; returns how many live connections or sessions it closed. */
export type RevocationListener = (target: RevocationTarget) => number;

/** The signed content of a feed. */
export interface RevocationFeedPayload {
  readonly v: 1;
  readonly trust_domain: string;
  /** When the authority signed it: its age is what a follower's freshness is measured by. */
  readonly issued_at: string;
  readonly serials: readonly RevokedSerial[];
  readonly spiffe_ids: readonly RevokedIdentity[];
}

/** A feed as it travels (IPC, HTTP): the payload's JSON text and its ECDSA P-256 signature by the CA (base64url). */
export interface SignedRevocationFeed {
  readonly payload: string;
  readonly signature: string;
}

/** Largest feed text accepted (about 10,000 entries). */
export const MAX_FEED_BYTES = 2 * 1024 * 1024;
const MAX_REASON = 200;
const SERIAL = /^[0-9a-f]{1,40}$/;

export interface RevocationListOptions {
  readonly audit?: AuditSink<TrustAuditRecord>;
  /**
   * Followers: the oldest feed (by the authority's signing time) still in force; older is stale. @default - the
   * authority: never stale
   */
  readonly maxAgeMs?: number;
  /** Where this list enforces, named in its audit records (e.g. the agent). @default 'runtime' */
  readonly point?: string;
  readonly now?: () => number;
}

export class RevocationList {
  readonly #file: string | undefined;
  readonly #serials = new Map<string, RevokedSerial>();
  readonly #identities = new Map<string, RevokedIdentity>();
  readonly #listeners = new Set<RevocationListener>();
  readonly #staleListeners = new Set<() => void>();
  readonly #options: RevocationListOptions;
  readonly #now: () => number;
  #snapshot: ReadonlySet<string> | undefined;
  #idSnapshot: ReadonlySet<string> | undefined;
  /** Signing time of the feed in force (followers); NaN before the first. */
  #feedAt = Number.NaN;
  #staleTimer: NodeJS.Timeout | undefined;
  #stale = false;
  #seenFeed = false;

  private constructor(file: string | undefined, options: RevocationListOptions) {
    this.#file = file;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    // A follower starts stale: it has seen no feed yet.
    this.#stale = options.maxAgeMs !== undefined;
  }

  /** An in-memory list: a follower when `maxAgeMs` is given (agent processes, pods following an authority). */
  static inMemory(options: RevocationListOptions | AuditSink<TrustAuditRecord> = {}): RevocationList {
    return new RevocationList(undefined, typeof options === 'function' ? { audit: options } : options);
  }

  /** Loads (or starts) the persisted list of a state dir. */
  static async load(stateDir: string, options: RevocationListOptions | AuditSink<TrustAuditRecord> = {}): Promise<RevocationList> {
    const file = path.join(stateDir, 'pki', 'revoked.json');
    const list = new RevocationList(file, typeof options === 'function' ? { audit: options } : options);
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
      // Older lists are a bare array of serial entries.
      const doc = Array.isArray(parsed) ? { serials: parsed, spiffe_ids: [] } : parsed as { serials?: unknown; spiffe_ids?: unknown };
      if (!Array.isArray(doc.serials) || !doc.serials.every(isSerialEntry) || !Array.isArray(doc.spiffe_ids) || !doc.spiffe_ids.every(isIdentityEntry)) {
        throw new GlimmerError('GLM_ERR_CERT_UNREADABLE', `revocation list ${quote(file)} must hold {serials: [{serial, reason, at}], spiffe_ids: [{spiffe_id, reason, at}]}`);
      }
      for (const e of doc.serials) list.#serials.set(normalizeSerial(e.serial), { ...e, spiffe_id: e.spiffe_id ?? null, serial: normalizeSerial(e.serial) });
      for (const e of doc.spiffe_ids) list.#identities.set(e.spiffe_id, e);
    }
    return list;
  }

  /** The revoked serials (lowercase hex, no leading zeros): pass to validateSvid's revokedSerials. */
  get serials(): ReadonlySet<string> {
    // Read on every handshake: rebuilt only when the list changes.
    this.#snapshot ??= new Set(this.#serials.keys());
    return this.#snapshot;
  }

  /** The revoked SPIFFE IDs: pass to validateSvid's revokedSpiffeIds. */
  get spiffeIds(): ReadonlySet<string> {
    this.#idSnapshot ??= new Set(this.#identities.keys());
    return this.#idSnapshot;
  }

  has(serial: string): boolean {
    return this.#serials.has(normalizeSerial(serial));
  }

  hasIdentity(spiffeId: string): boolean {
    return this.#identities.has(spiffeId);
  }

  /** Whether a certificate with this serial and SPIFFE ID is refused. */
  revokes(serial: string, spiffeId: string): boolean {
    return this.#serials.has(serial) || this.#identities.has(spiffeId);
  }

  entries(): { serials: RevokedSerial[]; spiffe_ids: RevokedIdentity[] } {
    return { serials: [...this.#serials.values()], spiffe_ids: [...this.#identities.values()] };
  }

  /** Followers only: whether the feed in force is older than maxAgeMs (or none has arrived). */
  get stale(): boolean {
    this.#checkStale();
    return this.#stale;
  }

  /** Age of the feed in force (ms), undefined for the authority or before the first feed. */
  get feedAgeMs(): number | undefined {
    return Number.isNaN(this.#feedAt) ? undefined : this.#now() - this.#feedAt;
  }

  /** Throws GLM_ERR_REVOCATION_FEED_STALE when this follower's feed is too old to rely on. */
  assertFresh(): void {
    if (!this.stale) return;
    const age = this.feedAgeMs;
    throw new GlimmerError('GLM_ERR_REVOCATION_FEED_STALE', age === undefined
      ? `no revocation feed has arrived yet (${this.#options.point ?? 'runtime'}); peers are refused until one does`
      : `the revocation feed is ${Math.round(age / 1000)} s old, more than revocation.max_age_s (${Math.round((this.#options.maxAgeMs ?? 0) / 1000)} s); peers are refused until a fresh one arrives`);
  }

  /** Called with each new entry (revoked here or arriving in a feed). */
  onRevoke(listener: RevocationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Called when a follower's feed turns stale (enforcement points close what they have open). */
  onStale(listener: () => void): () => void {
    this.#staleListeners.add(listener);
    return () => this.#staleListeners.delete(listener);
  }

  /** Revokes one certificate (authority). Returns false when it was revoked already. */
  async revoke(serial: string, reason = 'unspecified', spiffeId: string | null = null, by?: string): Promise<boolean> {
    const key = normalizeSerial(serial);
    if (!SERIAL.test(key)) throw new GlimmerError('GLM_ERR_USAGE', `serial ${quote(serial)} is not a hex certificate serial`);
    if (this.#serials.has(key)) return false;
    const entry: RevokedSerial = { serial: key, spiffe_id: spiffeId, reason: reason.slice(0, MAX_REASON), at: new Date(this.#now()).toISOString() };
    this.#serials.set(key, entry);
    this.#snapshot = undefined;
    await this.#persist();
    const closed = this.#notify({ kind: 'serial', serial: key, spiffeId });
    this.#options.audit?.({ type: 'trust.svid_revoked', at: entry.at, serial: key, peer: spiffeId, reason: entry.reason, connections_closed: closed, ...(by ? { by } : {}) });
    return true;
  }

  /** Revokes a whole identity (authority): every SVID carrying it, now and later. Returns false when revoked already. */
  async revokeIdentity(spiffeId: string, reason = 'unspecified', by?: string): Promise<boolean> {
    const id = parseSpiffeId(spiffeId).spiffeId;
    if (this.#identities.has(id)) return false;
    const entry: RevokedIdentity = { spiffe_id: id, reason: reason.slice(0, MAX_REASON), at: new Date(this.#now()).toISOString() };
    this.#identities.set(id, entry);
    this.#idSnapshot = undefined;
    await this.#persist();
    const closed = this.#notify({ kind: 'spiffe_id', spiffeId: id });
    this.#options.audit?.({ type: 'trust.svid_revoked', at: entry.at, serial: null, peer: id, reason: entry.reason, connections_closed: closed, ...(by ? { by } : {}) });
    return true;
  }

  /** The whole list as a feed signed by the CA key (authority). */
  async signedFeed(ca: { readonly trustDomain: string; readonly keys: webcrypto.CryptoKeyPair }): Promise<SignedRevocationFeed> {
    const payload: RevocationFeedPayload = { v: 1, trust_domain: ca.trustDomain, issued_at: new Date(this.#now()).toISOString(), ...this.entries() };
    const text = JSON.stringify(payload);
    const signature = Buffer.from(await webcrypto.subtle.sign(EC_SIGNING_ALGORITHM, ca.keys.privateKey, Buffer.from(text))).toString('base64url');
    return { payload: text, signature };
  }

  /**
   * Applies a verified feed (followers): new entries fire the listeners (and are audited), and the feed's signing
   * time becomes this list's freshness. A feed older than the one in force is refused (a replay must not reset it).
   */
  apply(payload: RevocationFeedPayload): { added: number; closed: number } {
    const at = Date.parse(payload.issued_at);
    if (at < this.#feedAt) {
      throw new GlimmerError('GLM_ERR_REVOCATION_FEED_INVALID', `the revocation feed signed at ${payload.issued_at} is older than the one in force (${new Date(this.#feedAt).toISOString()})`);
    }
    let added = 0;
    let closed = 0;
    for (const e of payload.spiffe_ids) {
      if (this.#identities.has(e.spiffe_id)) continue;
      this.#identities.set(e.spiffe_id, e);
      this.#idSnapshot = undefined;
      added += 1;
      const n = this.#notify({ kind: 'spiffe_id', spiffeId: e.spiffe_id });
      closed += n;
      this.#applied(null, e.spiffe_id, n, payload.issued_at);
    }
    for (const e of payload.serials) {
      if (this.#serials.has(e.serial)) continue;
      this.#serials.set(e.serial, { ...e, spiffe_id: e.spiffe_id ?? null });
      this.#snapshot = undefined;
      added += 1;
      const n = this.#notify({ kind: 'serial', serial: e.serial, spiffeId: e.spiffe_id });
      closed += n;
      this.#applied(e.serial, e.spiffe_id, n, payload.issued_at);
    }
    this.#feedAt = at;
    if (this.#stale && this.#seenFeed) this.#feedState('fresh');
    this.#seenFeed = true;
    this.#stale = false;
    this.#armStaleTimer();
    return { added, closed };
  }

  /** Stops the stale timer (the list's owner is closing). */
  close(): void {
    clearTimeout(this.#staleTimer);
    this.#staleTimer = undefined;
  }

  #applied(serial: string | null, spiffeId: string | null, closed: number, feedAt: string): void {
    this.#options.audit?.({ type: 'trust.revocation_applied', at: new Date(this.#now()).toISOString(), point: this.#options.point ?? 'runtime', serial, peer: spiffeId, connections_closed: closed, feed_issued_at: feedAt });
  }

  #notify(target: RevocationTarget): number {
    let closed = 0;
    for (const listener of this.#listeners) {
      try {
        closed += listener(target);
      } catch {
        // One enforcement point failing to close must not keep the others from closing theirs.
      }
    }
    return closed;
  }

  #checkStale(): void {
    const maxAge = this.#options.maxAgeMs;
    if (maxAge === undefined || this.#stale) return;
    if (this.#now() - this.#feedAt > maxAge) this.#turnStale();
  }

  #feedState(state: 'stale' | 'fresh'): void {
    const age = this.feedAgeMs;
    this.#options.audit?.({
      type: 'trust.revocation_feed', at: new Date(this.#now()).toISOString(), point: this.#options.point ?? 'runtime', state,
      ...(state === 'stale' ? { code: 'GLM_ERR_REVOCATION_FEED_STALE', reason: `feed ${age === undefined ? 'never arrived' : `${Math.round(age / 1000)} s old`}` } : {}),
    });
  }

  #turnStale(): void {
    if (this.#stale) return;
    this.#stale = true;
    this.#feedState('stale');
    for (const listener of this.#staleListeners) {
      try {
        listener();
      } catch { /* as in #notify */ }
    }
  }

  #armStaleTimer(): void {
    const maxAge = this.#options.maxAgeMs;
    if (maxAge === undefined) return;
    clearTimeout(this.#staleTimer);
    this.#staleTimer = setTimeout(() => this.#checkStale(), Math.max(0, this.#feedAt + maxAge + 1 - this.#now()));
    this.#staleTimer.unref();
  }

  async #persist(): Promise<void> {
    if (this.#file === undefined) return;
    await mkdir(path.dirname(this.#file), { recursive: true, mode: 0o700 });
    const tmp = `${this.#file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(this.entries(), null, 1), { mode: 0o600 });
    await rename(tmp, this.#file);
  }
}

/**
 * Verifies a feed's signature against the CAs of the trust bundle and checks its schema and trust domain; returns the
 * payload to apply. Throws GLM_ERR_REVOCATION_FEED_INVALID naming what failed.
 */
export function verifyRevocationFeed(feed: unknown, trust: { readonly bundlePem: string; readonly trustDomain: string }): RevocationFeedPayload {
  const invalid = (why: string) => new GlimmerError('GLM_ERR_REVOCATION_FEED_INVALID', `revocation feed refused: ${why}`);
  if (typeof feed !== 'object' || feed === null) throw invalid('not an object');
  const { payload, signature } = feed as Partial<SignedRevocationFeed>;
  if (typeof payload !== 'string' || typeof signature !== 'string' || payload.length > MAX_FEED_BYTES || signature.length > 200) {
    throw invalid('payload and signature must be strings (payload at most 2 MiB)');
  }
  const sig = Buffer.from(signature, 'base64url');
  const data = Buffer.from(payload);
  const cas = trust.bundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const signed = cas.some((pem) => {
    try {
      const key = createPublicKey(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'pem' }));
      return verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    } catch {
      return false;
    }
  });
  if (!signed) throw invalid('the signature does not verify against any CA of the trust bundle');
  let doc: unknown;
  try {
    doc = JSON.parse(payload);
  } catch {
    throw invalid('the payload is not JSON');
  }
  const p = doc as Partial<RevocationFeedPayload>;
  if (p.v !== 1 || typeof p.trust_domain !== 'string' || typeof p.issued_at !== 'string' || Number.isNaN(Date.parse(p.issued_at))
    || !Array.isArray(p.serials) || !p.serials.every((e) => isSerialEntry(e) && SERIAL.test(e.serial)) || !Array.isArray(p.spiffe_ids) || !p.spiffe_ids.every(isIdentityEntry)) {
    throw invalid('the payload does not match {v: 1, trust_domain, issued_at, serials, spiffe_ids}');
  }
  if (p.trust_domain !== trust.trustDomain) throw invalid(`it belongs to trust domain ${quote(p.trust_domain)}, not ${quote(trust.trustDomain)}`);
  return p as RevocationFeedPayload;
}

function isSerialEntry(v: unknown): v is RevokedSerial {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.serial === 'string' && typeof e.reason === 'string' && typeof e.at === 'string' && (e.spiffe_id === undefined || e.spiffe_id === null || typeof e.spiffe_id === 'string');
}

function isIdentityEntry(v: unknown): v is RevokedIdentity {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e.spiffe_id === 'string' && e.spiffe_id.startsWith('spiffe://') && e.spiffe_id.length <= 2048 && typeof e.reason === 'string' && typeof e.at === 'string';
}
