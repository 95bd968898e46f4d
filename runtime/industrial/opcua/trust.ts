/**
 * The certificate trust workflow of the plant OPC UA server (Part 12 style, as SCADA integrators know it from Ignition
 * or Kepware): list the client certificates the server has seen, trust one (it leaves rejected/), reject one (it
 * leaves trusted/), revoke one (rejected and every live session of it dropped), and add issuer certificates and their
 * CRLs (a certificate a CRL lists is refused with BadCertificateRevoked).
 * Certificates are named by their SHA-1 thumbprint (hex), as OPC UA tools show them.
 *
 * This is the one home of run-time changes to an OPC UA trust list: the API routes and the revocation feed both call
 * `add`, `revoke` and `closeSessionsOf` here. A certificate Glimmer's OPC UA issuer signed is revoked on the issuer's
 * CRL (refused by every store that trusts the issuer, whatever folder it sits in); any other one leaves trusted/.
 * The store does not audit: its caller does, with the identity of whoever asked.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type * as Opcua from 'node-opcua';
import { GlimmerError, quote } from '../../errors';
import { isIssuedBy, revokeIssued, revokedSerials, type OpcuaIssuer } from './issuer';
import { certificatePolicyStatus, describeCertificate } from './pki';

export interface CertificateEntry {
  readonly thumbprint: string;
  readonly subject: string;
  readonly application_uri: string;
  readonly not_after: string;
  /** trusted: in trusted/ or signed by a trusted issuer; revoked: on the issuer's CRL. */
  readonly status: 'trusted' | 'rejected' | 'revoked';
  readonly serial: string;
}

function entry(der: Buffer, status: CertificateEntry['status']): CertificateEntry {
  const x = new crypto.X509Certificate(der);
  const uri = /URI:([^,\s]+)/.exec(x.subjectAltName ?? '')?.[1] ?? '';
  return { ...describeCertificate(der), application_uri: uri, not_after: new Date(x.validTo).toISOString(), status, serial: normalSerial(x.serialNumber) };
}

const normalSerial = (serial: string): string => serial.replace(/:/g, '').toLowerCase().replace(/^0+(?=.)/, '');

/** Closes the live sessions and secure channels presenting a certificate; returns how many sessions. */
export type SessionCloser = (thumbprint: string) => number;

export interface TrustStoreOptions {
  /** Glimmer's OPC UA issuer: certificates it signed are trusted through it and revoked on its CRL. */
  readonly issuer?: OpcuaIssuer;
}

/** DER of every certificate file in a folder (PEM or DER files; unreadable ones skipped). */
function readFolder(dir: string): Buffer[] {
  if (!fs.existsSync(dir)) return [];
  const out: Buffer[] = [];
  for (const name of fs.readdirSync(dir)) {
    try {
      out.push(Buffer.from(new crypto.X509Certificate(fs.readFileSync(path.join(dir, name))).raw));
    } catch { /* not a certificate: CRLs and stray files live next to them */ }
  }
  return out;
}

export class OpcuaTrustStore {
  readonly #closers = new Set<SessionCloser>();
  readonly #issuer: OpcuaIssuer | undefined;

  constructor(private readonly cm: Opcua.OPCUACertificateManager, options: TrustStoreOptions = {}) {
    this.#issuer = options.issuer;
  }

  /** Registers who closes sessions of a certificate (the OPC UA server of this store); returns the unregistration. */
  onCloseSessions(closer: SessionCloser): () => void {
    this.#closers.add(closer);
    return () => this.#closers.delete(closer);
  }

