/**
 * How revocations travel. One runtime is the authority of the trust domain's revocation list: the embedded default
 * (it holds the CA) and, in a cluster, the runtime whose pod the others name in `revocation.feed_url`. The authority
 * persists the list, signs it with the CA key and pushes the signed feed to its agents over the supervisor's control
 * channel (IPC) at once on every revocation and again every `refresh_ms`. A follower (every other pod's runtime)
 * fetches the authority's signed feed over mTLS every `refresh_ms`, verifies it against the trust bundle, applies it
 * and pushes the same signed feed to its own agents. Every holder measures freshness by the time the authority signed
 * the feed, so a feed that stops arriving (authority down, partition, supervisor hung) turns stale after `max_age_s`
 * everywhere downstream and those enforcement points refuse (GLM_ERR_REVOCATION_FEED_STALE) instead of trusting a list
 * that may miss a revocation.
 */
import { GlimmerError, asGlimmerError, quote } from '../errors';
import type { AuditSink } from '../model/messages';
import type { TrustAuditRecord } from './audit';
import { createMtlsClient, type MtlsClient } from './mtls';
import { RevocationList, verifyRevocationFeed, type RevocationTarget, type SignedRevocationFeed } from './revocation';
import type { IdentitySource } from './rotation';
import { parseSpiffeId } from './spiffe';
import { normalizeSerial } from './x509';

export interface RevocationFeedOptions {
  readonly trustDomain: string;
  readonly bundlePem: string;
  readonly refreshMs: number;
  readonly maxAgeMs: number;
  /** A follower's source: the authority's GET /v1/trust/revocations over mTLS. Absent: this runtime is the authority. */
  readonly feedUrl?: string;
  /** The authority's signing key (the CA). */
  readonly ca?: { readonly trustDomain: string; readonly keys: CryptoKeyPair };
  readonly stateDir: string;
  readonly audit: AuditSink<TrustAuditRecord>;
  /** Fetch failures (a follower keeps its feed until it turns stale). */
  readonly onFetchError?: (err: GlimmerError) => void;
}

type CryptoKeyPair = import('node:crypto').webcrypto.CryptoKeyPair;

export interface RevokeResult {
  readonly kind: 'serial' | 'spiffe_id';
  readonly serial: string | null;
  readonly spiffe_id: string | null;
  /** False when it was revoked already (nothing changed). */
  readonly revoked: boolean;
}

/** Issued SVIDs remembered for revocations by serial: serial -> SPIFFE ID, until the certificate expires. */
const MAX_ISSUED = 10_000;

export class RevocationFeed {
  readonly list: RevocationList;
  readonly #o: RevocationFeedOptions;
  readonly #issued = new Map<string, { spiffeId: string; notAfter: number }>();
  readonly #feedListeners = new Set<(feed: SignedRevocationFeed) => void>();
  #latest: SignedRevocationFeed | undefined;
  #timer: NodeJS.Timeout | undefined;
  #client: MtlsClient | undefined;
  #fetching = false;
  #publishing: Promise<void> = Promise.resolve();

  private constructor(o: RevocationFeedOptions, list: RevocationList) {
    this.#o = o;
    this.list = list;
  }

  static async start(o: RevocationFeedOptions): Promise<RevocationFeed> {
    if (o.feedUrl === undefined && o.ca === undefined) throw new GlimmerError('GLM_ERR_INTERNAL', 'the revocation authority needs the CA key to sign its feed');
    const list = o.feedUrl === undefined
      ? await RevocationList.load(o.stateDir, { audit: o.audit, point: 'runtime' })
      : RevocationList.inMemory({ audit: o.audit, point: 'runtime', maxAgeMs: o.maxAgeMs });
    const feed = new RevocationFeed(o, list);
    if (o.feedUrl === undefined) {
      // Every change goes out at once; the timer re-signs so followers see the authority alive.
      list.onRevoke(() => {
        feed.#publish();
        return 0;
      });
      feed.#publish();
      feed.#timer = setInterval(() => feed.#publish(), o.refreshMs);
      feed.#timer.unref();
    }
    return feed;
  }

