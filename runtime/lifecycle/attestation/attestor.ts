/**
 * TPM attestation before identity. At start the supervisor proves its attestation key (AK) lives in the TPM whose
 * endorsement key the manufacturer certified (EK certificate chain to the configured CA, then credential activation).
 * Before each SVID it issues, it resets PCR 23, extends it with the agent's artifact hashes (so the PCR equals the
 * measured-boot chain), quotes it over a fresh nonce and checks the quote against the value the signed release
 * manifest predicts. Only then does the TPM unseal the key that protects the agent's SVID private key: that key is
 * sealed to a PolicyPCR on the predicted value, so a tampered agent cannot unseal its own identity even if the
 * check above were bypassed. Every quote, refusal and sealing is audited; the quote record carries all an auditor
 * needs to verify it offline (`glimmer attest`).
 */
import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AuditRecordInput } from '../../model/messages';
import { GlimmerError, asGlimmerError } from '../../errors';
import type { ConfigPins } from '../config-pins';
import { parseManifest, sha256File } from '../manifest';
import { ATTESTATION_PCR, pcrAfter, pcrPolicyDigest, verifyQuote } from './quote';
import type { SealedObject, Tpm } from './tpm';

export interface AttestorOptions {
  readonly tpm: Tpm;
  /** PEM bundle of the CA certificates the EK certificate must chain to (the TPM manufacturer's). */
  readonly ekCaPem: string;
  /** Release root and its signed manifest (already signature-checked by the caller's measured boot). */
  readonly root: string;
  readonly manifestFile: string;
  readonly configPins?: ConfigPins;
  /** Where the sealed key blobs live (<state-dir>/tpm). */
  readonly dir: string;
  readonly audit: (record: AuditRecordInput) => void;
}

export interface Attestation {
  /** The PCR value the manifest predicts, hex (equals the agent's measured-boot measurement). */
  readonly pcrValue: string;
  /** PolicyPCR digest keys of this agent are sealed to, hex: the deployment's pcr_policy_hash. */
  readonly policyDigest: string;
}

const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

/** The artifact hashes the signed manifest (or a config pin) lists, in load order: the expected PCR extends. */
export function expectedDigests(manifestFile: string, artifacts: readonly string[], pins: ConfigPins = {}): string[] {
  const manifest = parseManifest(fs.readFileSync(manifestFile), manifestFile);
  const listed = new Map(manifest.artifacts.map((a) => [a.path, a.sha256]));
  return artifacts.map((rel) => {
    const outside = rel.startsWith('../') || path.isAbsolute(rel);
    const want = outside ? pins[path.basename(rel)] : listed.get(rel);
    if (want === undefined) throw new GlimmerError('GLM_ERR_BOOT_ARTIFACT_MISSING', `attestation: ${rel} is not listed in the signed release manifest or pinned`, { details: { artifact: rel } });
    return want;
  });
}

/** The PolicyPCR digest an agent's keys are sealed to, from the manifest alone (build time, or `glimmer attest policy`). */
export function policyDigestFor(manifestFile: string, artifacts: readonly string[], pins: ConfigPins = {}): string {
  return pcrPolicyDigest(pcrAfter(expectedDigests(manifestFile, artifacts, pins))).toString('hex');
}

function verifyEkChain(ekCertDer: Buffer, caPem: string): X509Certificate {
  let ek: X509Certificate;
  try {
    ek = new X509Certificate(ekCertDer);
  } catch (err) {
    throw new GlimmerError('GLM_ERR_ATTESTATION_EK_UNTRUSTED', 'the TPM\'s EK certificate is not a valid X.509 certificate', { cause: err });
  }
  const cas = caPem.split(/(?=-----BEGIN CERTIFICATE-----)/).filter((p) => p.includes('BEGIN CERTIFICATE')).map((p) => new X509Certificate(p));
  const now = Date.now();
  const valid = (c: X509Certificate) => Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
  // Walk issuer links up to a CA of the bundle that is self-signed (a root we were given).
  let cert = ek;
  for (let depth = 0; depth < 5; depth++) {
    if (!valid(cert)) throw new GlimmerError('GLM_ERR_ATTESTATION_EK_UNTRUSTED', `EK certificate chain: ${cert.subject || cert.serialNumber} is outside its validity`);
    const issuer = cas.find((c) => c.subject === cert.issuer && cert.verify(c.publicKey));
    if (!issuer) throw new GlimmerError('GLM_ERR_ATTESTATION_EK_UNTRUSTED', `EK certificate chain: no trusted CA signed ${cert.subject || `serial ${cert.serialNumber}`} (issuer ${cert.issuer})`);
    if (issuer.subject === issuer.issuer && issuer.verify(issuer.publicKey)) return ek;
    cert = issuer;
  }
  throw new GlimmerError('GLM_ERR_ATTESTATION_EK_UNTRUSTED', 'EK certificate chain longer than 5 certificates');
}

