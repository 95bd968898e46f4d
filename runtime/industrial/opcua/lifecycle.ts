/**
 * The OPC UA certificate lifecycle of one runtime: Glimmer's OPC UA issuer and a renewer per application certificate
 * it manages (the plant server's, each industrial agent client's). The process that holds the issuer's key runs it;
 * agent processes only read their renewed certificate files.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { GlimmerError, quote } from '../../errors';
import type { AuditRecordInput } from '../../model/messages';
import type { Logger } from '../../observability/logger';
import type { Metrics } from '../../observability/metrics';
import { ensureOpcuaIssuer, issuerCrl, type OpcuaIssuer } from './issuer';
import { describeCertificate, type OpcuaIdentity } from './pki';
import { checkLifetime, OpcuaCertificateRenewer, type CertificateLifetime, type RenewerOptions } from './renewal';

export interface LifecycleOptions {
  readonly lifetime: CertificateLifetime;
  readonly audit?: (records: AuditRecordInput[]) => void;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
}

export interface OwnCertificate {
  readonly application: string;
  readonly role: 'server' | 'client';
  readonly thumbprint: string;
  readonly not_after: string;
  readonly renews_at: string;
}

const pem = (der: Buffer, label: string): string => `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;

export class OpcuaCertificateLifecycle {
  readonly #renewers = new Map<string, { renewer: OpcuaCertificateRenewer; identity: OpcuaIdentity; role: 'server' | 'client' }>();

  private constructor(readonly issuer: OpcuaIssuer, private readonly options: LifecycleOptions) {}

  static async open(stateDir: string, options: LifecycleOptions): Promise<OpcuaCertificateLifecycle> {
    checkLifetime(options.lifetime);
    return new OpcuaCertificateLifecycle(await ensureOpcuaIssuer(stateDir), options);
  }

  get lifetime(): CertificateLifetime { return this.options.lifetime; }

  /** Brings `identity`'s certificate up to date (issued by the issuer, wanted names, outside the lead time) and keeps it renewed. */
  async manage(identity: OpcuaIdentity, role: 'server' | 'client', san: RenewerOptions['san'], onRenewed?: RenewerOptions['onRenewed']): Promise<OpcuaCertificateRenewer> {
    this.#renewers.get(identity.name)?.renewer.stop();
    const renewer = new OpcuaCertificateRenewer({
      issuer: this.issuer, identity, role, san, lifetime: this.options.lifetime, ...(onRenewed ? { onRenewed } : {}),
      ...(this.options.audit ? { audit: this.options.audit } : {}), ...(this.options.logger ? { logger: this.options.logger } : {}), ...(this.options.metrics ? { metrics: this.options.metrics } : {}),
    });
    await renewer.start();
    this.#renewers.set(identity.name, { renewer, identity, role });
    return renewer;
  }

  own(): OwnCertificate[] {
    return [...this.#renewers.values()].map(({ renewer, identity, role }) => {
      let thumbprint = '';
      try { thumbprint = describeCertificate(Buffer.from(new crypto.X509Certificate(fs.readFileSync(identity.certificateFile)).raw)).thumbprint; } catch { /* reported by the renewer */ }
      return { application: identity.name, role, thumbprint, not_after: renewer.notAfter.toISOString(), renews_at: renewer.renewsAt.toISOString() };
    }).sort((a, b) => a.application.localeCompare(b.application));
  }

  /** Renews one application's certificate with a new key now, on an operator's request (audited with who asked). */
  async renew(application: string, by: string): Promise<OwnCertificate> {
    const r = this.#renewers.get(application);
    if (r === undefined) throw new GlimmerError('GLM_ERR_OPCUA_CERT_UNKNOWN', `no OPC UA application ${quote(application)} whose certificate Glimmer renews; known: ${[...this.#renewers.keys()].join(', ')}`);
    await r.renewer.renew(`requested by ${by}`, true);
    return this.own().find((o) => o.application === application) as OwnCertificate;
  }

  /** The issuer's certificate and current CRL (PEM): what an external peer imports to trust Glimmer's applications. */
  async issuerMaterial(): Promise<{ certificate: string; crl: string; thumbprint: string }> {
    return { certificate: this.issuer.certPem, crl: pem(await issuerCrl(this.issuer), 'X509 CRL'), thumbprint: describeCertificate(this.issuer.der).thumbprint };
  }

  stop(): void {
    for (const { renewer } of this.#renewers.values()) renewer.stop();
  }
}
