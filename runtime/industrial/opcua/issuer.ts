/**
 * Glimmer's OPC UA issuer: one RSA CA per state dir (`<stateDir>/opcua/ca/`, directory 0700, key 0600) that issues
 * the application instance certificates of the plant server and of the industrial agents' clients, and publishes a
 * CRL of what it revoked.
 *
 * Why an issuer rather than self-signed certificates pushed to each peer's trust list: a peer that trusts the issuer
 * accepts every renewed certificate it signs with no change on the peer (Part 12's CA-signed model), which also holds
 * for peers Glimmer cannot write to (a SCADA client, a real PLC); pushing a new self-signed certificate needs write
 * access to every trust list and leaves a window where a peer refuses it. Revocation is the issuer's CRL, which every
 * Glimmer store loads and which external peers fetch from the API.
 * RSA, not EC: the OPC UA security policies Glimmer offers (Basic256Sha256, Aes256_Sha256_RsaPss) are RSA-only.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import crypto, { webcrypto } from 'node:crypto';
import path from 'node:path';
import { GlimmerError, quote } from '../../errors';
import { x509, exportKeyPem, randomSerial, normalizeSerial } from '../../trust/x509';
import { opcuaDir, type OpcuaIdentity } from './pki';

const RSA_ALGORITHM = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;
/** @default 20 years: replacing the issuer is an operator act (every peer must trust the new one), not automatic. */
const ISSUER_VALIDITY_MS = 20 * 365 * 86_400_000;
/** The CRL is re-signed on every revocation and at every start; a year covers a long-running process. */
const CRL_VALIDITY_MS = 365 * 86_400_000;

export interface OpcuaIssuer {
  readonly dir: string;
  readonly certPem: string;
  readonly der: Buffer;
  readonly keys: webcrypto.CryptoKeyPair;
}

interface RevokedEntry { readonly serial: string; readonly thumbprint: string; readonly at: string; readonly reason: string }

export function issuerDir(stateDir: string): string { return path.join(opcuaDir(stateDir), 'ca'); }

