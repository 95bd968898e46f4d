/**
 * The signed message and signature of a C2SP tlog-cosignature v1.1 ML-DSA-44 cosignature (spec sections "Format" and
 * "ML-DSA-44 signed message"), on plain values: note.ts verifies with it, cosignature.ts signs with it.
 *   cosigned_message = "subtree/v1\n\0" || u8-length cosigner name || u64 timestamp || u8-length log origin ||
 *                      u64 start (0 for a checkpoint) || u64 end (the tree size) || 32-byte root hash
 *   timestamped_signature = u64 big-endian POSIX timestamp || 2420-byte ML-DSA-44 signature
 */
import { GlimmerError, quote } from '../errors';
import { mlDsaPublicKey, mlDsaVerify } from './ml-dsa';

const LABEL = Buffer.from('subtree/v1\n\0', 'latin1');
export const COSIGNATURE_SIGNATURE_BYTES = 2420;

/** What a checkpoint cosignature commits to. */
export interface CosignedTree {
  readonly origin: string;
  readonly size: number;
  readonly root: Buffer;
}

export function u64(n: number | bigint): Buffer {
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
export function cosignedMessage(cosignerName: string, timestamp: number | bigint, tree: CosignedTree): Buffer {
  if (tree.root.length !== 32) {
    throw new GlimmerError('GLM_ERR_AUDIT_CHECKPOINT_INVALID', `an ML-DSA-44 cosignature signs a 32-byte root hash; this checkpoint's root has ${tree.root.length} bytes (use an RFC9162_SHA256 log)`);
  }
  return Buffer.concat([LABEL, lengthPrefixed(cosignerName, 'cosigner name'), u64(timestamp), lengthPrefixed(tree.origin, 'log origin'), u64(0), u64(tree.size), tree.root]);
}

/** Verifies a timestamped_signature over a tree head; never throws. */
export function verifyCosignedTree(name: string, publicKey: Uint8Array, tree: CosignedTree, signature: Uint8Array): boolean {
  try {
    if (signature.length !== 8 + COSIGNATURE_SIGNATURE_BYTES) return false;
    const timestamp = Buffer.from(signature.subarray(0, 8)).readBigUInt64BE();
    if (timestamp > 2n ** 63n - 1n) return false;
    return mlDsaVerify(mlDsaPublicKey(44, publicKey), cosignedMessage(name, timestamp, tree), signature.subarray(8));
  } catch {
    return false;
  }
}
