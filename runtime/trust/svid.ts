/**
 * X.509-SVIDs: issuing (by the internal CA, @peculiar/x509) and validating (Node's crypto.X509Certificate for the
 * chain, dates, serial and extended key usage; a bounds-checked DER reader for the SAN URIs and keyUsage bits).
 *
 * An SVID carries exactly one URI SAN (the SPIFFE ID), is not a CA, has keyUsage digitalSignature and the extended
 * key usages clientAuth and serverAuth. Each way a certificate can fail has its own error code, checked in this order:
 * UNREADABLE, UNKNOWN_CA, NOT_YET_VALID / EXPIRED, REVOKED (serial), KEY_USAGE, SAN_INVALID, FOREIGN_TRUST_DOMAIN,
 * REVOKED (SPIFFE ID), IDENTITY_MISMATCH.
 */
import { X509Certificate as NodeX509, createPublicKey, webcrypto } from 'node:crypto';
import { GlimmerError, quote } from '../errors';
import type { Ca } from './ca';
import { readSvidExtensions, type SvidExtensions } from './der';
import { agentSpiffeId, operatorSpiffeId, parseSpiffeId, type SpiffeId } from './spiffe';
import { x509, type X509Module, EC_KEY_ALGORITHM, EC_SIGNING_ALGORITHM, exportKeyPem, importKeyPairPem, normalizeSerial, randomSerial } from './x509';

/** The X.509-SVID an agent process holds, as PEM: its certificate, its key and the trust bundle it verifies peers with. */
export interface AgentIdentity {
  readonly certPem: string;
  readonly keyPem: string;
  readonly bundlePem: string;
}

export interface IssuedSvid {
  readonly certPem: string;
  readonly keyPem: string;
  readonly spiffeId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Lowercase hex, no leading zeros: the form the revocation list uses. */
  readonly serial: string;
}

export interface IssueSvidOptions {
  readonly zone: string;
  readonly agent: string;
  /** @default 3600 (SPIFFE/SPIRE's default X.509-SVID TTL) */
  readonly ttlSeconds?: number;
  /** An existing private key (PKCS#8 PEM, P-256) to certify, e.g. one the TPM kept sealed. @default a fresh key */
  readonly keyPem?: string;
}

export type ExtendedKeyUsageName = 'clientAuth' | 'serverAuth';

/**
 * Low-level certificate options. `issueSvid` uses the safe defaults; tests and tooling use the overrides to make the
 * exact bad certificate a refusal needs (two URI SANs, a CA flag, no clientAuth, a date in the future, ...).
 */
export interface LeafOptions {
  /** URI SANs; an empty list omits the subjectAltName extension. */
  readonly uris: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** @default ['clientAuth', 'serverAuth']; an empty list omits the extension. */
  readonly eku?: readonly ExtendedKeyUsageName[];
  /** @default 'digitalSignature'; 'none' omits the extension. */
  readonly keyUsage?: 'digitalSignature' | 'keyEncipherment' | 'none';
  /** @default false */
  readonly isCa?: boolean;
  /** @default a random 128-bit serial */
  readonly serial?: string;
  /** @default a fresh P-256 key pair */
  readonly keys?: webcrypto.CryptoKeyPair;
}

/** Clock skew allowance: certificates start this long before they are issued. */
const BACKDATE_MS = 60_000;
const MAX_TTL_SECONDS = 30 * 24 * 3600;

export async function issueSvid(ca: Ca, options: IssueSvidOptions): Promise<IssuedSvid> {
  const keys = options.keyPem === undefined ? undefined : await importKeyPairPem(options.keyPem, createPublicKey(options.keyPem).export({ type: 'spki', format: 'der' }));
  return issueFor(ca, agentSpiffeId(ca.trustDomain, options.zone, options.agent), options.ttlSeconds, keys);
}

/** An operator identity `spiffe://<td>/operator/<name>` (console and CLI clients over mTLS). */
export async function issueOperatorSvid(ca: Ca, options: { readonly operator: string; readonly ttlSeconds?: number }): Promise<IssuedSvid> {
  return issueFor(ca, operatorSpiffeId(ca.trustDomain, options.operator), options.ttlSeconds);
}

async function issueFor(ca: Ca, spiffeId: string, ttlSeconds = 3600, keys?: webcrypto.CryptoKeyPair): Promise<IssuedSvid> {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > MAX_TTL_SECONDS) {
    throw new GlimmerError('GLM_ERR_USAGE', `ttlSeconds must be an integer 60..${MAX_TTL_SECONDS}, received ${quote(ttlSeconds)}`);
  }
  const now = Date.now();
  return issueLeaf(ca, { uris: [spiffeId], notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + ttlSeconds * 1000), ...(keys ? { keys } : {}) });
}

