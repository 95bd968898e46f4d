/**
 * Authentication of API requests: the admin bearer token (constant-time compare) or the SPIFFE identity of a client
 * certificate verified by the mTLS listener (runtime/trust/mtls.ts).
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { GlimmerError } from '../errors';
import { peerIdentity } from '../trust/mtls';
import { assertAllowed, type ApiAuthorize } from '../trust/policy/api';
import type { Principal, Route } from './router';

export function tokensEqual(presented: string, expected: string): boolean {
  // Hash both sides first so the comparison is constant-time even when lengths differ.
  const a = crypto.createHash('sha256').update(presented).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

export function authenticate(req: IncomingMessage, adminToken: string): Principal {
  // Requests on the mTLS listener carry the identity its handshake verified (chain, validity, SPIFFE ID, revocation).
  const peer = peerIdentity(req);
  if (peer) return { id: peer.spiffeId, kind: peer.kind === 'operator' ? 'operator' : 'agent' };
  const header = req.headers.authorization;
  if (typeof header === 'string' && header.startsWith('Bearer ')) {
    if (tokensEqual(header.slice(7).trim(), adminToken)) return { id: 'admin', kind: 'admin' };
  }
  throw new GlimmerError('GLM_ERR_API_UNAUTHENTICATED', 'authentication required: a bearer token or an mTLS client certificate');
}

/**
 * The API's authorization step: reads need only authentication; a state-changing route asks the PDP the question its
 * `policy` declares, and a route that declares none is refused (default deny).
 */
export function routePolicyCheck(authorize: ApiAuthorize): (principal: Principal, route: Route, pathname: string) => void {
  return (principal, route, pathname) => {
    if (route.method === 'GET') return;
    if (!route.policy) throw new GlimmerError('GLM_ERR_API_FORBIDDEN', `${route.method} ${pathname} has no policy mapping (default deny)`);
    assertAllowed(authorize(principal, route.policy.action, route.policy.resource), `${route.method} ${pathname}`);
  };
}
