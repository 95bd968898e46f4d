/**
 * The MCP resource server's token verifier (runtime/api/mcp/token.ts) against an issuer run here: a token it has
 * verified before is still refused once it expires, and once its signing key is no longer in the issuer's JWKS.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { GlimmerError } from '../../runtime/errors';
import { createTokenVerifier } from '../../runtime/api/mcp/token';
import type { McpConfig } from '../../runtime/config/types';
import { TestIssuer } from '../helpers/oauth-issuer';

const RESOURCE = 'https://plant.glimmer.test/mcp';
let issuer: TestIssuer;
let config: McpConfig;

before(async () => {
  issuer = await TestIssuer.start();
  config = { resource: RESOURCE, issuers: [{ issuer: issuer.issuer, jwksUri: issuer.jwksUri, jwksRefreshMinS: 0 }], maxCallsPerMinute: 100, writeZone: 'control', maxPendingWrites: 8 };
});
after(() => issuer.close());

function refusedWith(reason: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof GlimmerError && err.code === 'GLM_ERR_MCP_TOKEN_INVALID' && reason.test(err.message);
}

test('GIVEN a token verified on an earlier call WHEN the clock passes its exp (beyond the 5 s tolerance) THEN the next call is refused as expired, and again after that', async () => {
  let clock = Date.now();
  const verify = createTokenVerifier(config, { now: () => clock });
  const token = await issuer.token({ sub: 'clocked', scope: 'plant.read', expiresIn: 60 }, RESOURCE);
  const first = await verify(`Bearer ${token}`);
  assert.equal(first.id, `${issuer.issuer}#clocked`);
  assert.deepEqual(await verify(`Bearer ${token}`), first);
  clock += 64_000;
  assert.deepEqual(await verify(`Bearer ${token}`), first, 'within the clock tolerance');
  clock += 2_000;
  await assert.rejects(verify(`Bearer ${token}`), refusedWith(/expired/));
  await assert.rejects(verify(`Bearer ${token}`), refusedWith(/expired/));
});

test('GIVEN a token verified on an earlier call WHEN the issuer rotates its key and the JWKS is refetched THEN the remembered token is refused (its key is gone) while a token of the new key is accepted', async () => {
  const verify = createTokenVerifier(config);
  const old = await issuer.token({ sub: 'rotated', scope: 'plant.read' }, RESOURCE);
  await verify(`Bearer ${old}`);
  await verify(`Bearer ${old}`);
  await issuer.rotate();
  const fresh = await issuer.token({ sub: 'rotated', scope: 'plant.read' }, RESOURCE);
  assert.equal((await verify(`Bearer ${fresh}`)).id, `${issuer.issuer}#rotated`);
  await assert.rejects(verify(`Bearer ${old}`), refusedWith(/no key of the issuer's JWKS matches/));
});

test('GIVEN a verified token WHEN one character of its signature changes THEN it is verified afresh and refused', async () => {
  const verify = createTokenVerifier(config);
  const token = await issuer.token({ sub: 'tampered', scope: 'plant.read' }, RESOURCE);
  await verify(`Bearer ${token}`);
  const last = token.at(-2) === 'A' ? 'B' : 'A';
  await assert.rejects(verify(`Bearer ${token.slice(0, -2)}${last}${token.slice(-1)}`), refusedWith(/signature does not verify|JWS|JWT/));
});
