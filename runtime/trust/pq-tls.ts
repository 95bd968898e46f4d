/**
 * Post-quantum key exchange policy for every TLS link the runtime serves or opens (A2A, the mTLS API, the mTLS client
 * pool, the KMS client of checkpoint signing). Three modes mirror the mesh's (Istio) settings, so one deployment
 * variable sets both:
 * - `pqc-only`: TLS 1.3 with the hybrid group X25519MLKEM768 only (Istio COMPLIANCE_POLICY=pqc). A peer that cannot
 *   do ML-KEM fails the handshake.
 * - `hybrid-preferred` (default): X25519MLKEM768 first, then X25519 and P-256 for classical peers. Listing the hybrid
 *   group first with classical fallbacks is what operators do when the pqc policy breaks classical clients.
 * - `classical`: X25519, P-256, P-384 only (e.g. a FIPS 140-2 module without ML-KEM).
 * The runtime config's `topology.tls_pq_mode` sets it; GLIMMER_TLS_PQ_MODE (rendered by the stacks from the same
 * variable as the mesh) overrides it, and agent processes inherit it through that variable.
 */
import type tls from 'node:tls';
import { GlimmerError, quote } from '../errors';

export const TLS_PQ_MODES = ['pqc-only', 'hybrid-preferred', 'classical'] as const;
export type TlsPqMode = (typeof TLS_PQ_MODES)[number];

export const TLS_PQ_MODE_ENV = 'GLIMMER_TLS_PQ_MODE';
export const HYBRID_GROUP = 'X25519MLKEM768';

/** OpenSSL group lists (ecdhCurve) per mode, most preferred first. */
export const TLS_GROUPS: Readonly<Record<TlsPqMode, string>> = {
  'pqc-only': HYBRID_GROUP,
  'hybrid-preferred': `${HYBRID_GROUP}:X25519:P-256`,
  classical: 'X25519:P-256:P-384',
};

export function parseTlsPqMode(value: string, source: string): TlsPqMode {
  if ((TLS_PQ_MODES as readonly string[]).includes(value)) return value as TlsPqMode;
  throw new GlimmerError('GLM_ERR_TLS_PQ_MODE_INVALID', `${source} must be one of ${TLS_PQ_MODES.join(', ')}, received ${quote(value)}`);
}

let processMode: TlsPqMode | undefined;

/**
 * The mode of this process: the environment variable if set (non-empty), else the configured value, else
 * hybrid-preferred. Also exports the result to the environment, so forked agents use the same mode.
 */
export function applyTlsPqMode(configured?: TlsPqMode, env: NodeJS.ProcessEnv = process.env): TlsPqMode {
  const fromEnv = env[TLS_PQ_MODE_ENV];
  const mode = fromEnv !== undefined && fromEnv !== '' ? parseTlsPqMode(fromEnv, TLS_PQ_MODE_ENV) : configured ?? 'hybrid-preferred';
  processMode = mode;
  env[TLS_PQ_MODE_ENV] = mode;
  return mode;
}

/** The process's mode (applyTlsPqMode, else the environment, else hybrid-preferred). */
export function currentTlsPqMode(): TlsPqMode {
  if (processMode === undefined) {
    const fromEnv = process.env[TLS_PQ_MODE_ENV];
    processMode = fromEnv !== undefined && fromEnv !== '' ? parseTlsPqMode(fromEnv, TLS_PQ_MODE_ENV) : 'hybrid-preferred';
  }
  return processMode;
}

/** TLS options that pin the key-exchange groups of a mode (TLS 1.3 only: every group here is a TLS 1.3 group). */
export function tlsGroupOptions(mode: TlsPqMode = currentTlsPqMode()): Pick<tls.SecureContextOptions, 'ecdhCurve' | 'minVersion' | 'maxVersion'> {
  return { ecdhCurve: TLS_GROUPS[mode], minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
}

/**
 * The key-exchange group a connection negotiated. OpenSSL reports it to the client only (Node's
 * getEphemeralKeyInfo is null on a server socket); a server in pqc-only mode can only have completed the handshake
 * with X25519MLKEM768, so it knows the group without asking. Otherwise 'unknown' on the server side.
 */
export function negotiatedGroup(socket: tls.TLSSocket, mode: TlsPqMode = currentTlsPqMode()): string {
  const info = socket.getEphemeralKeyInfo();
  if (info && typeof info === 'object' && 'name' in info && typeof info.name === 'string') return info.name;
  return mode === 'pqc-only' ? HYBRID_GROUP : 'unknown';
}
