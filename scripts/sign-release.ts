/**
 * CI's release signing: signs the measured-boot release manifest (runtime/lifecycle/manifest.ts, written by
 * `make build`) with the release key held in AWS KMS, and ships the KMS public key beside it.
 *
 *   node --import tsx scripts/sign-release.ts --key-id alias/glimmer-release [--region R] [--root DIR] [--endpoint URL]
 *
 * 1. The manifest is parsed (runtime/lifecycle/manifest.ts) and every artifact it lists is re-hashed: a stale manifest
 *    (a file changed after `make build`) is refused, so CI never signs what it did not build.
 * 2. The key must be an ECC_NIST_P384 SIGN_VERIFY key offering ECDSA_SHA_384 (what the runtime verifies).
 * 3. KMS signs the manifest bytes (MessageType RAW up to 4096 bytes, else the SHA-384 digest with MessageType DIGEST:
 *    the same signature either way).
 * 4. The signature is verified locally against the KMS public key with the runtime's own verifier before anything
 *    is written; then dist/release-manifest.sig (base64) and dist/release-key.pub.pem are replaced.
 * Credentials come from the default AWS chain (CI: OIDC role). Exit 0 signed, 1 signing failed, 2 usage.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GlimmerError, isGlimmerError, quote } from '../runtime/errors';
import { parseManifest, sha256File, verifyManifestSignature } from '../runtime/lifecycle/manifest';
import { MANIFEST_FILE, PUBLIC_KEY_FILE, SIGNATURE_FILE } from '../runtime/lifecycle/release';

export const RELEASE_KEY_SPEC = 'ECC_NIST_P384';
export const RELEASE_SIGNING_ALGORITHM = 'ECDSA_SHA_384';
const KMS_RAW_LIMIT = 4096;

export interface SignReleaseOptions {
  /** KMS key id, ARN or alias of the release key. */
  readonly keyId: string;
  /** Release root (the directory holding dist/). @default the repository root */
  readonly root?: string;
  readonly region?: string;
  /** KMS endpoint override (VPC endpoint, or a test peer). */
  readonly endpoint?: string;
}

export interface SignReleaseResult {
  readonly release: string;
  readonly artifacts: number;
  readonly keyArn: string;
  readonly messageType: 'RAW' | 'DIGEST';
  readonly manifestSha256: string;
}

function failed(message: string, cause?: unknown): GlimmerError {
  return new GlimmerError('GLM_ERR_RELEASE_SIGN_FAILED', message, cause === undefined ? {} : { cause });
}

export async function signRelease(opts: SignReleaseOptions): Promise<SignReleaseResult> {
  const root = path.resolve(opts.root ?? path.join(__dirname, '..'));
  const manifestFile = path.join(root, MANIFEST_FILE);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(manifestFile);
  } catch (err) {
    throw failed(`${MANIFEST_FILE} cannot be read under ${quote(root)}; run \`make build\` first`, err);
  }
  const manifest = parseManifest(bytes, MANIFEST_FILE);
  for (const a of manifest.artifacts) {
    let actual: string;
    try {
      actual = sha256File(path.join(root, a.path));
    } catch (err) {
      throw failed(`artifact ${quote(a.path)} listed in ${MANIFEST_FILE} is missing; rebuild before signing`, err);
    }
    if (actual !== a.sha256) throw failed(`artifact ${quote(a.path)} changed after the manifest was built (sha256 ${actual.slice(0, 16)}…, manifest ${a.sha256.slice(0, 16)}…); rebuild before signing`);
  }

  const { KMSClient, GetPublicKeyCommand, SignCommand } = await import('@aws-sdk/client-kms');
  const kms = new KMSClient({ ...(opts.region ? { region: opts.region } : {}), ...(opts.endpoint ? { endpoint: opts.endpoint } : {}) });
  try {
    let pub;
    try {
      pub = await kms.send(new GetPublicKeyCommand({ KeyId: opts.keyId }));
    } catch (err) {
      throw failed(`KMS GetPublicKey ${quote(opts.keyId)} failed: ${(err as Error).name}: ${(err as Error).message}`, err);
    }
    if (pub.KeySpec !== RELEASE_KEY_SPEC || pub.KeyUsage !== 'SIGN_VERIFY' || pub.PublicKey === undefined) {
      throw failed(`release key ${quote(opts.keyId)} is ${quote(pub.KeySpec)} ${quote(pub.KeyUsage)}; it must be an ${RELEASE_KEY_SPEC} SIGN_VERIFY key`);
    }
    if (pub.SigningAlgorithms !== undefined && !pub.SigningAlgorithms.includes(RELEASE_SIGNING_ALGORITHM)) {
      throw failed(`release key ${quote(opts.keyId)} does not offer ${RELEASE_SIGNING_ALGORITHM}`);
    }
    const publicKeyPem = crypto.createPublicKey({ key: Buffer.from(pub.PublicKey), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString();
    const messageType = bytes.length <= KMS_RAW_LIMIT ? 'RAW' : 'DIGEST';
    const message = messageType === 'RAW' ? bytes : crypto.createHash('sha384').update(bytes).digest();
    let signature: Buffer;
    try {
      const out = await kms.send(new SignCommand({ KeyId: opts.keyId, Message: message, MessageType: messageType, SigningAlgorithm: RELEASE_SIGNING_ALGORITHM }));
      if (out.Signature === undefined) throw new Error('no signature in the response');
      signature = Buffer.from(out.Signature);
    } catch (err) {
      throw failed(`KMS Sign with ${quote(opts.keyId)} failed: ${(err as Error).name}: ${(err as Error).message}`, err);
    }
    try {
      verifyManifestSignature(bytes, signature, publicKeyPem, MANIFEST_FILE);
    } catch (err) {
      throw failed(`the signature KMS returned does not verify against the key's public key: ${(err as Error).message}`, err);
    }
    fs.writeFileSync(path.join(root, SIGNATURE_FILE), `${signature.toString('base64')}\n`);
    fs.writeFileSync(path.join(root, PUBLIC_KEY_FILE), publicKeyPem);
    return {
      release: manifest.release, artifacts: manifest.artifacts.length, keyArn: pub.KeyId ?? opts.keyId, messageType,
      manifestSha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    };
  } finally {
    kms.destroy();
  }
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { 'key-id': { type: 'string' }, region: { type: 'string' }, root: { type: 'string' }, endpoint: { type: 'string' } } }));
  } catch (err) {
    process.stderr.write(`sign-release: GLM_ERR_USAGE: ${(err as Error).message}\n`);
    return 2;
  }
  const keyId = values['key-id'] ?? process.env.GLIMMER_RELEASE_KMS_KEY_ID;
  if (!keyId) {
    process.stderr.write('sign-release: GLM_ERR_USAGE: --key-id (or GLIMMER_RELEASE_KMS_KEY_ID) is required\n');
    return 2;
  }
  try {
    const r = await signRelease({ keyId, ...(values.region ? { region: values.region } : {}), ...(values.root ? { root: values.root } : {}), ...(values.endpoint ? { endpoint: values.endpoint } : {}) });
    process.stdout.write(`signed ${r.release}: ${r.artifacts} artifacts, manifest sha256 ${r.manifestSha256}, key ${r.keyArn} (${RELEASE_SIGNING_ALGORITHM}, ${r.messageType})\n`);
    return 0;
  } catch (err) {
    const code = isGlimmerError(err) ? err.code : 'GLM_ERR_RELEASE_SIGN_FAILED';
    process.stderr.write(`sign-release: ${code}: ${(err as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, () => { process.exitCode = 1; });
}
