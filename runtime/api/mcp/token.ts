/**
 * The MCP endpoint as an OAuth 2.1 resource server: bearer JWT access tokens validated with jose against the configured
 * issuers' JWKS (signature, `iss`, `aud` bound to this server's resource per RFC 8707, `exp`), and the RFC 9728
 * protected-resource metadata clients discover the issuers from. The token is never forwarded anywhere: what the rest of
 * the runtime sees is the CopilotPrincipal built from its validated claims.
 *
 * Verified tokens are remembered (stateless clients send the same token with every call, and the ECDSA verification
 * is the largest cost of a read call), keyed by the token's SHA-256 so no token is held in memory. A remembered token
 * is still checked on every call: its `exp` (and `nbf`) against the clock with the same tolerance, and the key that
 * verified it must still be the one its issuer's JWKS serves for its `kid` (a rotated or removed key, or a refetched
 * JWKS, sends it through the full verification again). `iss`, `aud`, `sub` and the signature are fixed by the token's
 * bytes, so the first verification answers them for every later call with the same token.
 */
import crypto from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTHeaderParameters, type JWTPayload } from 'jose';
import type { McpConfig } from '../../config/types';
import { GlimmerError, quote } from '../../errors';
import type { CopilotPrincipal } from '../../trust/policy/pdp';

/** Scopes a token may carry that mean something here (docs/mcp.md); others are ignored by the policy. */
export const MCP_SCOPES = ['plant.read', 'audit.read', 'plant.write.request'] as const;

/** Asymmetric algorithms only: an HMAC secret would have to be shared with every resource server. */
const ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];

const CLOCK_TOLERANCE_S = 5;

/** Verified tokens remembered (oldest dropped first): well under a kilobyte each. */
export const VERIFIED_TOKEN_CACHE_SIZE = 1024;

type KeyResolver = ReturnType<typeof createRemoteJWKSet>;

interface Verified {
  readonly principal: ValidatedToken;
  readonly notBefore: number | undefined;
  readonly header: JWTHeaderParameters;
  readonly jwks: KeyResolver;
  /** The key object the issuer's JWKS resolved for this token when it was verified. */
  readonly key: unknown;
}

export interface ValidatedToken extends CopilotPrincipal {
  /** Epoch seconds. */
  readonly expiresAt: number;
}

export type TokenVerifier = (authorization: string | undefined) => Promise<ValidatedToken>;

function loopbackOrHttps(uri: string): boolean {
  const u = new URL(uri);
  return u.protocol === 'https:' || (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname));
}

export function createTokenVerifier(config: McpConfig, options: { now?: () => number } = {}): TokenVerifier {
  const now = options.now ?? Date.now;
  const verified = new Map<string, Verified>();
  const issuers = new Map(config.issuers.map((i) => {
    if (!loopbackOrHttps(i.jwksUri)) throw new GlimmerError('GLM_ERR_MCP_NOT_CONFIGURED', `mcp.issuers jwks_uri ${quote(i.jwksUri)} must be https (or http to loopback)`);
    // An unknown `kid` refetches the JWKS (at most every jwks_refresh_min_s): a rotated issuer key is picked up.
    return [i.issuer, createRemoteJWKSet(new URL(i.jwksUri), { cooldownDuration: i.jwksRefreshMinS * 1000, timeoutDuration: 5000 })] as const;
  }));
  return async (authorization) => {
    if (typeof authorization !== 'string' || !authorization.startsWith('Bearer ')) throw invalid('no bearer token');
    const token = authorization.slice(7).trim();
    if (token.length === 0 || token.length > 8192) throw invalid('the bearer token is empty or longer than 8192 characters');
    const digest = crypto.hash('sha256', token, 'base64');
    const known = verified.get(digest);
    if (known !== undefined) {
      const t = now() / 1000;
      if (t - CLOCK_TOLERANCE_S >= known.principal.expiresAt) {
        verified.delete(digest);
        throw invalid('expired');
      }
      if (known.notBefore !== undefined && t + CLOCK_TOLERANCE_S < known.notBefore) throw invalid('not yet valid (nbf)');
      let key: unknown;
      try {
        key = await known.jwks(known.header);
      } catch (err) {
        verified.delete(digest);
        throw invalid(reasonOf(err));
      }
      if (key === known.key) return known.principal;
      verified.delete(digest);
    }
    let claims: JWTPayload;
    try {
      claims = decodeJwt(token);
    } catch {
      throw invalid('the bearer token is not a JWT');
    }
    const jwks = typeof claims.iss === 'string' ? issuers.get(claims.iss) : undefined;
    if (jwks === undefined) throw invalid(`issuer ${quote(claims.iss)} is not one of mcp.issuers`);
    let payload: JWTPayload;
    let header: JWTHeaderParameters;
    let key: unknown;
    try {
      ({ payload, protectedHeader: header } = await jwtVerify(token, async (h, t) => (key = await jwks(h, t)), {
        issuer: claims.iss as string, audience: config.resource, algorithms: ALGORITHMS, requiredClaims: ['exp', 'sub'],
        clockTolerance: CLOCK_TOLERANCE_S, currentDate: new Date(now()),
      }));
    } catch (err) {
      throw invalid(reasonOf(err));
    }
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter((s) => s !== '')
      : Array.isArray(payload.scp) ? payload.scp.filter((s): s is string => typeof s === 'string') : [];
    const client = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : (payload.sub as string);
    const principal: ValidatedToken = Object.freeze({
      type: 'Copilot', id: `${payload.iss}#${payload.sub}`, issuer: payload.iss as string, client: client.slice(0, 256), scopes: Object.freeze(scopes.slice(0, 64)), expiresAt: payload.exp as number,
    });
    if (verified.size >= VERIFIED_TOKEN_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
    verified.set(digest, { principal, notBefore: typeof payload.nbf === 'number' ? payload.nbf : undefined, header, jwks, key });
    return principal;
  };
}

function invalid(reason: string): GlimmerError {
  return new GlimmerError('GLM_ERR_MCP_TOKEN_INVALID', `access token refused: ${reason}`);
}

/** Which check failed, without echoing the token. */
function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `claim ${err.claim} ${err.reason === 'check_failed' ? 'does not match (aud must be this server\'s resource)' : err.reason}`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature does not verify';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key of the issuer\'s JWKS matches (unknown kid or algorithm)';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed (asymmetric signatures only)';
  if (err instanceof errors.JOSEError) return err.code;
  return 'the issuer\'s keys cannot be fetched';
}

/** RFC 9728 metadata of this resource. */
export function protectedResourceMetadata(config: McpConfig): Record<string, unknown> {
  return {
    resource: config.resource,
    authorization_servers: config.issuers.map((i) => i.issuer),
    scopes_supported: [...MCP_SCOPES],
    bearer_methods_supported: ['header'],
    resource_name: 'Glimmer MCP server',
  };
}

/** Where a resource's RFC 9728 metadata lives: /.well-known/oauth-protected-resource plus the resource's path. */
export function metadataPath(resource: string): string {
  const p = new URL(resource).pathname.replace(/\/$/, '');
  return `/.well-known/oauth-protected-resource${p}`;
}
