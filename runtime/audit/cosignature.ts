/**
 * ML-DSA-44 cosignatures in the C2SP tlog-cosignature v1.1 format, so any C2SP witness client can check the log's
 * checkpoints with the post-quantum key:
 * - key ID: SHA-256(<name> || "\n" || 0x06 || 1312-byte public key)[:4], vkey signature type 0x06 ("Format");
 * - signature: timestamped_signature = u64 big-endian POSIX timestamp || 2420-byte ML-DSA-44 signature ("Format");
 * - signed message: cosigned_message (cosigned-message.ts, "ML-DSA-44 signed message"); extension lines are not
 *   signed.
 * The root hash is 32 bytes by definition, so the cosignature applies to logs hashed with RFC9162_SHA256 (what C2SP
 * transparency logs use); a SHA-512 log keeps Glimmer's own ML-DSA note signature (type 0xff 0x03) instead.
 */
import { GlimmerError, quote } from '../errors';
import { cosignedMessage, u64, verifyCosignedTree } from './cosigned-message';
import { parseCheckpoint, type CheckpointSigner } from './note';

/**
 * Wraps a raw ML-DSA-44 signer (a seed file, or KMS ML_DSA_44 with ML_DSA_SHAKE_256 over the RAW message) into a
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
    return verifyCosignedTree(name, publicKey, parseCheckpoint(Buffer.from(noteText).toString('utf8')), signature);
  } catch {
    return false;
  }
}
