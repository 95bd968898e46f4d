/**
 * The MCP routes on the API server: the streamable HTTP endpoint (its own bearer-JWT authentication, so it is a
 * public route of the API's router), the RFC 9728 metadata, and the operators' approval queue (admin token or mTLS,
 * like every other API route).
 */
import type { IncomingMessage } from 'node:http';
import { GlimmerError, asGlimmerError, quote } from '../../errors';
import type { McpConfig } from '../../config/types';
import type { Route, RoutePolicy } from '../router';
import type { McpService } from './service';
import { metadataPath, protectedResourceMetadata, type TokenVerifier, type ValidatedToken } from './token';

export const APPROVALS_PATH = '/v1/mcp/approvals';

/** Approving a copilot's write changes the plant: the same question as injecting a fault (engineers and admins). */
export const APPROVALS_POLICY: RoutePolicy = { action: 'configure', resource: { type: 'Asset', id: 'plant', zone: 'control', safety: false } };

/**
 * A check after the token is verified and before any tool runs (the revocation gate: a revoked caller, or every caller
 * while the revocation feed is stale); throws a GlimmerError to refuse.
 */
export type McpGate = (req: IncomingMessage, principal: ValidatedToken) => void;

export function mcpRoutes(config: McpConfig, service: McpService, verify: TokenVerifier, gate?: McpGate): Route[] {
  const metadata = protectedResourceMetadata(config);
  const mcpPath = new URL(config.resource).pathname;
  const metadataUrl = new URL(metadataPath(config.resource), config.resource).toString();
  const notAllowed: Route['handle'] = () => ({ status: 405, headers: { allow: 'POST' }, body: { error: { code: 'GLM_ERR_API_METHOD_NOT_ALLOWED', message: 'stateless MCP server: POST only (no session, no SSE stream)' } } });
  const routes: Route[] = [
    { method: 'GET', path: metadataPath(config.resource), public: true, handle: () => ({ body: metadata }) },
    {
      method: 'POST',
      path: mcpPath,
      public: true,
      async handle(ctx) {
        let principal;
        try {
          principal = await verify(ctx.req.headers.authorization);
        } catch (err) {
          const e = err instanceof GlimmerError ? err : new GlimmerError('GLM_ERR_MCP_TOKEN_INVALID', 'access token refused');
          return {
            status: 401,
            headers: { 'www-authenticate': `Bearer error="invalid_token", error_description=${JSON.stringify(e.message.replace(/"/g, "'"))}, resource_metadata="${metadataUrl}"` },
            body: e.toJSON(),
          };
        }
        try {
          gate?.(ctx.req, principal);
        } catch (err) {
          const e = asGlimmerError(err);
          return { status: e.status, body: e.toJSON() };
        }
        return service.handle(ctx.req.headers, await ctx.json(), principal, (gone) => ctx.res.once('close', gone));
      },
    },
    { method: 'GET', path: mcpPath, public: true, handle: notAllowed },
    { method: 'DELETE', path: mcpPath, public: true, handle: notAllowed },
    { method: 'GET', path: APPROVALS_PATH, handle: () => ({ body: { pending: service.pending.list() } }) },
    {
      method: 'POST',
      path: APPROVALS_PATH,
      policy: APPROVALS_POLICY,
      async handle(ctx) {
        const body = (await ctx.json()) as { id?: unknown; approve?: unknown } | null;
        if (body === null || typeof body !== 'object' || typeof body.id !== 'string' || body.id.length > 64) {
          throw new GlimmerError('GLM_ERR_API_BODY_INVALID', `at /id: received ${quote(body?.id)}, allowed: a pending request id`);
        }
        if (typeof body.approve !== 'boolean') throw new GlimmerError('GLM_ERR_API_BODY_INVALID', `at /approve: received ${quote(body.approve)}, allowed: true or false`);
        return { body: await service.decidePending(body.id, body.approve, ctx.principal?.id ?? 'unknown') };
      },
    },
  ];
  // Clients that probe the root metadata URL (RFC 9728 without the resource path) find it too.
  if (metadataPath(config.resource) !== '/.well-known/oauth-protected-resource') routes.push({ method: 'GET', path: '/.well-known/oauth-protected-resource', public: true, handle: () => ({ body: metadata }) });
  return routes;
}
