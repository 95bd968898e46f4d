/** Authentication of API requests: the admin bearer token (constant-time compare) or a verified mTLS client certificate. */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { GlimmerError } from '../errors';
import type { Principal } from './router';

export function tokensEqual(presented: string, expected: string): boolean {
  // Hash both sides first so the comparison is constant-time even when lengths differ.
  const a = crypto.createHash('sha256').update(presented).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

export function authenticate(req: IncomingMessage, adminToken: string): Principal {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.authorized === true && typeof socket.getPeerCertificate === 'function') {
    const uri = socket.getPeerCertificate(false)?.subjectaltname?.split(', ').find((s) => s.startsWith('URI:spiffe://'));
    if (uri) return { id: uri.slice(4), kind: uri.includes('/operator/') ? 'operator' : 'agent' };
  }
  const header = req.headers.authorization;
  if (typeof header === 'string' && header.startsWith('Bearer ')) {
    if (tokensEqual(header.slice(7).trim(), adminToken)) return { id: 'admin', kind: 'admin' };
  }
  throw new GlimmerError('GLM_ERR_API_UNAUTHENTICATED', 'authentication required: a bearer token or an mTLS client certificate');
}
