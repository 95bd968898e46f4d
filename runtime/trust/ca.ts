/**
 * The internal certificate authority of one trust domain. It lives under `<stateDir>/pki/ca/` (directory 0700, key
 * 0600) and is created atomically: a new CA is generated in a temporary directory and renamed into place, so two
 * processes racing on first start end up sharing the one that won the rename.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { X509Certificate as NodeX509, webcrypto } from 'node:crypto';
import path from 'node:path';
import { GlimmerError, quote } from '../errors';
import { x509, EC_KEY_ALGORITHM, EC_SIGNING_ALGORITHM, exportKeyPem, importKeyPairPem, randomSerial } from './x509';
import { assertTrustDomain } from './spiffe';

export interface Ca {
  readonly trustDomain: string;
  /** The CA certificate (PEM); also the trust bundle agents are given. */
  readonly certPem: string;
  /** PEM of every CA this domain trusts (today: just this CA). */
  readonly bundlePem: string;
  readonly keys: webcrypto.CryptoKeyPair;
  /** Directory holding the CA files. */
  readonly dir: string;
}

/** @default 10 years: CA rotation is an operator action (new state dir, bundle of old + new), not automatic. */
const CA_VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;

export async function ensureCa(stateDir: string, trustDomain: string): Promise<Ca> {
  assertTrustDomain(trustDomain);
  const pkiDir = path.join(stateDir, 'pki');
  const dir = path.join(pkiDir, 'ca');
  await mkdir(pkiDir, { recursive: true, mode: 0o700 });
  if (!existsSync(path.join(dir, 'ca.crt'))) {
    const tmp = await mkdtemp(path.join(pkiDir, '.ca-'));
    try {
      const { certPem, keyPem } = await createCaFiles(trustDomain);
      await writeFile(path.join(tmp, 'ca.key'), keyPem, { mode: 0o600, flag: 'wx' });
      await writeFile(path.join(tmp, 'ca.crt'), certPem, { mode: 0o644, flag: 'wx' });
      await rename(tmp, dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      // Lost the race to another process: use the CA it created.
      if (!isErrno(err, 'ENOTEMPTY') && !isErrno(err, 'EEXIST')) throw err;
    }
  }
  return loadCa(dir, trustDomain);
}

async function createCaFiles(trustDomain: string): Promise<{ certPem: string; keyPem: string }> {
  const X = x509();
  const keys = (await webcrypto.subtle.generateKey(EC_KEY_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await X.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=Glimmer CA ${trustDomain}, O=Glimmer`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CA_VALIDITY_MS),
    signingAlgorithm: EC_SIGNING_ALGORITHM,
    keys,
    extensions: [
      new X.BasicConstraintsExtension(true, 0, true),
      new X.KeyUsagesExtension(X.KeyUsageFlags.keyCertSign | X.KeyUsageFlags.cRLSign | X.KeyUsageFlags.digitalSignature, true),
      new X.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }]),
      await X.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) };
}

/** A CA from `dir/ca.crt` and `dir/ca.key` (cluster mode: the shared trust anchor every pod mounts from a Secret). */
export async function loadCa(dir: string, trustDomain: string): Promise<Ca> {
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  let certPem: string;
  let keyPem: string;
  let node: NodeX509;
  let keys: webcrypto.CryptoKeyPair;
  try {
    certPem = await readFile(certFile, 'utf8');
    keyPem = await readFile(keyFile, 'utf8');
    node = new NodeX509(certPem);
    keys = await importKeyPairPem(keyPem, node.publicKey.export({ type: 'spki', format: 'der' }));
  } catch (err) {
    throw new GlimmerError('GLM_ERR_CERT_UNREADABLE', `the CA in ${quote(dir)} cannot be read or parsed`, { cause: err });
  }
  const expected = `URI:spiffe://${trustDomain}`;
  if (node.subjectAltName !== expected) {
    throw new GlimmerError('GLM_ERR_CERT_FOREIGN_TRUST_DOMAIN',
      `the CA in ${quote(dir)} belongs to ${quote(node.subjectAltName)}, not to trust domain ${quote(trustDomain)}`);
  }
  return { trustDomain, certPem, bundlePem: certPem, keys, dir };
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
