/**
 * The API's authorization step (runtime/api/auth.ts routePolicyCheck): the policy question is declared on each route,
 * asked of the real PDP; reads need only authentication; a state-changing route without a declared policy is refused.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { routePolicyCheck } from '../../runtime/api/auth';
import type { Principal, Route } from '../../runtime/api/router';
import { auditRoutes } from '../../runtime/api/routes/audit';
import { PLANT_FAULTS_POLICY } from '../../runtime/api/routes/plant';
import { opcuaRoutes } from '../../runtime/api/routes/opcua';
import { loadConfig } from '../../runtime/config/load';
import { isGlimmerError } from '../../runtime/errors';
import { createApiAuthorizer } from '../../runtime/trust/policy/api';
import { PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';

let check: ReturnType<typeof routePolicyCheck>;
before(async () => {
  const config = loadConfig();
  const pdp = await PolicyDecisionPoint.create({ model: { ...config, trustDomain: config.topology.trust_domain }, audit: () => undefined });
  check = routePolicyCheck(createApiAuthorizer(pdp));
});

const admin: Principal = { id: 'admin', kind: 'admin' };
const agent: Principal = { id: 'spiffe://glimmer.local/zone/control/agent/industrial-1', kind: 'agent' };
const route = (method: Route['method'], path: string, policy?: Route['policy']): Route => ({ method, path, ...(policy ? { policy } : {}), handle: () => ({ body: null }) });
const forbidden = (pattern: RegExp) => (err: unknown) => isGlimmerError(err, 'GLM_ERR_API_FORBIDDEN') && pattern.test(err.message);

test('GIVEN a state-changing route that declares no policy WHEN any principal calls it THEN GLM_ERR_API_FORBIDDEN (default deny), while a read passes', () => {
  assert.throws(() => check(admin, route('POST', '/v1/new'), '/v1/new'), forbidden(/POST \/v1\/new has no policy mapping \(default deny\)/));
  assert.doesNotThrow(() => check(agent, route('GET', '/v1/new'), '/v1/new'));
});

test('GIVEN the routes as shipped WHEN the admin and an agent configure the audit log or inject faults THEN the policy each route declares decides: the admin is allowed, the agent refused with the deciding policy', () => {
  const auditConfig = auditRoutes({} as never).find((r) => r.method === 'POST' && r.path === '/v1/audit/config');
  assert.ok(auditConfig?.policy, 'POST /v1/audit/config declares its policy');
  assert.doesNotThrow(() => check(admin, auditConfig, '/v1/audit/config'));
  assert.throws(() => check(agent, auditConfig, '/v1/audit/config'), forbidden(/forbid-agents-configure-audit/));
  const faults = route('POST', '/v1/plant/faults', PLANT_FAULTS_POLICY);
  assert.doesNotThrow(() => check(admin, faults, '/v1/plant/faults'));
  assert.throws(() => check(agent, faults, '/v1/plant/faults'), forbidden(/denied by policy/));
});

test('GIVEN the OPC UA trust and certificate routes WHEN the admin and an agent add, revoke or renew THEN each route declares its policy: the admin is allowed, the agent refused', () => {
  const routes = opcuaRoutes({ trust: {} as never, certificates: {} as never, accounts: {} as never, defaultZone: 'control', audit: { append: async () => undefined } });
  const changing = routes.filter((r) => r.method !== 'GET');
  for (const path of ['/v1/opcua/certs', '/v1/opcua/certs/revoke', '/v1/opcua/certs/own/renew']) {
    const r = changing.find((x) => x.path === path);
    assert.ok(r?.policy, `${path} declares its policy`);
    assert.doesNotThrow(() => check(admin, r, path));
    assert.throws(() => check(agent, r, path), forbidden(/denied by policy|forbid/));
  }
  for (const r of changing) assert.ok(r.policy, `${r.method} ${r.path} declares its policy`);
});