export class Attestor {
  private akPublicPem = '';
  private lock: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: AttestorOptions) {}

  /**
   * Runs fn alone: one PCR serves every agent, so a reset, extends, quote and unseal must not interleave with
   * another agent's (agents start concurrently).
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Proves the AK is the TPM's (EK certified by the manufacturer CA, credential activated). Audited. */
  async provision(): Promise<void> {
    const { tpm, audit } = this.options;
    try {
      const ekDer = await tpm.ekCertificate();
      const ek = verifyEkChain(ekDer, this.options.ekCaPem);
      const keys = await tpm.ensureKeys();
      const ekCertPem = ek.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      if (crypto.createPublicKey(keys.ekPublicPem).export({ type: 'spki', format: 'der' }).compare(ek.publicKey.export({ type: 'spki', format: 'der' })) !== 0) {
        throw new GlimmerError('GLM_ERR_ATTESTATION_EK_UNTRUSTED', 'the TPM\'s endorsement key is not the key its EK certificate certifies');
      }
      const secret = crypto.randomBytes(32);
      const recovered = await tpm.activateCredential(ekCertPem, keys.akName, secret);
      if (recovered.length !== secret.length || !crypto.timingSafeEqual(recovered, secret)) {
        throw new GlimmerError('GLM_ERR_ATTESTATION_EK_UNTRUSTED', 'credential activation returned another secret: the attestation key is not bound to the certified EK');
      }
      this.akPublicPem = keys.akPublicPem;
      audit({ type: 'attestation.ak.certified', ek_certificate_sha256: sha256(ekDer), ek_issuer: ek.issuer, ak_public_sha256: sha256(crypto.createPublicKey(keys.akPublicPem).export({ type: 'spki', format: 'der' })) });
    } catch (err) {
      const e = asGlimmerError(err);
      audit({ type: 'attestation.refused', stage: 'provision', code: e.code, reason: e.message });
      throw e;
    }
  }

  /** Measures, quotes and verifies one agent's artifacts; throws (audited) on any mismatch. */
  async attest(agent: string, artifacts: readonly string[]): Promise<Attestation> {
    const { tpm, audit, root } = this.options;
    if (!this.akPublicPem) throw new GlimmerError('GLM_ERR_ATTESTATION_TPM_UNAVAILABLE', 'attestation key not provisioned');
    let expected: Buffer | undefined;
    try {
      expected = pcrAfter(expectedDigests(this.options.manifestFile, artifacts, this.options.configPins));
      const actual = artifacts.map((rel) => {
        try {
          return sha256File(path.isAbsolute(rel) ? rel : path.join(root, rel));
        } catch {
          // An unreadable artifact extends a digest no manifest lists, so the quote cannot match.
          return sha256(`unreadable:${rel}`);
        }
      });
      await tpm.measure(ATTESTATION_PCR, actual);
      const nonce = crypto.randomBytes(32);
      const { message, signature } = await tpm.quote(ATTESTATION_PCR, nonce);
      const record = {
        agent,
        pcr: ATTESTATION_PCR,
        nonce: nonce.toString('base64'),
        quote: message.toString('base64'),
        signature: signature.toString('base64'),
        ak_public: this.akPublicPem,
        expected_pcr: expected.toString('hex'),
      };
      verifyQuote({ message, signature, nonce, akPublicPem: this.akPublicPem }, expected);
      const policyDigest = pcrPolicyDigest(expected).toString('hex');
      audit({ type: 'attestation.quote', ...record, policy_digest: policyDigest });
      return { pcrValue: expected.toString('hex'), policyDigest };
    } catch (err) {
      const e = asGlimmerError(err);
      audit({ type: 'attestation.refused', stage: 'quote', agent, code: e.code, reason: e.message, pcr: ATTESTATION_PCR, expected: e.details.expected ?? null, quoted: e.details.quoted ?? null });
      throw e;
    }
  }

  /**
   * The agent's SVID key pair, PKCS#8 PEM, kept encrypted (AES-256-GCM) under a key the TPM holds sealed to this
   * attestation's PolicyPCR. Call right after attest(): the PCR then holds the predicted value. A new release (another
   * policy) seals a new key; the old blob stays unusable because its policy can no longer be met.
   */
  async identityKey(agent: string, attestation: Attestation, generate: () => Promise<string>): Promise<string> {
    const { tpm, audit } = this.options;
    const dir = path.join(this.options.dir, 'agents', agent);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = (n: string) => path.join(dir, n);
    const current = fs.existsSync(file('policy')) ? fs.readFileSync(file('policy'), 'utf8').trim() : '';
    if (current === attestation.policyDigest) {
      const sealed: SealedObject = { publicPart: fs.readFileSync(file('seal.pub')), privatePart: fs.readFileSync(file('seal.priv')) };
      try {
        const wrap = await tpm.unseal(sealed, ATTESTATION_PCR);
        return decrypt(fs.readFileSync(file('key.enc')), wrap, agent);
      } catch (err) {
        const e = asGlimmerError(err);
        audit({ type: 'attestation.refused', stage: 'unseal', agent, code: e.code, reason: e.message });
        throw e;
      }
    }
    const keyPem = await generate();
    const wrap = crypto.randomBytes(32);
    const sealed = await tpm.seal(wrap, Buffer.from(attestation.policyDigest, 'hex'));
    fs.writeFileSync(file('seal.pub'), sealed.publicPart, { mode: 0o600 });
    fs.writeFileSync(file('seal.priv'), sealed.privatePart, { mode: 0o600 });
    fs.writeFileSync(file('key.enc'), encrypt(keyPem, wrap, agent), { mode: 0o600 });
    fs.writeFileSync(file('policy'), `${attestation.policyDigest}\n`, { mode: 0o600 });
    wrap.fill(0);
    audit({ type: 'attestation.key.sealed', agent, pcr: ATTESTATION_PCR, policy_digest: attestation.policyDigest, replaced_policy: current || null });
    return keyPem;
  }
}

function encrypt(plain: string, key: Buffer, agent: string): Buffer {
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(agent));
  const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]);
}

function decrypt(blob: Buffer, key: Buffer, agent: string): string {
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', key, blob.subarray(0, 12)).setAAD(Buffer.from(agent));
    d.setAuthTag(blob.subarray(12, 28));
    return Buffer.concat([d.update(blob.subarray(28)), d.final()]).toString('utf8');
  } catch (err) {
    throw new GlimmerError('GLM_ERR_ATTESTATION_UNSEAL_REFUSED', `the sealed SVID key of ${agent} does not decrypt under the unsealed key (tampered key file)`, { cause: err });
  }
}
