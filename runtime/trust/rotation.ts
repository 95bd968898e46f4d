/**
 * The live identity of one workload: its current X.509-SVID, re-issued at half-life (SPIRE's rule), with listeners
 * that swap it into running TLS servers and clients. Rotation never drops a connection: servers call
 * `setSecureContext`, which only affects new handshakes; clients open new connections with the new certificate and
 * let the old ones idle out.
 */
import type { AuditSink } from '../model/messages';
import type { TrustAuditRecord } from './audit';
import type { IssuedSvid } from './svid';

export interface SvidSourceOptions {
  /** Issues a fresh SVID for this workload (in-process: `() => issueSvid(ca, {zone, agent})`; a child: IPC). */
  readonly issue: () => Promise<IssuedSvid>;
  /** PEM of the trusted CAs. */
  readonly bundlePem: string;
  readonly trustDomain: string;
  readonly audit?: AuditSink<TrustAuditRecord>;
  /** Called with each new SVID's notAfter (e.g. metrics.certificateExpiry.set({agent}, seconds)). */
  readonly onExpiry?: (notAfter: Date) => void;
  /** Called when a scheduled re-issue fails; it is retried after `retryMs`. */
  readonly onError?: (err: unknown) => void;
  /** @default 5000 */
  readonly retryMs?: number;
  /** Rotate when this fraction of the lifetime has passed. @default 0.5 */
  readonly rotateAt?: number;
}

export type RotationListener = (svid: IssuedSvid, previous: IssuedSvid) => void;

/** What TLS servers and clients need from an identity: the current SVID, the bundle, and rotation events. */
export interface IdentitySource {
  readonly current: IssuedSvid;
  readonly bundlePem: string;
  readonly trustDomain: string;
  onRotate(listener: RotationListener): () => void;
}

/** An identity that never rotates (one-off CLI clients, tests presenting a crafted certificate). */
export function fixedIdentity(svid: IssuedSvid, trust: { readonly bundlePem: string; readonly trustDomain: string }): IdentitySource {
  return { current: svid, bundlePem: trust.bundlePem, trustDomain: trust.trustDomain, onRotate: () => () => undefined };
}

export class SvidSource implements IdentitySource {
  readonly bundlePem: string;
  readonly trustDomain: string;
  #current: IssuedSvid;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #options: SvidSourceOptions;
  readonly #listeners = new Set<RotationListener>();

  private constructor(options: SvidSourceOptions, first: IssuedSvid) {
    this.#options = options;
    this.bundlePem = options.bundlePem;
    this.trustDomain = options.trustDomain;
    this.#current = first;
    options.onExpiry?.(first.notAfter);
    this.#schedule();
  }

  /** Issues the first SVID and schedules its rotation. */
  static async start(options: SvidSourceOptions): Promise<SvidSource> {
    return new SvidSource(options, await options.issue());
  }

  get current(): IssuedSvid {
    return this.#current;
  }

  /** When the current SVID will be replaced. */
  get rotatesAt(): Date {
    const { notBefore, notAfter } = this.#current;
    const at = this.#options.rotateAt ?? 0.5;
    return new Date(notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) * at);
  }

  onRotate(listener: RotationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Re-issues now (also what the timer calls). */
  async rotate(): Promise<IssuedSvid> {
    const next = await this.#options.issue();
    const previous = this.#current;
    this.#current = next;
    this.#options.onExpiry?.(next.notAfter);
    this.#options.audit?.({
      type: 'trust.svid_rotated', at: new Date().toISOString(), subject: next.spiffeId, serial: next.serial,
      not_after: next.notAfter.toISOString(), previous_serial: previous.serial,
    });
    for (const listener of this.#listeners) listener(next, previous);
    this.#schedule();
    return next;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(delayMs?: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    // setTimeout holds at most 2^31-1 ms; re-check when it fires.
    const delay = Math.min(delayMs ?? Math.max(0, this.rotatesAt.getTime() - Date.now()), 2 ** 31 - 1);
    this.#timer = setTimeout(() => {
      if (Date.now() < this.rotatesAt.getTime()) return this.#schedule();
      this.rotate().catch((err: unknown) => {
        this.#options.onError?.(err);
        this.#schedule(this.#options.retryMs ?? 5000);
      });
    }, delay);
    this.#timer.unref();
  }
}
