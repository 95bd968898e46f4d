/**
 * The signed release manifest and the measured-boot check. Every artifact an agent loads (code bundle, config, rule
 * files, model, policies) is hashed; the hashes extend a PCR-like measurement m = SHA-256(m || SHA-256(artifact)),
 * starting from 32 zero bytes, in the agent's artifact order. Each artifact must be listed in the manifest with the same
 * hash, and the manifest's signature must verify against the pinned release public key (Ed25519, or ECDSA P-384 as
 * AWS KMS signs in CI). Any mismatch refuses the boot with an error naming the artifact.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GlimmerError, quote } from '../errors';
import { CONFIG_PINS_ENV, type ConfigPins } from './config-pins';

export interface ManifestArtifact {
  readonly path: string;
  readonly sha256: string;
}

export interface ReleaseManifest {
  readonly version: 1;
  readonly release: string;
  readonly created: string;
  readonly artifacts: readonly ManifestArtifact[];
}

export interface Measurement {
  /** Final extend-only measurement, hex. */
  readonly value: string;
  /** Artifacts in the order they were extended, with their hashes. */
  readonly artifacts: readonly ManifestArtifact[];
}

const HEX64 = /^[0-9a-f]{64}$/;
const MAX_MANIFEST_BYTES = 1024 * 1024;

export function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export function extend(measurement: Buffer, artifactHashHex: string): Buffer<ArrayBufferLike> {
  return crypto.createHash('sha256').update(measurement).update(Buffer.from(artifactHashHex, 'hex')).digest();
}

