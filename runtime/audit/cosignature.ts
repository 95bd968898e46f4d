/**
 * ML-DSA-44 cosignatures in the C2SP tlog-cosignature v1.1 format, so any C2SP witness client can check the log's
 * checkpoints with the post-quantum key:
 * - key ID: SHA-256(<name> || "\n" || 0x06 || 1312-byte public key)[:4], vkey signature type 0x06 ("Format");
 * - signature: timestamped_signature = u64 big-endian POSIX timestamp || 2420-byte ML-DSA-44 signature ("Format");
 * - signed message: cosigned_message = "subtree/v1\n\0" || u8-length cosigner name || u64 timestamp ||
 *   u8-length log origin || u64 start (0 for a checkpoint) || u64 end (the tree size) || 32-byte root hash
 *   ("ML-DSA-44 signed message"); extension lines are not signed.
 * The root hash is 32 bytes by definition, so the cosignature applies to logs hashed with RFC9162_SHA256 (what C2SP
 * transparency logs use); a SHA-512 log keeps Glimmer's own ML-DSA note signature (type 0xff 0x03) instead.
 */
import { GlimmerError, quote } from '../errors';
import { mlDsaPublicKey, mlDsaVerify } from './ml-dsa';
import { type Checkpoint, type CheckpointSigner, parseCheckpoint } from './checkpoint-body';

const LABEL = Buffer.from('subtree/v1\n\0', 'latin1');
export const COSIGNATURE_ML_DSA_44_TYPE = 0x06;
const SIGNATURE_BYTES = 2420;

function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function lengthPrefixed(text: string, what: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length < 1 || bytes.length > 255) throw new GlimmerError('GLM_ERR_AUDIT_CHECKPOINT_INVALID', `${what} ${quote(text)} must be 1 to 255 bytes for an ML-DSA-44 cosignature`);
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** The cosigned_message of a checkpoint (start 0, end = size). */
export function cosignedMessage(cosignerName: string, timestamp: number | bigint, cp: Checkpoint): Buffer {
  if (cp.root.length !== 32) {
    throw new GlimmerError('GLM_ERR_AUDIT_CHECKPOINT_INVALID', `an ML-DSA-44 cosignature signs a 32-byte root hash; this checkpoint's root has ${cp.root.length} bytes (use an RFC9162_SHA256 log)`);
  }
  return Buffer.concat([LABEL, lengthPrefixed(cosignerName, 'cosigner name'), u64(timestamp), lengthPrefixed(cp.origin, 'log origin'), u64(0), u64(cp.size), cp.root]);
}

/**
 * Wraps a raw ML-DSA-44 signer (a seed file or KMS ML_DSA_44 with ML_DSA_SHAKE_256 over the RAW message) into a
 * checkpoint cosigner: `sign` receives the checkpoint note text and returns the timestamped_signature.
 */
export function c2spCosigner(inner: CheckpointSigner, options: { now?: () => number } = {}): CheckpointSigner {
  if (inner.algorithm !== 'ml-dsa-44') {
    throw new GlimmerError('GLM_ERR_AUDIT_SIGNER_UNAVAILABLE', `a C2SP cosigner needs an ML-DSA-44 key, ${quote(inner.kind)} has ${inner.algorithm}`);
  }
  const now = options.now ?? Date.now;
  return {
    keyName: inner.keyName,
    algorithm: 'ml-dsa-44-cosignature',
    kind: `${inner.kind}-cosignature`,
    publicKey: () => inner.publicKey(),
    sign: async (message) => {
      const cp = parseCheckpoint(Buffer.from(message).toString('utf8'));
      const timestamp = Math.floor(now() / 1000);
      const sig = await inner.sign(cosignedMessage(inner.keyName, timestamp, cp));
      return Buffer.concat([u64(timestamp), sig]);
    },
    close: inner.close ? () => (inner.close as () => Promise<void>)() : undefined,
  };
}

/** Verifies a timestamped_signature over a checkpoint note body; never throws. */
export function verifyCosignature(name: string, publicKey: Uint8Array, noteText: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (signature.length !== 8 + SIGNATURE_BYTES) return false;
    const timestamp = Buffer.from(signature.subarray(0, 8)).readBigUInt64BE();
    if (timestamp > 2n ** 63n - 1n) return false;
    const cp = parseCheckpoint(Buffer.from(noteText).toString('utf8'));
    return mlDsaVerify(mlDsaPublicKey(44, publicKey), cosignedMessage(name, timestamp, cp), signature.subarray(8));
  } catch {
    return false;
  }
}

/** The cosignature's timestamp (seconds), for reports. */
export function cosignatureTime(signature: Uint8Array): number {
  return Number(Buffer.from(signature.subarray(0, 8)).readBigUInt64BE());
}
