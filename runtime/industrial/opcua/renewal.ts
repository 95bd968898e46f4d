/**
 * Renewal of one OPC UA application instance certificate (the plant server's, an industrial agent client's) by
 * Glimmer's OPC UA issuer, `renewBeforeMs` ahead of its expiry. The new certificate and key are installed on disk and
 * `onRenewed` tells the live application: the plant server invalidates its certificate cache (new secure channels
 * use the new certificate; open channels keep the one they were opened with, so sessions continue); a client
 * process notices the changed file (client.ts). Peers accept it because it chains to the issuer they trust.
 * A failed renewal keeps the current certificate, is reported (log, audit, metric) and retried; the expiry gauge
 * stays at the old notAfter, which is what the OpcuaCertificateExpiringSoon alert watches.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { GlimmerError, asGlimmerError, quote } from '../../errors';
import type { AuditRecordInput } from '../../model/messages';
import type { Logger } from '../../observability/logger';
import type { Metrics } from '../../observability/metrics';
import { isIssuedBy, issueApplicationCertificate, type OpcuaIssuer } from './issuer';
import { describeCertificate, type OpcuaIdentity } from './pki';
import type { CertificateLifetime } from '../../config/opcua-lifetime';

export { checkLifetime, DEFAULT_CERTIFICATE_LIFETIME, type CertificateLifetime } from '../../config/opcua-lifetime';

export interface RenewerOptions {
  readonly issuer: OpcuaIssuer;
  readonly identity: OpcuaIdentity;
  /** `server` or `client`: the metric's role label. */
  readonly role: 'server' | 'client';
  readonly san: { readonly dns: readonly string[]; readonly ips: readonly string[] };
  readonly lifetime: CertificateLifetime;
  /** Called after a new certificate is installed (DER). */
  readonly onRenewed?: (der: Buffer) => void | Promise<void>;
  readonly audit?: (records: AuditRecordInput[]) => void;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Retry delay after a failed renewal. @default min(60 s, renewBeforeMs / 10) */
  readonly retryMs?: number;
}