  /** Closes every live session and secure channel presenting this certificate; returns how many sessions. */
  closeSessionsOf(thumbprint: string): number {
    const want = thumbprint.toLowerCase();
    let closed = 0;
    for (const close of this.#closers) closed += close(want);
    return closed;
  }

  async list(): Promise<CertificateEntry[]> {
    const root = this.cm.rootDir;
    const revoked = this.#issuer ? await revokedSerials(this.#issuer) : new Set<string>();
    const status = (der: Buffer, folder: 'trusted' | 'rejected'): CertificateEntry['status'] => {
      if (this.#issuer === undefined || !isIssuedBy(this.#issuer, der)) return folder;
      return revoked.has(normalSerial(new crypto.X509Certificate(der).serialNumber)) ? 'revoked' : 'trusted';
    };
    const seen = new Map<string, CertificateEntry>();
    for (const der of readFolder(path.join(root, 'trusted', 'certs'))) {
      // The issuer itself sits in trusted/ so that what it signs is trusted; it is not a peer.
      if (this.#issuer !== undefined && der.equals(this.#issuer.der)) continue;
      const e = entry(der, status(der, 'trusted')); seen.set(e.thumbprint, e);
    }
    for (const der of readFolder(path.join(root, 'rejected'))) { const e = entry(der, status(der, 'rejected')); if (!seen.has(e.thumbprint)) seen.set(e.thumbprint, e); }
    // Glimmer's own applications beside this store (the industrial agents' clients) are trusted through the issuer.
    if (this.#issuer !== undefined) {
      for (const der of this.#siblings().filter((d) => isIssuedBy(this.#issuer as OpcuaIssuer, d))) {
        const e = entry(der, status(der, 'trusted'));
        if (!seen.has(e.thumbprint)) seen.set(e.thumbprint, e);
      }
    }
    return [...seen.values()].sort((a, b) => a.subject.localeCompare(b.subject) || a.thumbprint.localeCompare(b.thumbprint));
  }

  /** Thumbprints of the known certificates with this serial number (hex, any case, colons allowed). */
  findBySerial(serial: string): string[] {
    const want = normalSerial(serial);
    return [...new Set(this.#candidates().filter((der) => normalSerial(new crypto.X509Certificate(der).serialNumber) === want).map((der) => describeCertificate(der).thumbprint))];
  }

  /** The store's trusted/ and rejected/ folders, and the own certificates of the applications beside it in the state dir. */
  #candidates(): Buffer[] {
    const root = this.cm.rootDir;
    return [...readFolder(path.join(root, 'rejected')), ...readFolder(path.join(root, 'trusted', 'certs')), ...this.#siblings()];
  }

  /** The own certificates of the other applications in the state dir (not this store's own). */
  #siblings(): Buffer[] {
    const root = path.resolve(this.cm.rootDir);
    const parent = path.dirname(root);
    if (!fs.existsSync(parent)) return [];
    return fs.readdirSync(parent).map((n) => path.join(parent, n)).filter((d) => d !== root).flatMap((d) => readFolder(path.join(d, 'own', 'certs')));
  }

  #find(thumbprint: string): Buffer {
    const want = thumbprint.toLowerCase().replace(/[^0-9a-f]/g, '');
    for (const der of this.#candidates()) {
      if (describeCertificate(der).thumbprint === want) return der;
    }
    throw new GlimmerError('GLM_ERR_OPCUA_CERT_UNKNOWN', `no OPC UA certificate with thumbprint ${quote(thumbprint)} in trusted/, rejected/ or the state dir's applications`);
  }

  /**
   * Adds a peer certificate (PEM or DER) to trusted/ before the peer ever connects. Refused: anything that is not
   * an application instance certificate this server's policies can use (key size, key usage, validity period).
   */
  async add(data: Buffer): Promise<CertificateEntry> {
    let der: Buffer;
    try { der = Buffer.from(new crypto.X509Certificate(data).raw); } catch (err) {
      throw new GlimmerError('GLM_ERR_OPCUA_CERT_INVALID', `the certificate cannot be parsed: ${(err as Error).message}`, { cause: err });
    }
    const policy = certificatePolicyStatus(der);
    if (policy !== undefined) throw new GlimmerError('GLM_ERR_OPCUA_CERT_INVALID', `the certificate ${quote(describeCertificate(der).thumbprint)} is not usable as an OPC UA application certificate: ${policy}`);
    await this.cm.trustCertificate(der);
    return entry(der, 'trusted');
  }

  /**
   * Refuses a certificate from now on and closes its live sessions. Signed by Glimmer's issuer: its serial goes on
   * the issuer's CRL (every store trusting the issuer refuses it); otherwise it moves to rejected/. Idempotent.
   */
  async revoke(thumbprint: string, reason = 'unspecified'): Promise<{ entry: CertificateEntry; sessionsClosed: number }> {
    const der = this.#find(thumbprint);
    let status: CertificateEntry['status'] = 'rejected';
    if (this.#issuer !== undefined && isIssuedBy(this.#issuer, der)) {
      const crl = await revokeIssued(this.#issuer, der, reason);
      const added = await this.cm.addRevocationList(crl, 'trusted');
      if (added !== 'Good') throw new GlimmerError('GLM_ERR_OPCUA_CERT_INVALID', `the issuer's new CRL was refused by the store: ${added}`);
      status = 'revoked';
    }
    await this.cm.rejectCertificate(der);
    const e = entry(der, status);
    return { entry: e, sessionsClosed: this.closeSessionsOf(e.thumbprint) };
  }

  /** Trusts a certificate the server has seen (moved out of rejected/). */
  async trust(thumbprint: string): Promise<CertificateEntry> {
    const der = this.#find(thumbprint);
    await this.cm.trustCertificate(der);
    return entry(der, 'trusted');
  }

  /** Moves a certificate to rejected/: new secure channels with it are refused. */
  async reject(thumbprint: string): Promise<CertificateEntry> {
    const der = this.#find(thumbprint);
    await this.cm.rejectCertificate(der);
    return entry(der, 'rejected');
  }

  /** Adds an issuer (CA) certificate, PEM or DER; returns its thumbprint. */
  async addIssuer(data: Buffer): Promise<string> {
    let der: Buffer;
    try { der = Buffer.from(new crypto.X509Certificate(data).raw); } catch (err) {
      throw new GlimmerError('GLM_ERR_OPCUA_CERT_INVALID', `the issuer certificate cannot be parsed: ${(err as Error).message}`, { cause: err });
    }
    const status = await this.cm.addIssuer(der, false, false);
    if (status !== 'Good') throw new GlimmerError('GLM_ERR_OPCUA_CERT_INVALID', `the issuer certificate was refused by the store: ${status}`);
    return describeCertificate(der).thumbprint;
  }

  /** Adds an issuer's CRL (PEM or DER): certificates it lists are refused with BadCertificateRevoked. */
  async addCrl(data: Buffer): Promise<void> {
    const text = data.toString('latin1');
    const der = text.includes('-----BEGIN X509 CRL-----')
      ? Buffer.from(text.replace(/-----(BEGIN|END) X509 CRL-----/g, '').replace(/\s+/g, ''), 'base64')
      : data;
    if (der.length < 16 || der[0] !== 0x30) throw new GlimmerError('GLM_ERR_OPCUA_CERT_INVALID', 'the CRL is neither PEM (X509 CRL) nor DER');
    try {
      await this.cm.addRevocationList(der, 'issuers');
    } catch (err) {
      throw new GlimmerError('GLM_ERR_OPCUA_CERT_INVALID', `the CRL was refused by the store: ${(err as Error).message}`, { cause: err });
    }
  }
}
