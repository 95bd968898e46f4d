/**
 * The audit configuration of `POST /v1/audit/config` (the seed's body). Validation names the field path of the first
 * problem. `immutable_logs` is a one-way switch: once true it is persisted and can never become false again.
 */
import { GlimmerError, quote } from '../errors';
import { MERKLE_ALGORITHMS, type MerkleAlgorithm } from './merkle';

export interface AuditConfig {
  readonly immutable_logs: boolean;
  readonly cryptographic_sealing: {
    readonly algorithm: MerkleAlgorithm;
    /** A duration like `24h`, `90m`, `7d`; between 1m and 366d. */
    readonly rotation_interval: string;
  };
}

export const DEFAULT_AUDIT_CONFIG: AuditConfig = {
  immutable_logs: false,
  cryptographic_sealing: { algorithm: 'RFC9162_SHA512', rotation_interval: '24h' },
};

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MIN_ROTATION_MS = 60_000;
const MAX_ROTATION_MS = 366 * 86_400_000;

/** Milliseconds of a duration like `24h`; NaN when malformed. */
export function durationMs(text: string): number {
  const m = /^([1-9][0-9]{0,8})(s|m|h|d)$/.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : Number.NaN;
}

function bad(path: string, message: string): never {
  throw new GlimmerError('GLM_ERR_API_BODY_INVALID', `${path} ${message}`, { details: { path } });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) bad(`${path}.${key}`, `is not a known field (allowed: ${allowed.join(', ')})`);
  }
}

/**
 * Validates a (partial) configuration body and merges it over `current`. Throws GLM_ERR_API_BODY_INVALID naming the
 * field path, or GLM_ERR_AUDIT_IMMUTABLE when the body tries to switch immutable_logs off after it was switched on.
 */
export function mergeAuditConfig(current: AuditConfig, body: unknown): AuditConfig {
  if (!isObject(body)) bad('$', 'must be a JSON object');
  onlyKeys(body, ['immutable_logs', 'cryptographic_sealing'], '$');
  let immutable = current.immutable_logs;
  if (body.immutable_logs !== undefined) {
    if (typeof body.immutable_logs !== 'boolean') bad('$.immutable_logs', `must be true or false, received ${quote(body.immutable_logs)}`);
    if (current.immutable_logs && !body.immutable_logs) {
      throw new GlimmerError('GLM_ERR_AUDIT_IMMUTABLE', 'immutable_logs was switched on for this audit log and can never be switched off', { details: { path: '$.immutable_logs' } });
    }
    immutable = body.immutable_logs;
  }
  let { algorithm, rotation_interval } = current.cryptographic_sealing;
  const sealing = body.cryptographic_sealing;
  if (sealing !== undefined) {
    if (!isObject(sealing)) bad('$.cryptographic_sealing', 'must be an object');
    onlyKeys(sealing, ['algorithm', 'rotation_interval'], '$.cryptographic_sealing');
    if (sealing.algorithm !== undefined) {
      if (!MERKLE_ALGORITHMS.includes(sealing.algorithm as MerkleAlgorithm)) {
        bad('$.cryptographic_sealing.algorithm', `must be one of ${MERKLE_ALGORITHMS.join(', ')}, received ${quote(sealing.algorithm)}`);
      }
      algorithm = sealing.algorithm as MerkleAlgorithm;
    }
    if (sealing.rotation_interval !== undefined) {
      const ms = typeof sealing.rotation_interval === 'string' ? durationMs(sealing.rotation_interval) : Number.NaN;
      if (!(ms >= MIN_ROTATION_MS && ms <= MAX_ROTATION_MS)) {
        bad('$.cryptographic_sealing.rotation_interval', `must be a duration like 24h, 90m or 7d between 1m and 366d, received ${quote(sealing.rotation_interval)}`);
      }
      rotation_interval = sealing.rotation_interval as string;
    }
  }
  return { immutable_logs: immutable, cryptographic_sealing: { algorithm, rotation_interval } };
}
