/**
 * SVID revocation over the API: POST /v1/trust/revoke (a SPIFFE ID or a certificate serial; Cedar-guarded like every
 * state-changing route, audited with the caller's identity) and GET /v1/trust/revocations (the signed feed the other
 * pods of a cluster follow, and what `glimmer trust revocations` prints).
 */
import { GlimmerError, quote } from '../../errors';
import type { RevocationFeed } from '../../trust/revocation-feed';
import { verifyRevocationFeed } from '../../trust/revocation';
import type { Route, RoutePolicy } from '../router';

export const REVOKE_PATH = '/v1/trust/revoke';
export const REVOCATIONS_PATH = '/v1/trust/revocations';

/** Revoking an identity cuts a workload off the trust domain: the same question as configuring the runtime's assets. */
export const REVOKE_POLICY: RoutePolicy = { action: 'configure', resource: { type: 'Asset', id: 'trust-domain', zone: 'control', safety: false } };

export function trustRoutes(feed: RevocationFeed, trust: { readonly bundlePem: string; readonly trustDomain: string }): Route[] {
  return [
    {
      method: 'POST',
      path: REVOKE_PATH,
      policy: REVOKE_POLICY,
      async handle(ctx) {
        const body = (await ctx.json()) as { target?: unknown; reason?: unknown } | null;
        const target = body !== null && typeof body === 'object' ? body.target : undefined;
        if (typeof target !== 'string' || target.length === 0 || target.length > 2048) {
          throw new GlimmerError('GLM_ERR_API_BODY_INVALID', `at /target: received ${quote(target)}, allowed: a SPIFFE ID (spiffe://...) or a hex certificate serial`);
        }
        const reason = body?.reason ?? 'unspecified';
        if (typeof reason !== 'string' || reason.length > 200) throw new GlimmerError('GLM_ERR_API_BODY_INVALID', `at /reason: received ${quote(reason)}, allowed: a string of at most 200 characters`);
        const result = await feed.revoke(target, reason, ctx.principal?.id ?? 'unknown');
        return { status: result.revoked ? 201 : 200, body: result };
      },
    },
    {
      method: 'GET',
      path: REVOCATIONS_PATH,
      async handle(ctx) {
        const signed = await feed.current();
        // ?decoded=1: the verified entries beside the signed feed (for people); followers read the feed as is.
        if (ctx.url.searchParams.get('decoded') === '1') {
          const payload = verifyRevocationFeed(signed, trust);
          return { body: { ...signed, authority: feed.authority, stale: feed.list.stale, feed_age_ms: feed.list.feedAgeMs ?? 0, entries: { serials: payload.serials, spiffe_ids: payload.spiffe_ids }, issued_at: payload.issued_at } };
        }
        return { body: signed };
      },
    },
  ];
}