  /** Whether this runtime holds the list (the others follow its feed). */
  get authority(): boolean {
    return this.#o.feedUrl === undefined;
  }

  /** Hears every signed feed this runtime hands on (to push to its agents). */
  onFeed(listener: (feed: SignedRevocationFeed) => void): () => void {
    this.#feedListeners.add(listener);
    if (this.#latest !== undefined) listener(this.#latest);
    return () => this.#feedListeners.delete(listener);
  }

  /** The feed to serve: the authority signs the list now; a follower hands on the last feed it verified. */
  async current(): Promise<SignedRevocationFeed> {
    if (this.authority) return this.list.signedFeed(this.#o.ca as NonNullable<RevocationFeedOptions['ca']>);
    if (this.#latest === undefined) this.list.assertFresh();
    return this.#latest as SignedRevocationFeed;
  }

  /** Followers: starts fetching the authority's feed with this runtime's own SVID. */
  follow(identity: IdentitySource): void {
    if (this.authority || this.#client !== undefined) return;
    // No revocation list on this client: a stale list would refuse the very connection that refreshes it.
    this.#client = createMtlsClient({ source: identity, audit: this.#o.audit });
    void this.#fetch();
    this.#timer = setInterval(() => void this.#fetch(), this.#o.refreshMs);
    this.#timer.unref();
  }

  /** Remembers an SVID this runtime issued (revocations by serial then name its SPIFFE ID). */
  issued(svid: { readonly serial: string; readonly spiffeId: string; readonly notAfter: Date }): void {
    const now = Date.now();
    if (this.#issued.size >= MAX_ISSUED) for (const [serial, e] of this.#issued) if (e.notAfter < now) this.#issued.delete(serial);
    if (this.#issued.size >= MAX_ISSUED) this.#issued.delete(this.#issued.keys().next().value as string);
    this.#issued.set(svid.serial, { spiffeId: svid.spiffeId, notAfter: svid.notAfter.getTime() });
  }

  /** The SPIFFE ID of a serial issued here, if known. */
  spiffeIdOf(serial: string): string | undefined {
    return this.#issued.get(normalizeSerial(serial))?.spiffeId;
  }

  /** The SPIFFE IDs a revocation concerns (for enforcement points keyed by identity, such as the OPC UA gate). */
  identitiesOf(target: RevocationTarget): string[] {
    if (target.kind === 'spiffe_id') return [target.spiffeId];
    const id = target.spiffeId ?? this.spiffeIdOf(target.serial);
    return id === undefined ? [] : [id];
  }

  /** Refuses to issue an SVID to a revoked identity. */
  assertIssuable(spiffeId: string): void {
    if (this.list.hasIdentity(spiffeId)) {
      throw new GlimmerError('GLM_ERR_CERT_REVOKED', `${quote(spiffeId)} is a revoked identity: the CA issues it no SVID`);
    }
  }

  /**
   * Revokes `target` (a SPIFFE ID, or a certificate serial in hex) at the authority, audited with `by`. A follower
   * refuses (GLM_ERR_REVOCATION_NOT_AUTHORITY): the list has one writer.
   */
  async revoke(target: string, reason: string, by: string): Promise<RevokeResult> {
    if (!this.authority) {
      throw new GlimmerError('GLM_ERR_REVOCATION_NOT_AUTHORITY', `this runtime follows the revocation feed of ${quote(this.#o.feedUrl)}; revoke there`);
    }
    const t = target.trim();
    if (t.startsWith('spiffe://')) {
      const id = parseSpiffeId(t);
      if (id.trustDomain !== this.#o.trustDomain) {
        throw new GlimmerError('GLM_ERR_CERT_FOREIGN_TRUST_DOMAIN', `${quote(id.spiffeId)} belongs to trust domain ${quote(id.trustDomain)}, not ${quote(this.#o.trustDomain)}`);
      }
      const revoked = await this.list.revokeIdentity(id.spiffeId, reason, by);
      return { kind: 'spiffe_id', serial: null, spiffe_id: id.spiffeId, revoked };
    }
    const serial = normalizeSerial(t);
    if (!/^[0-9a-f]{1,40}$/.test(serial)) {
      throw new GlimmerError('GLM_ERR_USAGE', `${quote(target)} is neither a SPIFFE ID (spiffe://...) nor a hex certificate serial`);
    }
    const spiffeId = this.spiffeIdOf(serial) ?? null;
    const revoked = await this.list.revoke(serial, reason, spiffeId, by);
    return { kind: 'serial', serial, spiffe_id: spiffeId, revoked };
  }

  /**
   * An enforcement point outside the TLS layer (the MCP door): refuses a caller whose certificate serial or SPIFFE ID
   * is revoked, or every caller while the feed is stale. Each refusal is audited with the serial and SPIFFE ID.
   */
  check(point: string, who: { readonly serial?: string; readonly spiffeId?: string }): void {
    let err: GlimmerError | undefined;
    try {
      this.list.assertFresh();
    } catch (e) {
      err = asGlimmerError(e);
    }
    if (err === undefined && who.serial !== undefined && this.list.has(who.serial)) {
      err = new GlimmerError('GLM_ERR_CERT_REVOKED', `certificate serial ${who.serial} is revoked`);
    }
    if (err === undefined && who.spiffeId !== undefined && this.list.hasIdentity(who.spiffeId)) {
      err = new GlimmerError('GLM_ERR_CERT_REVOKED', `${quote(who.spiffeId)} is a revoked identity`);
    }
    if (err === undefined) return;
    this.#o.audit({ type: 'trust.revocation_refused', at: new Date().toISOString(), point, code: err.code, serial: who.serial ?? null, peer: who.spiffeId ?? null });
    throw err;
  }

  /** Readiness: a follower whose feed is stale is not ready (its enforcement points refuse every peer). */
  condition(): { ok: true } | { ok: false; reason: string } {
    try {
      this.list.assertFresh();
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: asGlimmerError(err).message };
    }
  }

  close(): void {
    clearInterval(this.#timer);
    this.#client?.close();
    this.list.close();
  }

  #publish(): void {
    // In order: a re-signed feed must never overtake the one carrying a revocation.
    this.#publishing = this.#publishing.then(async () => {
      const feed = await this.list.signedFeed(this.#o.ca as NonNullable<RevocationFeedOptions['ca']>);
      this.#handOn(feed);
    }).catch((err: unknown) => this.#o.onFetchError?.(asGlimmerError(err)));
  }

  #handOn(feed: SignedRevocationFeed): void {
    this.#latest = feed;
    for (const listener of this.#feedListeners) listener(feed);
  }

  async #fetch(): Promise<void> {
    const client = this.#client;
    if (client === undefined || this.#fetching) return;
    this.#fetching = true;
    try {
      const res = await client.request(this.#o.feedUrl as string, { headers: { accept: 'application/json' }, maxBodyBytes: 4 * 1024 * 1024 });
      if (res.status !== 200) throw new GlimmerError('GLM_ERR_REVOCATION_FEED_INVALID', `the authority answered HTTP ${res.status} for its revocation feed`);
      let body: unknown;
      try {
        body = JSON.parse(res.body.toString('utf8'));
      } catch {
        throw new GlimmerError('GLM_ERR_REVOCATION_FEED_INVALID', 'the authority answered its revocation feed without JSON');
      }
      const payload = verifyRevocationFeed(body, this.#o);
      // The same feed twice (no re-sign since the last fetch) changes nothing.
      if (this.#latest?.payload === (body as SignedRevocationFeed).payload) return;
      this.list.apply(payload);
      this.#handOn({ payload: (body as SignedRevocationFeed).payload, signature: (body as SignedRevocationFeed).signature });
    } catch (err) {
      this.#o.onFetchError?.(asGlimmerError(client.classifyError(err)));
    } finally {
      this.#fetching = false;
    }
  }
}