/** The issuer of this state dir, created on first use (in a temporary directory renamed into place: racing starts share one). */
export async function ensureOpcuaIssuer(stateDir: string): Promise<OpcuaIssuer> {
  const dir = issuerDir(stateDir);
  await mkdir(opcuaDir(stateDir), { recursive: true, mode: 0o700 });
  if (!existsSync(path.join(dir, 'ca.pem'))) {
    const tmp = await mkdtemp(path.join(opcuaDir(stateDir), '.ca-'));
    try {
      const keys = (await webcrypto.subtle.generateKey(RSA_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
      const X = x509();
      const now = Date.now();
      const cert = await X.X509CertificateGenerator.createSelfSigned({
        serialNumber: randomSerial(), name: 'CN=Glimmer OPC UA issuer, O=Glimmer', notBefore: new Date(now - 60_000), notAfter: new Date(now + ISSUER_VALIDITY_MS),
        signingAlgorithm: RSA_ALGORITHM, keys,
        extensions: [
          new X.BasicConstraintsExtension(true, 0, true),
          new X.KeyUsagesExtension(X.KeyUsageFlags.keyCertSign | X.KeyUsageFlags.cRLSign, true),
          await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
      await writeFile(path.join(tmp, 'ca.key'), await exportKeyPem(keys.privateKey), { mode: 0o600, flag: 'wx' });
      await writeFile(path.join(tmp, 'ca.pem'), `${cert.toString('pem')}\n`, { mode: 0o644, flag: 'wx' });
      await writeFile(path.join(tmp, 'revoked.json'), '[]\n', { mode: 0o600, flag: 'wx' });
      await rename(tmp, dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      const code = (err as { code?: unknown }).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  }
  return loadOpcuaIssuer(dir);
}

export async function loadOpcuaIssuer(dir: string): Promise<OpcuaIssuer> {
  try {
    const certPem = await readFile(path.join(dir, 'ca.pem'), 'utf8');
    const keyPem = await readFile(path.join(dir, 'ca.key'), 'utf8');
    const node = new crypto.X509Certificate(certPem);
    const body = Buffer.from(keyPem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, ''), 'base64');
    const privateKey = await webcrypto.subtle.importKey('pkcs8', body, RSA_ALGORITHM, true, ['sign']);
    const publicKey = await webcrypto.subtle.importKey('spki', node.publicKey.export({ type: 'spki', format: 'der' }), RSA_ALGORITHM, true, ['verify']);
    if (!node.checkPrivateKey(crypto.createPrivateKey(keyPem))) throw new Error('ca.key is not the key of ca.pem');
    return { dir, certPem, der: Buffer.from(node.raw), keys: { privateKey, publicKey } };
  } catch (err) {
    throw new GlimmerError('GLM_ERR_OPCUA_ISSUER_UNREADABLE', `the OPC UA issuer in ${quote(dir)} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** True when `der` was signed by this issuer. */
export function isIssuedBy(issuer: OpcuaIssuer, der: Buffer): boolean {
  try {
    const cert = new crypto.X509Certificate(der);
    const ca = new crypto.X509Certificate(issuer.der);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch { return false; }
}

export interface IssueRequest {
  readonly dns: readonly string[];
  readonly ips: readonly string[];
  readonly lifetimeMs: number;
  /**
   * A new key pair with the certificate (true) or the current key certified again (false). Clients keep theirs:
   * node-opcua's client channel decrypts with the key it was opened with but sends whatever certificate is current
   * at each token renewal, so a new key would break its open channel at the next renewal. @default true
   */
  readonly rekey?: boolean;
}

/**
 * Issues `id` a new certificate (with a new RSA key unless `rekey` is false) and installs both.
 * The key file is replaced before the certificate file (each by an atomic rename): a reader that sees the new
 * certificate always finds its key; a failure between the two puts the previous key back.
 */
export async function issueApplicationCertificate(issuer: OpcuaIssuer, id: OpcuaIdentity, request: IssueRequest): Promise<Buffer> {
  const X = x509();
  const now = Date.now();
  const keep = request.rekey === false && existsSync(id.privateKeyFile) ? await readFile(id.privateKeyFile, 'utf8') : undefined;
  const keys: { publicKey: webcrypto.CryptoKey; privateKey?: webcrypto.CryptoKey } = keep === undefined
    ? (await webcrypto.subtle.generateKey(RSA_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair
    : { publicKey: await webcrypto.subtle.importKey('spki', crypto.createPublicKey(keep).export({ type: 'spki', format: 'der' }), RSA_ALGORITHM, true, ['verify']) };
  const issuerCert = new X.X509Certificate(issuer.der);
  const cert = await X.X509CertificateGenerator.create({
    serialNumber: randomSerial(), subject: `CN=${id.name}, O=Glimmer`, issuer: issuerCert.subject,
    notBefore: new Date(now - 60_000), notAfter: new Date(now + request.lifetimeMs),
    signingAlgorithm: RSA_ALGORITHM, publicKey: keys.publicKey, signingKey: issuer.keys.privateKey,
    extensions: [
      new X.BasicConstraintsExtension(false, undefined, true),
      new X.KeyUsagesExtension(X.KeyUsageFlags.digitalSignature | X.KeyUsageFlags.nonRepudiation | X.KeyUsageFlags.keyEncipherment | X.KeyUsageFlags.dataEncipherment, true),
      new X.ExtendedKeyUsageExtension([X.ExtendedKeyUsage.serverAuth, X.ExtendedKeyUsage.clientAuth]),
      new X.SubjectAlternativeNameExtension([
        { type: 'url', value: id.applicationUri },
        ...request.dns.map((value) => ({ type: 'dns' as const, value })),
        ...request.ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await X.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
    ],
  });
  // Leaf then issuer: peers that do not hold the issuer yet still get the whole chain (Part 6 6.2.3).
  const certPem = `${cert.toString('pem')}\n${issuer.certPem.trim()}\n`;
  if (keys.privateKey === undefined) {
    await mkdir(path.dirname(id.certificateFile), { recursive: true, mode: 0o700 });
    await writeFile(`${id.certificateFile}.new`, certPem, { mode: 0o644 });
    await rename(`${id.certificateFile}.new`, id.certificateFile);
    return Buffer.from(cert.rawData);
  }
  const keyPem = await exportKeyPem(keys.privateKey);
  await mkdir(path.dirname(id.privateKeyFile), { recursive: true, mode: 0o700 });
  await mkdir(path.dirname(id.certificateFile), { recursive: true, mode: 0o700 });
  const keyTmp = `${id.privateKeyFile}.new`;
  const certTmp = `${id.certificateFile}.new`;
  const keyOld = `${id.privateKeyFile}.old`;
  await writeFile(keyTmp, keyPem, { mode: 0o600 });
  await writeFile(certTmp, certPem, { mode: 0o644 });
  const hadKey = existsSync(id.privateKeyFile);
  if (hadKey) await rename(id.privateKeyFile, keyOld);
  try {
    await rename(keyTmp, id.privateKeyFile);
    await rename(certTmp, id.certificateFile);
  } catch (err) {
    if (hadKey) await rename(keyOld, id.privateKeyFile).catch(() => undefined);
    await rm(certTmp, { force: true });
    throw err;
  }
  await rm(keyOld, { force: true });
  return Buffer.from(cert.rawData);
}

async function readRevoked(issuer: OpcuaIssuer): Promise<RevokedEntry[]> {
  const file = path.join(issuer.dir, 'revoked.json');
  if (!existsSync(file)) return [];
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
    if (!Array.isArray(parsed)) throw new Error('not a list');
    return parsed as RevokedEntry[];
  } catch (err) {
    throw new GlimmerError('GLM_ERR_OPCUA_ISSUER_UNREADABLE', `the OPC UA issuer's revocation list ${quote(file)} cannot be parsed: ${(err as Error).message}`, { cause: err });
  }
}

/** The issuer's current CRL (DER), signed now, listing every certificate it revoked. */
export async function issuerCrl(issuer: OpcuaIssuer, now = Date.now()): Promise<Buffer> {
  const X = x509();
  const revoked = await readRevoked(issuer);
  const crl = await X.X509CrlGenerator.create({
    issuer: new X.X509Certificate(issuer.der).subject,
    thisUpdate: new Date(now - 60_000), nextUpdate: new Date(now + CRL_VALIDITY_MS),
    entries: revoked.map((r) => ({ serialNumber: r.serial, revocationDate: new Date(r.at) })),
    signingAlgorithm: RSA_ALGORITHM, signingKey: issuer.keys.privateKey,
    extensions: [await X.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey)],
  });
  return Buffer.from(crl.rawData);
}

/** Puts an issued certificate on the issuer's CRL (idempotent) and returns the new CRL (DER). */
export async function revokeIssued(issuer: OpcuaIssuer, der: Buffer, reason: string): Promise<Buffer> {
  const cert = new crypto.X509Certificate(der);
  const serial = normalizeSerial(cert.serialNumber);
  const revoked = await readRevoked(issuer);
  if (!revoked.some((r) => r.serial === serial)) {
    const thumbprint = crypto.createHash('sha1').update(der).digest('hex');
    revoked.push({ serial, thumbprint, at: new Date().toISOString(), reason });
    const file = path.join(issuer.dir, 'revoked.json');
    await writeFile(`${file}.new`, `${JSON.stringify(revoked, null, 1)}\n`, { mode: 0o600 });
    await rename(`${file}.new`, file);
  }
  return issuerCrl(issuer);
}

/** Serials (normalised hex) of every certificate this issuer revoked. */
export async function revokedSerials(issuer: OpcuaIssuer): Promise<Set<string>> {
  return new Set((await readRevoked(issuer)).map((r) => r.serial));
}

/** Makes a store trust the issuer (trusted/certs) and load its current CRL (trusted/crl). */
export async function trustIssuer(cm: import('node-opcua').OPCUACertificateManager, issuer: OpcuaIssuer): Promise<void> {
  await cm.trustCertificate(issuer.der);
  const status = await cm.addRevocationList(await issuerCrl(issuer), 'trusted');
  if (status !== 'Good') throw new GlimmerError('GLM_ERR_OPCUA_ISSUER_UNREADABLE', `the OPC UA issuer's CRL was refused by the store ${quote(cm.rootDir)}: ${status}`);
}