/** SANs of a certificate as sorted `DNS:`/`IP:`/`URI:` strings. */
function sans(der: Buffer): string[] {
  const text = new crypto.X509Certificate(der).subjectAltName ?? '';
  return text.split(', ').filter(Boolean).map((s) => s.replace(/^IP Address:/, 'IP:')).sort();
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class OpcuaCertificateRenewer {
  readonly #o: RenewerOptions;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #notAfter = 0;
  #renewing: Promise<Buffer> | undefined;

  constructor(options: RenewerOptions) {
    this.#o = options;
  }

  get notAfter(): Date { return new Date(this.#notAfter); }
  /** When the scheduled renewal runs. */
  get renewsAt(): Date { return new Date(this.#notAfter - this.#o.lifetime.renewBeforeMs); }

  /**
   * Issues a certificate now when there is none, it is not the issuer's (a self-signed one from before), its names
   * differ from the wanted ones or it is inside the lead time; then schedules the next renewal. Returns what it did.
   */
  async start(): Promise<'kept' | 'issued'> {
    const id = this.#o.identity;
    const want = [...this.#o.san.dns.map((d) => `DNS:${d}`), ...this.#o.san.ips.map((i) => `IP:${i}`), `URI:${id.applicationUri}`].sort();
    let current: Buffer | undefined;
    try { current = Buffer.from(new crypto.X509Certificate(fs.readFileSync(id.certificateFile)).raw); } catch { current = undefined; }
    const keyMatches = current !== undefined && this.#keyMatches(current);
    const fresh = current !== undefined && keyMatches && isIssuedBy(this.#o.issuer, current) && JSON.stringify(sans(current)) === JSON.stringify(want)
      && Date.parse(new crypto.X509Certificate(current).validTo) - Date.now() > this.#o.lifetime.renewBeforeMs;
    if (fresh && current !== undefined) {
      this.#installed(current);
      return 'kept';
    }
    await this.renew(current === undefined ? 'missing' : !keyMatches ? 'key_mismatch' : 'replaced');
    return 'issued';
  }

  #keyMatches(der: Buffer): boolean {
    try { return new crypto.X509Certificate(der).checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(this.#o.identity.privateKeyFile))); } catch { return false; }
  }

  /**
   * Renews now (the schedule, or an operator's request). `rekey`: a new key pair also for a client (its open
   * channel then fails at its next token renewal and reconnects into a new session), as after a key compromise.
   * Concurrent calls share one renewal.
   */
  renew(reason = 'requested', rekey = false): Promise<Buffer> {
    this.#renewing ??= this.#renew(reason, rekey).finally(() => { this.#renewing = undefined; });
    return this.#renewing;
  }

  async #renew(reason: string, rekeyRequested: boolean): Promise<Buffer> {
    const o = this.#o;
    const before = this.#notAfter;
    let der: Buffer;
    try {
      const rekey = rekeyRequested || o.role === 'server' || reason === 'missing' || reason === 'key_mismatch';
      der = await issueApplicationCertificate(o.issuer, o.identity, { dns: o.san.dns, ips: o.san.ips, lifetimeMs: o.lifetime.lifetimeMs, rekey });
    } catch (err) {
      const e = new GlimmerError('GLM_ERR_OPCUA_CERT_RENEWAL_FAILED', `the OPC UA certificate of ${quote(o.identity.name)} could not be renewed: ${(err as Error).message}`, { cause: err });
      o.metrics?.opcuaCertificateRenewals.inc({ role: o.role, application: o.identity.name, outcome: 'failed' });
      o.logger?.error({ application: o.identity.name, code: e.code, err: (err as Error).message }, 'OPC UA certificate renewal failed; the current certificate stays in use');
      o.audit?.([{ type: 'opcua.certificate.renewal_failed', application: o.identity.name, role: o.role, code: e.code, reason, not_after: before > 0 ? new Date(before).toISOString() : null }]);
      this.#schedule(o.retryMs ?? Math.min(60_000, o.lifetime.renewBeforeMs / 10));
      throw e;
    }
    this.#installed(der);
    o.metrics?.opcuaCertificateRenewals.inc({ role: o.role, application: o.identity.name, outcome: 'renewed' });
    const d = describeCertificate(der);
    o.audit?.([{ type: 'opcua.certificate.renewed', application: o.identity.name, role: o.role, reason, thumbprint: d.thumbprint, not_after: new Date(this.#notAfter).toISOString() }]);
    o.logger?.info({ application: o.identity.name, thumbprint: d.thumbprint, not_after: new Date(this.#notAfter).toISOString(), reason }, 'OPC UA certificate renewed');
    try {
      await o.onRenewed?.(der);
    } catch (err) {
      o.logger?.error({ application: o.identity.name, code: asGlimmerError(err).code }, 'OPC UA certificate renewed on disk but the application did not take it');
    }
    return der;
  }

  #installed(der: Buffer): void {
    this.#notAfter = Date.parse(new crypto.X509Certificate(der).validTo);
    const labels = { role: this.#o.role, application: this.#o.identity.name };
    this.#o.metrics?.opcuaCertificateExpiry.set(labels, this.#notAfter / 1000);
    this.#o.metrics?.opcuaCertificateRenewBefore.set(labels, this.#o.lifetime.renewBeforeMs / 1000);
    this.#schedule(this.#notAfter - this.#o.lifetime.renewBeforeMs - Date.now());
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    const delay = Math.max(0, delayMs);
    // Timers cap at about 24.8 days: a longer wait re-arms until the renewal is due.
    this.#timer = setTimeout(() => {
      if (this.#notAfter - this.#o.lifetime.renewBeforeMs > Date.now() + 1000 && delay >= MAX_TIMER_MS) { this.#schedule(this.#notAfter - this.#o.lifetime.renewBeforeMs - Date.now()); return; }
      this.renew('expiring').catch(() => undefined);
    }, Math.min(delay, MAX_TIMER_MS));
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
