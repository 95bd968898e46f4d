/**
 * Checkpoints (C2SP tlog-checkpoint) wrapped in signed notes (C2SP signed-note).
 *
 * Body: `<origin>\n<size>\n<base64 root>\n` followed by optional extension lines. A signed note is the body, a blank
 * line, then one line per signature: `— <key name> <base64(key id[4] || signature)>\n`. The key id is
 * SHA-256(key name || 0x0A || signature type || public key)[:4]. Ed25519 uses the registered type 0x01 with the raw
 * 32-byte key; the other algorithms use Glimmer's private types behind the 0xff escape (see SIGNATURE_TYPES).
 * A verifier key (vkey) is `<name>+<hex key id>+<base64(type || public key)>`, as Go's golang.org/x/mod/sumdb/note.
 */
import crypto from 'node:crypto';
import { GlimmerError, quote } from '../errors';
import { CONTROL, invalid, parseCheckpoint, type CheckpointSigner, type Checkpoint, type SignatureAlgorithm } from './checkpoint-body';
import { verifyCosignature } from './cosignature';
import { mlDsaPublicKey, mlDsaVerify } from './ml-dsa';

/** Signature type identifiers (the bytes before the public key in key ids and vkeys). */
export const SIGNATURE_TYPES: Readonly<Record<SignatureAlgorithm, Buffer>> = {
  ed25519: Buffer.from([0x01]),
  'ecdsa-p256-sha256': Buffer.from([0xff, 0x01]),
  'ecdsa-p384-sha384': Buffer.from([0xff, 0x02]),
  'ml-dsa-44': Buffer.from([0xff, 0x03]),
  'ml-dsa-65': Buffer.from([0xff, 0x04]),
  // C2SP tlog-cosignature v1.1 ML-DSA-44 cosignature (cosignature.ts): a registered type, not behind the escape.
  'ml-dsa-44-cosignature': Buffer.from([0x06]),
};

export interface VerifierKey {
  readonly name: string;
  readonly keyId: Buffer;
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: Buffer;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: Buffer;
  readonly signature: Buffer;
}

export interface SignedNote {
  /** The signed text, including its final newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

const EM_DASH_PREFIX = '\u2014 ';
const MAX_NOTE_BYTES = 1024 * 1024;
const MAX_SIGNATURES = 100;

export function validKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && !CONTROL.test(name);
}

export function keyId(name: string, algorithm: SignatureAlgorithm, publicKey: Uint8Array): Buffer {
  const digest = crypto.createHash('sha256').update(name).update('\n').update(SIGNATURE_TYPES[algorithm]).update(publicKey).digest();
  return digest.subarray(0, 4);
}

export function formatVerifierKey(name: string, algorithm: SignatureAlgorithm, publicKey: Uint8Array): string {
  const id = keyId(name, algorithm, publicKey);
  return `${name}+${id.toString('hex')}+${Buffer.concat([SIGNATURE_TYPES[algorithm], publicKey]).toString('base64')}`;
}

export function parseVerifierKey(text: string): VerifierKey {
  // The base64 key may itself contain '+': split on the first two only.
  const trimmed = text.trim();
  const first = trimmed.indexOf('+');
  const second = first < 0 ? -1 : trimmed.indexOf('+', first + 1);
  const parts = second < 0 ? [trimmed] : [trimmed.slice(0, first), trimmed.slice(first + 1, second), trimmed.slice(second + 1)];
  if (parts.length !== 3) invalid(`verifier key ${quote(text)} is not <name>+<hex id>+<base64 key>`);
  const [name, idHex, keyB64] = parts as [string, string, string];
  if (!validKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex)) invalid(`verifier key ${quote(text)} has a malformed name or id`);
  const raw = Buffer.from(keyB64, 'base64');
  const algorithm = (Object.keys(SIGNATURE_TYPES) as SignatureAlgorithm[]).find((alg) => {
    const t = SIGNATURE_TYPES[alg];
    return raw.length > t.length && raw.subarray(0, t.length).equals(t) && (t.length === 2 || raw[0] !== 0xff);
  });
  if (!algorithm) invalid(`verifier key ${quote(text)} has an unknown signature type`);
  const publicKey = raw.subarray(SIGNATURE_TYPES[algorithm].length);
  const id = keyId(name, algorithm, publicKey);
  if (id.toString('hex') !== idHex) invalid(`verifier key ${quote(name)} has id ${idHex}, but its key hashes to ${id.toString('hex')}`);
  return { name, keyId: id, algorithm, publicKey };
}

export function parseSignedNote(note: string): SignedNote {
  if (Buffer.byteLength(note) > MAX_NOTE_BYTES) invalid('signed note is larger than 1 MiB');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) invalid('signed note contains control characters');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) invalid('signed note has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) invalid(`signed note has more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line) => {
    if (!line.startsWith(EM_DASH_PREFIX)) invalid(`signature line ${quote(line)} does not start with an em dash`);
    const rest = line.slice(EM_DASH_PREFIX.length);
    const space = rest.lastIndexOf(' ');
    const name = rest.slice(0, space);
    const b64 = rest.slice(space + 1);
    if (space <= 0 || !validKeyName(name)) invalid(`signature line ${quote(line)} has a malformed key name`);
    const raw = Buffer.from(b64, 'base64');
    if (raw.toString('base64') !== b64 || raw.length < 5) invalid(`signature line for ${quote(name)} is not canonical base64`);
    return { name, keyId: raw.subarray(0, 4), signature: raw.subarray(4) };
  });
  return { text, signatures };
}

export function formatSignatureLine(name: string, id: Uint8Array, signature: Uint8Array): string {
  return `${EM_DASH_PREFIX}${name} ${Buffer.concat([id, signature]).toString('base64')}\n`;
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function ed25519PublicKeyObject(raw: Uint8Array): crypto.KeyObject {
  return crypto.createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** Verifies one signature with one key; never throws. */
export async function verifySignature(key: VerifierKey, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    switch (key.algorithm) {
      case 'ed25519':
        return crypto.verify(null, message, ed25519PublicKeyObject(key.publicKey), signature);
      case 'ecdsa-p256-sha256':
      case 'ecdsa-p384-sha384': {
        const pub = crypto.createPublicKey({ key: key.publicKey, format: 'der', type: 'spki' });
        return crypto.verify(key.algorithm === 'ecdsa-p256-sha256' ? 'sha256' : 'sha384', message, pub, signature);
      }
      case 'ml-dsa-44':
      case 'ml-dsa-65':
        return mlDsaVerify(mlDsaPublicKey(key.algorithm === 'ml-dsa-44' ? 44 : 65, key.publicKey), message, signature);
      case 'ml-dsa-44-cosignature':
        return verifyCosignature(key.name, key.publicKey, message, signature);
    }
  } catch {
    return false;
  }
}

