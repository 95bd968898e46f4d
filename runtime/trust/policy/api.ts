/**
 * Enforcement point for the HTTP API: one call per request. The caller is the API's authenticated principal (an mTLS
 * SPIFFE ID, or the admin bearer token, which stands for operator `admin`); the decision is audited by the PDP.
 */
import { GlimmerError, quote } from '../../errors';
import { ADMIN_OPERATOR } from './principals';
import type { PolicyDecision, PolicyAction, PolicyDecisionPoint, PolicyResource } from './pdp';

/** The API's principal shape (runtime/api/router.ts Principal fits). */
export interface ApiPrincipal {
  readonly id: string;
  readonly kind: string;
}

export type ApiAuthorize = (principal: ApiPrincipal | string, action: PolicyAction, resource: PolicyResource) => PolicyDecision;

export function createApiAuthorizer(pdp: PolicyDecisionPoint): ApiAuthorize {
  return (principal, action, resource) => {
    const id = typeof principal === 'string' ? principal
      : principal.kind === 'admin' ? `spiffe://${pdp.model.trustDomain}/operator/${ADMIN_OPERATOR}` : principal.id;
    return pdp.authorize(id, action, resource, { protocol: 'https' });
  };
}

/** Throws GLM_ERR_API_FORBIDDEN (403) naming the deciding policies when the decision is a deny. */
export function assertAllowed(decision: PolicyDecision, what: string): void {
  if (!decision.allow) {
    throw new GlimmerError('GLM_ERR_API_FORBIDDEN', `${what} denied by policy: ${quote(decision.reasons.join(', '))}`, { details: { reasons: decision.reasons } });
  }
}
