/**
 * A checkpoint signer backed by AWS KMS (`GetPublicKey`, `Sign`) with an asymmetric SIGN_VERIFY key:
 * ECC_NIST_P384 (ECDSA_SHA_384), ECC_NIST_P256 (ECDSA_SHA_256), ML_DSA_65 or ML_DSA_44 (ML_DSA_SHAKE_256: with
 * MessageType RAW, pure ML-DSA over the message, so the signature verifies with node:crypto's ML-DSA as is). The note text is sent
 * as a RAW message (checkpoints are far below KMS's 4096-byte limit), so KMS hashes it. The SDK is loaded lazily.
 * In the cloud topology the key comes from the stack's KMS signing key; tests point `endpoint` at a loopback server
 * that speaks the KMS JSON protocol with real keys.
 */
import type https from 'node:https';
import { GlimmerError, quote } from '../errors';
import { ML_DSA_PUBLIC_KEY_BYTES } from './ml-dsa';
import type { CheckpointSigner, SignatureAlgorithm } from './checkpoint-body';

export interface KmsSignerOptions {
  /** Key id, ARN or alias of an asymmetric SIGN_VERIFY key. */
  readonly keyId: string;
  readonly keyName: string;
  /** @default - the SDK's region resolution (AWS_REGION) */
  readonly region?: string;
  /** Custom endpoint (VPC endpoint, or a test server). @default - the regional KMS endpoint */
  readonly endpoint?: string;
  /** @default - the SDK's default credential chain */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * The HTTPS agent of the link to KMS, e.g. one with the runtime's post-quantum TLS groups (the composition root
   * builds it from runtime/trust/pq-tls.ts; AWS KMS endpoints accept X25519MLKEM768). @default - the SDK's agent
   */
  readonly httpsAgent?: https.Agent;
  /** SDK attempts per call. @default 2 */
  readonly maxAttempts?: number;
  /** Per-request timeout. @default 5000 */
  readonly requestTimeoutMs?: number;
  /**
   * The key's KeySpec, when known in advance: the signer then starts without calling KMS, so the runtime (and its
   * appends) start even while KMS is unreachable; the public key is fetched, and checked to match, on first use.
   * @default - GetPublicKey is called at creation and its failure is an error
   */
  readonly keySpec?: 'ECC_NIST_P384' | 'ECC_NIST_P256' | 'ML_DSA_65' | 'ML_DSA_44';
}

const SPECS: Record<string, { algorithm: SignatureAlgorithm; signing: string }> = {
  ECC_NIST_P384: { algorithm: 'ecdsa-p384-sha384', signing: 'ECDSA_SHA_384' },
  ECC_NIST_P256: { algorithm: 'ecdsa-p256-sha256', signing: 'ECDSA_SHA_256' },
  ML_DSA_65: { algorithm: 'ml-dsa-65', signing: 'ML_DSA_SHAKE_256' },
  ML_DSA_44: { algorithm: 'ml-dsa-44', signing: 'ML_DSA_SHAKE_256' },
};

function unavailable(message: string, cause: unknown): GlimmerError {
  return new GlimmerError('GLM_ERR_AUDIT_SIGNER_UNAVAILABLE', message, { cause });
}

export async function kmsSigner(options: KmsSignerOptions): Promise<CheckpointSigner> {
  const { KMSClient, GetPublicKeyCommand, SignCommand } = await import('@aws-sdk/client-kms');
  const client = new KMSClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? 2,
    requestHandler: {
      requestTimeout: options.requestTimeoutMs ?? 5000,
      connectionTimeout: options.requestTimeoutMs ?? 5000,
      ...(options.httpsAgent ? { httpsAgent: options.httpsAgent } : {}),
    },
  });
  let spec: { algorithm: SignatureAlgorithm; signing: string } | undefined;
  let publicKey: Uint8Array | undefined;

  const describe = async () => {
    if (spec && publicKey) return { spec, publicKey };
    let out;
    try {
      out = await client.send(new GetPublicKeyCommand({ KeyId: options.keyId }));
    } catch (err) {
      throw unavailable(`KMS GetPublicKey for ${quote(options.keyId)} failed`, err);
    }
    const found = SPECS[out.KeySpec ?? ''];
    if (!found || out.KeyUsage !== 'SIGN_VERIFY' || !out.PublicKey || (options.keySpec && out.KeySpec !== options.keySpec)) {
      throw new GlimmerError('GLM_ERR_AUDIT_SIGNER_UNAVAILABLE', `KMS key ${quote(options.keyId)} is ${quote(out.KeySpec)}/${quote(out.KeyUsage)}; checkpoints need ECC_NIST_P384, ECC_NIST_P256, ML_DSA_65 or ML_DSA_44 with SIGN_VERIFY`);
    }
    spec = found;
    // ECDSA keys stay DER SPKI; an ML-DSA SPKI ends with the raw FIPS 204 public key.
    const mlDsa = found.algorithm === 'ml-dsa-65' ? 65 : found.algorithm === 'ml-dsa-44' ? 44 : undefined;
    publicKey = mlDsa ? out.PublicKey.subarray(out.PublicKey.length - ML_DSA_PUBLIC_KEY_BYTES[mlDsa]) : out.PublicKey;
    return { spec, publicKey };
  };

  const declared = options.keySpec ? SPECS[options.keySpec] : undefined;
  const algorithm = declared ? declared.algorithm : (await describe()).spec.algorithm;
  return {
    keyName: options.keyName,
    algorithm,
    kind: 'kms',
    publicKey: async () => (await describe()).publicKey,
    sign: async (message) => {
      const { spec: s } = await describe();
      try {
        const out = await client.send(
          new SignCommand({ KeyId: options.keyId, Message: message, MessageType: 'RAW', SigningAlgorithm: s.signing as 'ECDSA_SHA_384' }),
        );
        if (!out.Signature) throw new Error('KMS returned no signature');
        return out.Signature;
      } catch (err) {
        throw unavailable(`KMS Sign with ${quote(options.keyId)} failed`, err);
      }
    },
    close: async () => client.destroy(),
  };
}
