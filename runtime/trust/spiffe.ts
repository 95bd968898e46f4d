/**
 * SPIFFE IDs of Glimmer: `spiffe://<trust-domain>/zone/<zone>/agent/<name>` for agents and
 * `spiffe://<trust-domain>/operator/<name>` for people. Parsing is strict (SPIFFE ID spec §2: lowercase trust domain,
 * path segments of [A-Za-z0-9._-], no query, fragment, port, user info or percent-encoding) and never throws anything
 * but GLM_ERR_CERT_SAN_INVALID.
 */
import { GlimmerError, quote } from '../errors';

export type SpiffeId =
  | { readonly kind: 'agent'; readonly spiffeId: string; readonly trustDomain: string; readonly zone: string; readonly agent: string }
  | { readonly kind: 'operator'; readonly spiffeId: string; readonly trustDomain: string; readonly operator: string };

const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;
const MAX_ID_LENGTH = 2048;

export function assertTrustDomain(trustDomain: string): void {
  if (!TRUST_DOMAIN.test(trustDomain) || /^\.+$/.test(trustDomain)) {
    throw new GlimmerError('GLM_ERR_CERT_SAN_INVALID', `trust domain ${quote(trustDomain)} is not valid: lowercase letters, digits, '.', '-', '_' only`);
  }
}

function assertSegment(what: string, value: string): void {
  if (!SEGMENT.test(value) || value === '.' || value === '..') {
    throw new GlimmerError('GLM_ERR_CERT_SAN_INVALID', `${what} ${quote(value)} is not a valid SPIFFE path segment: letters, digits, '.', '-', '_' only`);
  }
}

export function agentSpiffeId(trustDomain: string, zone: string, agent: string): string {
  assertTrustDomain(trustDomain);
  assertSegment('zone', zone);
  assertSegment('agent name', agent);
  return `spiffe://${trustDomain}/zone/${zone}/agent/${agent}`;
}

export function operatorSpiffeId(trustDomain: string, operator: string): string {
  assertTrustDomain(trustDomain);
  assertSegment('operator name', operator);
  return `spiffe://${trustDomain}/operator/${operator}`;
}

export function parseSpiffeId(uri: string): SpiffeId {
  const invalid = (why: string) => new GlimmerError('GLM_ERR_CERT_SAN_INVALID', `URI SAN ${quote(uri)} is not a Glimmer SPIFFE ID: ${why}`);
  if (typeof uri !== 'string' || uri.length > MAX_ID_LENGTH) throw invalid('too long');
  if (!uri.startsWith('spiffe://')) throw invalid('scheme must be spiffe://');
  const rest = uri.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) throw invalid('no trust domain or no path');
  const trustDomain = rest.slice(0, slash);
  if (!TRUST_DOMAIN.test(trustDomain)) throw invalid('trust domain must be lowercase letters, digits, ".", "-", "_"');
  const segments = rest.slice(slash + 1).split('/');
  if (segments.some((s) => !SEGMENT.test(s) || s === '.' || s === '..')) throw invalid('path segments must be letters, digits, ".", "-", "_"');
  if (segments.length === 4 && segments[0] === 'zone' && segments[2] === 'agent') {
    return { kind: 'agent', spiffeId: uri, trustDomain, zone: segments[1] as string, agent: segments[3] as string };
  }
  if (segments.length === 2 && segments[0] === 'operator') {
    return { kind: 'operator', spiffeId: uri, trustDomain, operator: segments[1] as string };
  }
  throw invalid('path must be /zone/<zone>/agent/<name> or /operator/<name>');
}