/** Signs `text` with every signer and returns the complete signed note. */
export async function signNote(text: string, signers: readonly CheckpointSigner[]): Promise<string> {
  const message = Buffer.from(text, 'utf8');
  const lines: string[] = [];
  for (const signer of signers) {
    const pub = await signer.publicKey();
    const sig = await signer.sign(message);
    lines.push(formatSignatureLine(signer.keyName, keyId(signer.keyName, signer.algorithm, pub), sig));
  }
  return `${text}\n${lines.join('')}`;
}

export interface NoteVerification {
  /** Names of the trusted keys whose signatures verified. */
  readonly verifiedBy: readonly string[];
  /** Signature lines from trusted keys that did not verify (any one means the note is forged). */
  readonly badSignatures: readonly string[];
}

/**
 * Checks every signature line against the trusted keys (matched by name and key id). Lines from unknown keys are
 * ignored, as C2SP signed-note requires; a line from a trusted key that does not verify is reported.
 */
export async function verifyNote(note: SignedNote, keys: readonly VerifierKey[]): Promise<NoteVerification> {
  const message = Buffer.from(note.text, 'utf8');
  const verifiedBy: string[] = [];
  const badSignatures: string[] = [];
  for (const sig of note.signatures) {
    const key = keys.find((k) => k.name === sig.name && k.keyId.equals(sig.keyId));
    if (!key) continue;
    if (await verifySignature(key, message, sig.signature)) verifiedBy.push(`${key.name}/${key.algorithm}`);
    else badSignatures.push(`${key.name}/${key.algorithm}`);
  }
  return { verifiedBy, badSignatures };
}

/**
 * Opens a signed checkpoint: parses, verifies against the trusted keys, and requires at least one good signature and
 * no bad one from a trusted key. Throws GLM_ERR_AUDIT_CHECKPOINT_INVALID or GLM_ERR_AUDIT_SIGNATURE_INVALID.
 */
export async function openCheckpoint(noteText: string, keys: readonly VerifierKey[], rootSize?: number): Promise<Checkpoint & NoteVerification> {
  const note = parseSignedNote(noteText);
  const cp = parseCheckpoint(note.text, rootSize);
  const result = await verifyNote(note, keys);
  if (result.badSignatures.length > 0) {
    throw new GlimmerError('GLM_ERR_AUDIT_SIGNATURE_INVALID', `checkpoint of size ${cp.size} has a signature that does not verify: ${result.badSignatures.join(', ')}`);
  }
  if (result.verifiedBy.length === 0) {
    throw new GlimmerError('GLM_ERR_AUDIT_SIGNATURE_INVALID', `checkpoint of size ${cp.size} carries no signature from a trusted key`);
  }
  return { ...cp, ...result };
}