/** Parses untrusted manifest bytes into a ReleaseManifest or throws GLM_ERR_BOOT_MANIFEST_INVALID. */
export function parseManifest(bytes: Buffer, source: string): ReleaseManifest {
  const bad = (why: string) => new GlimmerError('GLM_ERR_BOOT_MANIFEST_INVALID', `release manifest ${source}: ${why}`);
  if (bytes.length > MAX_MANIFEST_BYTES) throw bad(`larger than ${MAX_MANIFEST_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw bad('not valid JSON');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw bad('not a JSON object');
  const m = doc as Record<string, unknown>;
  if (m.version !== 1) throw bad(`version must be 1, received ${quote(m.version)}`);
  if (typeof m.release !== 'string' || typeof m.created !== 'string') throw bad('release and created must be strings');
  if (!Array.isArray(m.artifacts)) throw bad('artifacts must be an array');
  const seen = new Set<string>();
  const artifacts = m.artifacts.map((a: unknown, i: number) => {
    const entry = a as Record<string, unknown> | null;
    if (entry === null || typeof entry !== 'object' || typeof entry.path !== 'string' || typeof entry.sha256 !== 'string') {
      throw bad(`artifacts[${i}] must have string path and sha256`);
    }
    if (!HEX64.test(entry.sha256)) throw bad(`artifacts[${i}].sha256 must be 64 lowercase hex digits, received ${quote(entry.sha256)}`);
    if (path.isAbsolute(entry.path) || entry.path.split('/').includes('..')) throw bad(`artifacts[${i}].path must be relative without '..', received ${quote(entry.path)}`);
    if (seen.has(entry.path)) throw bad(`artifacts[${i}].path ${quote(entry.path)} is listed twice`);
    seen.add(entry.path);
    return { path: entry.path, sha256: entry.sha256 };
  });
  return { version: 1, release: m.release, created: m.created, artifacts };
}

function verifyAlgorithm(key: crypto.KeyObject): string | null {
  if (key.asymmetricKeyType === 'ed25519') return null;
  if (key.asymmetricKeyType === 'ec') return 'sha384';
  throw new GlimmerError('GLM_ERR_BOOT_MANIFEST_SIGNATURE', `release key type ${quote(key.asymmetricKeyType)} is not supported (Ed25519 or ECDSA P-384)`);
}

export function signManifest(manifestBytes: Buffer, privateKeyPem: string): Buffer {
  const key = crypto.createPrivateKey(privateKeyPem);
  return crypto.sign(key.asymmetricKeyType === 'ed25519' ? null : 'sha384', manifestBytes, key);
}

export function verifyManifestSignature(manifestBytes: Buffer, signature: Buffer, publicKeyPem: string, source: string): void {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey(publicKeyPem);
  } catch (err) {
    throw new GlimmerError('GLM_ERR_BOOT_MANIFEST_SIGNATURE', `release public key is not a valid PEM public key`, { cause: err });
  }
  // Outside the try: an unsupported key type is its own refusal, not a signature that fails to verify.
  const algorithm = verifyAlgorithm(key);
  let ok = false;
  try {
    ok = crypto.verify(algorithm, manifestBytes, key, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new GlimmerError('GLM_ERR_BOOT_MANIFEST_SIGNATURE', `release manifest ${source}: signature does not verify against the pinned release key`);
}

export interface MeasuredBootInput {
  /** Directory the artifact paths are relative to (the repo or image root). */
  readonly root: string;
  readonly manifestFile: string;
  readonly signatureFile: string;
  readonly publicKeyPem: string;
  /** Artifacts this agent loads, relative to root, in load order. */
  readonly artifacts: readonly string[];
  /** Pins of deployment files outside root (by file name), which no release manifest can list. @default {} */
  readonly configPins?: ConfigPins;
}

/** Verifies the manifest signature, then measures each artifact against it. Returns the final measurement. */
export function measuredBoot(input: MeasuredBootInput): Measurement {
  let manifestBytes: Buffer;
  let signature: Buffer;
  try {
    manifestBytes = fs.readFileSync(input.manifestFile);
    signature = Buffer.from(fs.readFileSync(input.signatureFile, 'utf8').trim(), 'base64');
  } catch (err) {
    throw new GlimmerError('GLM_ERR_BOOT_MANIFEST_INVALID', `release manifest ${input.manifestFile} or its signature cannot be read; run \`make build\` to produce them`, { cause: err });
  }
  verifyManifestSignature(manifestBytes, signature, input.publicKeyPem, input.manifestFile);
  const manifest = parseManifest(manifestBytes, input.manifestFile);
  const expected = new Map(manifest.artifacts.map((a) => [a.path, a.sha256]));
  let m: Buffer<ArrayBufferLike> = Buffer.alloc(32);
  const measured: ManifestArtifact[] = [];
  for (const rel of input.artifacts) {
    const outside = rel.startsWith('../') || path.isAbsolute(rel);
    // Outside files: pinned by absolute path (mounted rule files) or by file name (the mounted configuration).
    const want = outside ? (input.configPins?.[path.resolve(input.root, rel)] ?? input.configPins?.[path.basename(rel)]) : expected.get(rel);
    if (want === undefined) {
      const why = outside ? `is outside the release and not pinned by ${CONFIG_PINS_ENV}` : 'is loaded but not listed in the signed release manifest';
      throw new GlimmerError('GLM_ERR_BOOT_ARTIFACT_MISSING', `measured boot: ${rel} ${why}`, { details: { artifact: rel } });
    }
    let got: string;
    try {
      got = sha256File(path.join(input.root, rel));
    } catch {
      throw new GlimmerError('GLM_ERR_BOOT_ARTIFACT_MISSING', `measured boot: ${rel} is listed in the release manifest but cannot be read`, { details: { artifact: rel } });
    }
    if (!crypto.timingSafeEqual(Buffer.from(got, 'hex'), Buffer.from(want, 'hex'))) {
      throw new GlimmerError('GLM_ERR_BOOT_ARTIFACT_MISMATCH', `measured boot: ${rel} has sha256 ${got}, ${outside ? `its ${CONFIG_PINS_ENV} pin` : 'the signed release manifest'} says ${want}`, {
        details: { artifact: rel, expected: want, actual: got },
      });
    }
    m = extend(m, got);
    measured.push({ path: rel, sha256: got });
  }
  return { value: m.toString('hex'), artifacts: measured };
}

/** Builds a manifest over the given files (relative to root), sorted for a stable byte form. */
export function buildManifest(root: string, files: readonly string[], release: string): Buffer {
  const artifacts = [...new Set(files)].sort().map((rel) => ({ path: rel, sha256: sha256File(path.join(root, rel)) }));
  const manifest: ReleaseManifest = { version: 1, release, created: new Date().toISOString(), artifacts };
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}
