/**
 * The certificate trust workflow of the plant OPC UA server (Part 12 style, as SCADA integrators know it from Ignition
 * or Kepware): list the client certificates the server has seen, trust one (it leaves rejected/), reject one (it
 * leaves trusted/), revoke one (rejected and every live session of it dropped), and add issuer certificates and their
 * CRLs (a certificate a CRL lists is refused with BadCertificateRevoked).
 * Certificates are named by their SHA-1 thumbprint (hex), as OPC UA tools show them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type * as Opcua from 'node-opcua';
import { GlimmerError, quote } from '../../errors';
import { describeCertificate } from './pki';

export interface CertificateEntry {
  readonly thumbprint: string;
  readonly subject: string;
  readonly application_uri: string;
  readonly not_after: string;
  readonly status: 'trusted' | 'rejected';
}

function entry(der: Buffer, status: CertificateEntry['status']): CertificateEntry {
  const x = new crypto.X509Certificate(der);
  const uri = /URI:([^,\s]+)/.exec(x.subjectAltName ?? '')?.[1] ?? '';
  return { ...describeCertificate(der), application_uri: uri, not_after: new Date(x.validTo).toISOString(), status };
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
  constructor(private readonly cm: Opcua.OPCUACertificateManager) {}

  list(): CertificateEntry[] {
    const root = this.cm.rootDir;
    const seen = new Map<string, CertificateEntry>();
    for (const der of readFolder(path.join(root, 'trusted', 'certs'))) { const e = entry(der, 'trusted'); seen.set(e.thumbprint, e); }
    for (const der of readFolder(path.join(root, 'rejected'))) { const e = entry(der, 'rejected'); if (!seen.has(e.thumbprint)) seen.set(e.thumbprint, e); }
    return [...seen.values()].sort((a, b) => a.subject.localeCompare(b.subject) || a.thumbprint.localeCompare(b.thumbprint));
  }

  #find(thumbprint: string): Buffer {
    const want = thumbprint.toLowerCase().replace(/[^0-9a-f]/g, '');
    const root = this.cm.rootDir;
    for (const der of [...readFolder(path.join(root, 'rejected')), ...readFolder(path.join(root, 'trusted', 'certs'))]) {
      if (describeCertificate(der).thumbprint === want) return der;
    }
    throw new GlimmerError('GLM_ERR_OPCUA_CERT_UNKNOWN', `no OPC UA client certificate with thumbprint ${quote(thumbprint)} in trusted/ or rejected/`);
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
