/**
 * The checkpoint body (C2SP tlog-checkpoint: `<origin>\n<size>\n<base64 root>\n` and optional extension lines) and
 * the signer interface. Kept apart from the signed-note code (note.ts) so that the cosignature format
 * (cosignature.ts), which reads checkpoint bodies and which note verification dispatches to, depends on this file only.
 */
import { GlimmerError, quote } from '../errors';

export type SignatureAlgorithm = 'ed25519' | 'ecdsa-p256-sha256' | 'ecdsa-p384-sha384' | 'ml-dsa-44' | 'ml-dsa-65' | 'ml-dsa-44-cosignature';

/**
 * Signs checkpoints. Public keys: raw 32 bytes for Ed25519, DER SubjectPublicKeyInfo for ECDSA, raw FIPS 204 encoding
 * for ML-DSA. ECDSA signatures are DER (as AWS KMS returns them). `sign` receives the exact note text to sign.
 */
export interface CheckpointSigner {
  /** Key name in the signature line (no spaces, no '+'); usually the log origin. */
  readonly keyName: string;
  readonly algorithm: SignatureAlgorithm;
  /** Short label for metrics and logs (`kms`, `pkcs11`, `file`, `ml-dsa`). */
  readonly kind: string;
  publicKey(): Promise<Uint8Array>;
  sign(message: Uint8Array): Promise<Uint8Array>;
  close?(): Promise<void>;
}

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Buffer;
  readonly extensions: readonly string[];
}

export function invalid(message: string): never {
  throw new GlimmerError('GLM_ERR_AUDIT_CHECKPOINT_INVALID', message);
}

// eslint-disable-next-line no-control-regex
export const CONTROL = /[\u0000-\u001f]/;

export function formatCheckpoint(cp: Checkpoint): string {
  if (cp.origin.length === 0 || CONTROL.test(cp.origin)) invalid(`checkpoint origin ${quote(cp.origin)} is empty or has control characters`);
  return [cp.origin, String(cp.size), cp.root.toString('base64'), ...cp.extensions].join('\n') + '\n';
}

export function parseCheckpoint(text: string, rootSize?: number): Checkpoint {
  if (!text.endsWith('\n')) invalid('checkpoint body does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) invalid('checkpoint body has fewer than three lines');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) invalid('checkpoint origin is empty');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) invalid(`checkpoint size ${quote(sizeText)} is not a decimal integer`);
  const root = Buffer.from(rootText, 'base64');
  if (root.toString('base64') !== rootText || root.length === 0) invalid(`checkpoint root ${quote(rootText)} is not canonical base64`);
  if (rootSize !== undefined && root.length !== rootSize) invalid(`checkpoint root has ${root.length} bytes, expected ${rootSize}`);
  if (extensions.some((e) => e.length === 0)) invalid('checkpoint has an empty extension line');
  return { origin, size: Number(sizeText), root, extensions };
}