export async function issueLeaf(ca: Ca, options: LeafOptions): Promise<IssuedSvid> {
  const X = x509();
  const keys = options.keys ?? ((await webcrypto.subtle.generateKey(EC_KEY_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair);
  const caCert = new X.X509Certificate(ca.certPem);
  const serial = options.serial ?? randomSerial();
  const eku = options.eku ?? ['clientAuth', 'serverAuth'];
  const keyUsage = options.keyUsage ?? 'digitalSignature';
  const extensions: InstanceType<X509Module['Extension']>[] = [
    new X.BasicConstraintsExtension(options.isCa ?? false, undefined, true),
    await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await X.AuthorityKeyIdentifierExtension.create(caCert),
  ];
  if (options.uris.length > 0) extensions.push(new X.SubjectAlternativeNameExtension(options.uris.map((value) => ({ type: 'url' as const, value })), true));
  if (keyUsage !== 'none') extensions.push(new X.KeyUsagesExtension(X.KeyUsageFlags[keyUsage], true));
  if (eku.length > 0) extensions.push(new X.ExtendedKeyUsageExtension(eku.map((u) => X.ExtendedKeyUsage[u]), false));
  const cert = await X.X509CertificateGenerator.create({
    serialNumber: serial,
    // SPIFFE: the subject is not the identity; keep it empty-ish but present for tools that print it.
    subject: 'O=Glimmer',
    issuer: caCert.subject,
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    signingAlgorithm: EC_SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions,
  });
  return {
    certPem: cert.toString('pem') + '\n',
    keyPem: await exportKeyPem(keys.privateKey),
    spiffeId: options.uris[0] ?? '',
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serial: normalizeSerial(serial),
  };
}

export type SvidIdentity = SpiffeId & {
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
};

export interface ValidateSvidOptions {
  /** PEM of the trusted CA certificates. */
  readonly bundlePem: string;
  readonly trustDomain: string;
  /** The identity the caller expects; each given field must match. */
  readonly expect?: { readonly zone?: string; readonly agent?: string; readonly operator?: string };
  /** @default new Date() */
  readonly now?: Date;
  /** Serials as lowercase hex without leading zeros (see normalizeSerial). */
  readonly revokedSerials?: ReadonlySet<string>;
  /** Revoked identities: any certificate carrying one of these SPIFFE IDs is refused (GLM_ERR_CERT_REVOKED). */
  readonly revokedSpiffeIds?: ReadonlySet<string>;
  /** The extended key usage the certificate's role requires; omitted: none checked beyond keyUsage. */
  readonly requiredEku?: ExtendedKeyUsageName;
}

const EKU_OID: Record<ExtendedKeyUsageName, string> = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' };
const KU_DIGITAL_SIGNATURE = 1;
const KU_CA_BITS = 32 | 64; // keyCertSign | cRLSign

/** Parsed bundles, keyed by their PEM text (bundles change rarely; validation runs per handshake). */
const bundleCache = new Map<string, readonly NodeX509[]>();

function parseBundle(bundlePem: string): readonly NodeX509[] {
  const cached = bundleCache.get(bundlePem);
  if (cached) return cached;
  const blocks = bundlePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  let certs: NodeX509[];
  try {
    certs = blocks.map((b) => new NodeX509(b));
  } catch (err) {
    throw new GlimmerError('GLM_ERR_CERT_UNREADABLE', 'the trust bundle contains a certificate that cannot be parsed', { cause: err });
  }
  if (certs.length === 0) throw new GlimmerError('GLM_ERR_CERT_UNREADABLE', 'the trust bundle contains no certificate');
  if (bundleCache.size > 16) bundleCache.clear();
  bundleCache.set(bundlePem, certs);
  return certs;
}

/**
 * Validates an X.509-SVID (PEM or DER) and returns the identity it proves. Throws GlimmerError with one of the
 * GLM_ERR_CERT_* codes; the message names the certificate's serial or SPIFFE ID, never key material.
 */
export function validateSvid(cert: string | Uint8Array, options: ValidateSvidOptions): SvidIdentity {
  const now = (options.now ?? new Date()).getTime();
  let leaf: NodeX509;
  try {
    leaf = new NodeX509(typeof cert === 'string' ? cert : Buffer.from(cert));
  } catch (err) {
    throw new GlimmerError('GLM_ERR_CERT_UNREADABLE', 'the certificate cannot be parsed as X.509', { cause: err });
  }
  const serial = normalizeSerial(leaf.serialNumber);
  const who = `certificate serial ${serial}`;

  const issuer = parseBundle(options.bundlePem).find((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  if (issuer === undefined) {
    throw new GlimmerError('GLM_ERR_CERT_UNKNOWN_CA', `${who} (issuer ${quote(leaf.issuer)}) does not chain to the trust bundle`, { details: { serial } });
  }
  if (!issuer.ca) throw new GlimmerError('GLM_ERR_CERT_UNKNOWN_CA', `${who} is issued by a bundle certificate that is not a CA`, { details: { serial } });
  if (Date.parse(issuer.validTo) < now) {
    throw new GlimmerError('GLM_ERR_CERT_EXPIRED', `the CA that issued ${who} expired at ${new Date(Date.parse(issuer.validTo)).toISOString()}`, { details: { serial } });
  }

  const notBefore = new Date(Date.parse(leaf.validFrom));
  const notAfter = new Date(Date.parse(leaf.validTo));
  if (now < notBefore.getTime()) {
    throw new GlimmerError('GLM_ERR_CERT_NOT_YET_VALID', `${who} is not valid before ${notBefore.toISOString()}`, { details: { serial } });
  }
  if (now > notAfter.getTime()) {
    throw new GlimmerError('GLM_ERR_CERT_EXPIRED', `${who} expired at ${notAfter.toISOString()}`, { details: { serial } });
  }
  if (options.revokedSerials?.has(serial)) {
    throw new GlimmerError('GLM_ERR_CERT_REVOKED', `${who} is revoked`, { details: { serial } });
  }

  const ext = readExtensions(leaf.raw, who);
  if (ext.isCa || leaf.ca) throw new GlimmerError('GLM_ERR_CERT_KEY_USAGE', `${who} is a CA certificate; an SVID must not be`, { details: { serial } });
  if (ext.keyUsage === undefined || (ext.keyUsage & KU_DIGITAL_SIGNATURE) === 0 || (ext.keyUsage & KU_CA_BITS) !== 0) {
    throw new GlimmerError('GLM_ERR_CERT_KEY_USAGE', `${who} lacks keyUsage digitalSignature or has certificate-signing usages`, { details: { serial } });
  }
  if (options.requiredEku !== undefined && !(leaf.keyUsage ?? []).includes(EKU_OID[options.requiredEku])) {
    throw new GlimmerError('GLM_ERR_CERT_KEY_USAGE', `${who} lacks extended key usage ${options.requiredEku}`, { details: { serial } });
  }

  if (ext.uris.length !== 1) {
    throw new GlimmerError('GLM_ERR_CERT_SAN_INVALID', `${who} has ${ext.uris.length} URI SANs; an SVID has exactly one`, { details: { serial } });
  }
  const id = parseSpiffeId(ext.uris[0] as string);
  if (id.trustDomain !== options.trustDomain) {
    throw new GlimmerError('GLM_ERR_CERT_FOREIGN_TRUST_DOMAIN', `${quote(id.spiffeId)} belongs to trust domain ${quote(id.trustDomain)}, not ${quote(options.trustDomain)}`, { details: { serial } });
  }
  if (options.revokedSpiffeIds !== undefined && options.revokedSpiffeIds.size > 0 && options.revokedSpiffeIds.has(id.spiffeId)) {
    throw new GlimmerError('GLM_ERR_CERT_REVOKED', `${quote(id.spiffeId)} (${who}) is a revoked identity`, { details: { serial } });
  }

  const expect = options.expect;
  if (expect !== undefined) {
    const mismatch =
      (expect.zone !== undefined && (id.kind !== 'agent' || id.zone !== expect.zone)) ||
      (expect.agent !== undefined && (id.kind !== 'agent' || id.agent !== expect.agent)) ||
      (expect.operator !== undefined && (id.kind !== 'operator' || id.operator !== expect.operator));
    if (mismatch) {
      throw new GlimmerError('GLM_ERR_CERT_IDENTITY_MISMATCH',
        `${quote(id.spiffeId)} is not the expected identity ${quote(describeExpect(expect))}`, { details: { serial } });
    }
  }
  return { ...id, serial, notBefore, notAfter };
}

function describeExpect(expect: NonNullable<ValidateSvidOptions['expect']>): string {
  return [expect.zone && `zone/${expect.zone}`, expect.agent && `agent/${expect.agent}`, expect.operator && `operator/${expect.operator}`]
    .filter(Boolean).join('/');
}

function readExtensions(der: Uint8Array, who: string): SvidExtensions {
  let ext: SvidExtensions;
  try {
    ext = readSvidExtensions(der);
  } catch (err) {
    throw new GlimmerError('GLM_ERR_CERT_UNREADABLE', `the extensions of ${who} cannot be parsed`, { cause: err });
  }
  if (ext.sanExtensions > 1) {
    throw new GlimmerError('GLM_ERR_CERT_SAN_INVALID', `${who} has ${ext.sanExtensions} subjectAltName extensions; an SVID has one`);
  }
  return ext;
}
