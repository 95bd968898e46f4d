/**
 * Local checkpoint signers: an Ed25519 key file (the fallback when no HSM is present) and an ML-DSA key file for the
 * optional post-quantum cosignature. HSM and KMS signers live in pkcs11.ts and kms.ts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GlimmerError, quote } from '../errors';
import type { CheckpointSigner } from './checkpoint-body';
import { mlDsaPrivateKeyFromSeed, mlDsaRawPublicKey, mlDsaSign } from './ml-dsa';

function readOrCreateSecret(file: string, create: () => Buffer): { bytes: Buffer; created: boolean } {
  try {
    return { bytes: fs.readFileSync(file), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new GlimmerError('GLM_ERR_AUDIT_SIGNER_UNAVAILABLE', `cannot read signing key ${quote(file)}`, { cause: err });
    }
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const bytes = create();
  // wx: never overwrite a key another process created meanwhile.
  try {
    fs.writeFileSync(file, bytes, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { bytes: fs.readFileSync(file), created: false };
    throw err;
  }
  return { bytes, created: true };
}

/**
 * An Ed25519 key kept in a PKCS#8 PEM file (mode 0600), created on first use. Signed-note type 0x01, so Go's
 * `sumdb/note` verifies these checkpoints as they are.
 */
export function fileSigner(options: { keyFile: string; keyName: string }): CheckpointSigner & { readonly created: boolean } {
  const { bytes, created } = readOrCreateSecret(options.keyFile, () =>
    Buffer.from(crypto.generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string),
  );
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(bytes);
  } catch (err) {
    throw new GlimmerError('GLM_ERR_AUDIT_SIGNER_UNAVAILABLE', `signing key ${quote(options.keyFile)} is not a PKCS#8 Ed25519 key`, { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new GlimmerError('GLM_ERR_AUDIT_SIGNER_UNAVAILABLE', `signing key ${quote(options.keyFile)} is ${privateKey.asymmetricKeyType}, expected ed25519`);
  }
  const spki = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const raw = spki.subarray(spki.length - 32);
  return {
    keyName: options.keyName,
    algorithm: 'ed25519',
    kind: 'file',
    created,
    publicKey: async () => raw,
    sign: async (message) => crypto.sign(null, message, privateKey),
  };
}

/**
 * An ML-DSA (FIPS 204) signer whose 32-byte seed sits in a file (mode 0600), created on first use. Meant as a
 * post-quantum cosigner beside a classical signer; node:crypto (OpenSSL) does the maths. The seed is FIPS 204's
 * KeyGen input, so seed files written by the earlier JavaScript implementation give the same key.
 */
export async function mlDsaFileSigner(options: { keyFile: string; keyName: string; level?: 44 | 65 }): Promise<CheckpointSigner> {
  const level = options.level ?? 44;
  const { bytes } = readOrCreateSecret(options.keyFile, () => crypto.randomBytes(32));
  if (bytes.length !== 32) throw new GlimmerError('GLM_ERR_AUDIT_SIGNER_UNAVAILABLE', `ML-DSA seed file ${quote(options.keyFile)} must hold 32 bytes`);
  const privateKey = mlDsaPrivateKeyFromSeed(level, bytes);
  const raw = mlDsaRawPublicKey(privateKey);
  return {
    keyName: options.keyName,
    algorithm: level === 44 ? 'ml-dsa-44' : 'ml-dsa-65',
    kind: 'ml-dsa',
    publicKey: async () => raw,
    sign: async (message) => mlDsaSign(privateKey, message),
  };
}

/** An in-memory Ed25519 signer (tests and throwaway logs). */
export function ephemeralSigner(keyName: string): CheckpointSigner {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    keyName,
    algorithm: 'ed25519',
    kind: 'ephemeral',
    publicKey: async () => spki.subarray(spki.length - 32),
    sign: async (message) => crypto.sign(null, message, privateKey),
  };
}
