/**
 * The PDP's decision cache for Agent and AuditConfig resources and copilots' Tool reads (runtime/trust/policy/pdp.ts):
 * every cached answer is the answer Cedar gives now (checked against an uncached PDP over random requests and
 * changes), it is dropped on every policy, model (identity, zone) change, it is bounded, and a cached decision is
 * still audited.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { DEFAULT_POLICY_DIR } from '../../runtime/trust/policy/load';
import { POLICY_ACTIONS, PolicyDecisionPoint, type CopilotPrincipal, type PolicyResource, type RequestContext } from '../../runtime/trust/policy/pdp';
import type { PolicyModelInput } from '../../runtime/trust/policy/principals';
import type { TrustAuditRecord } from '../../runtime/trust/audit';
import { loadConfig } from '../../runtime/config/load';

let model: PolicyModelInput;
let td: string;
const agent = (zone: string, name: string) => `spiffe://${td}/zone/${zone}/agent/${name}`;

before(() => {
  const config = loadConfig();
  td = config.topology.trust_domain;
  model = { ...config, trustDomain: td, operators: [{ name: 'alice', zone: 'operations', roles: ['operator'] }, { name: 'audy', zone: 'dmz', roles: ['auditor'] }] };
});

async function policyDirWith(extra: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'glimmer-cache-policies-'));
  for (const name of await readdir(DEFAULT_POLICY_DIR)) await copyFile(path.join(DEFAULT_POLICY_DIR, name), path.join(dir, name));
  for (const [name, text] of Object.entries(extra)) await writeFile(path.join(dir, name), text);
  return dir;
}

const call = (to: string): PolicyResource => ({ type: 'Agent', id: to });
const a2a = (skill: string): RequestContext => ({ protocol: 'a2a', skill });
const copilot = (sub: string, scopes: string[], client = 'ide'): CopilotPrincipal => ({ type: 'Copilot', id: `https://idp.example#${sub}`, issuer: 'https://idp.example', client, scopes });
/** Same id, different scopes or client: the key must keep them apart. Duplicates and order must not matter. */
const COPILOTS = [
  copilot('a', ['plant.read']), copilot('a', ['audit.read']), copilot('a', ['audit.read', 'plant.read', 'audit.read']), copilot('a', ['plant.read', 'audit.read']),
  copilot('a', [], 'other'), copilot('b', ['plant.read'], 'other'),
];
const TOOLS: PolicyResource[] = ['read_plant', 'query_audit', 'glimmer://plant/map'].flatMap((id) => ['readPlant', 'readAudit', 'resource'].map((kind) => ({ type: 'Tool' as const, id, kind })));
const mcp = (tool: string): RequestContext => ({ protocol: 'mcp', tool });

test('GIVEN random principals (agents, operators, copilots), actions, agent/audit-config/tool resources, contexts and model changes WHEN decided by the cached PDP THEN always the uncached PDP answer', async () => {
  const config = loadConfig();
  const cached = await PolicyDecisionPoint.create({ model, audit: () => undefined, decisionCacheSize: 64 });
  const plain = await PolicyDecisionPoint.create({ model, audit: () => undefined, decisionCacheSize: 0 });
  const agents = config.agents.map((a) => agent(a.zone, a.name));
  const principals = [...agents, `spiffe://${td}/operator/alice`, `spiffe://${td}/operator/audy`, `spiffe://${td}/operator/admin`, agent('enterprise', 'erp-1'), 'spiffe://other.example/zone/dmz/agent/data-1', 'not-a-spiffe-id'];
  const models: PolicyModelInput[] = [
    model,
    { ...model, agents: [...model.agents, { name: 'erp-1', kind: 'data', zone: 'enterprise' }] },
    { ...model, conduits: model.conduits.filter((c) => !c.protocols.includes('a2a')) },
    { ...model, operators: [{ name: 'alice', zone: 'dmz', roles: [] }] },
  ];
  const request = fc.record({
    principal: fc.oneof(fc.constantFrom<string | CopilotPrincipal>(...principals), fc.constantFrom<string | CopilotPrincipal>(...COPILOTS)),
    action: fc.constantFrom(...POLICY_ACTIONS),
    resource: fc.oneof(fc.constantFrom(...agents, agent('enterprise', 'erp-1'), 'spiffe://x/none').map(call), fc.constant<PolicyResource>({ type: 'AuditConfig' }), fc.constantFrom(...TOOLS)),
    context: fc.oneof(fc.constantFrom('agent-card', 'echo', 'SendMessage', 'x'.repeat(64)).map(a2a), fc.constant<RequestContext>({ protocol: 'https' }), fc.constantFrom('read_plant', 'query_audit', 'resources/read').map(mcp)),
  });
  const step = fc.oneof(request.map((r) => ({ kind: 'ask' as const, ...r })), fc.nat(models.length - 1).map((m) => ({ kind: 'model' as const, m })));
  fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
    for (const s of steps) {
      if (s.kind === 'model') {
        cached.setModel(models[s.m] as PolicyModelInput);
        plain.setModel(models[s.m] as PolicyModelInput);
        continue;
      }
      const expected = plain.decide(s.principal, s.action, s.resource, s.context);
      assert.deepEqual(cached.decide(s.principal, s.action, s.resource, s.context), expected);
      assert.deepEqual(cached.decide(s.principal, s.action, s.resource, s.context), expected);
    }
  }), { numRuns: 60 });
  assert.ok(cached.decisionCache.hits > 0);
  assert.equal(plain.decisionCache.size, 0);
});

test('GIVEN a cached allow WHEN the model drops the A2A conduit (zone change) THEN the next call is denied', async () => {
  const pdp = await PolicyDecisionPoint.create({ model, audit: () => undefined });
  const from = agent('dmz', 'data-1');
  const to = agent('operations', 'cognitive-1');
  assert.equal(pdp.decide(from, 'call', call(to), a2a('status')).allow, true);
  assert.equal(pdp.decide(from, 'call', call(to), a2a('status')).allow, true);
  assert.equal(pdp.decisionCache.hits, 1);
  pdp.setModel({ ...model, conduits: model.conduits.filter((c) => !c.protocols.includes('a2a')) });
  assert.equal(pdp.decisionCache.size, 0);
  assert.deepEqual(pdp.decide(from, 'call', call(to), a2a('status')), { allow: false, reasons: ['default-deny'], errors: [] });
});

test('GIVEN a cached allow WHEN the caller identity leaves the model THEN unknown-principal at once', async () => {
  const pdp = await PolicyDecisionPoint.create({ model, audit: () => undefined });
  const from = agent('dmz', 'data-1');
  const to = agent('operations', 'cognitive-1');
  assert.equal(pdp.decide(from, 'call', call(to), a2a('status')).allow, true);
  pdp.setModel({ ...model, agents: model.agents.filter((a) => a.name !== 'data-1') });
  assert.deepEqual(pdp.decide(from, 'call', call(to), a2a('status')).reasons, ['unknown-principal']);
});

test('GIVEN a cached allow WHEN the policy set is reloaded with a forbid THEN the forbid decides the next call', async () => {
  const pdp = await PolicyDecisionPoint.create({ model, audit: () => undefined });
  const from = agent('dmz', 'data-1');
  const to = agent('operations', 'cognitive-1');
  assert.equal(pdp.decide(from, 'call', call(to), a2a('status')).allow, true);
  await pdp.reload(await policyDirWith({ 'zz-no-calls.cedar': '@id("no-agent-calls")\nforbid (principal, action == Glimmer::Action::"call", resource is Glimmer::Agent);\n' }));
  assert.deepEqual(pdp.decide(from, 'call', call(to), a2a('status')), { allow: false, reasons: ['no-agent-calls'], errors: [] });
});

test('GIVEN a copilot\'s cached read allow WHEN the policy set is reloaded with a forbid, or the same copilot comes without the scope THEN it is denied on the next call', async () => {
  const pdp = await PolicyDecisionPoint.create({ model, audit: () => undefined });
  const tool: PolicyResource = { type: 'Tool', id: 'read_plant', kind: 'readPlant' };
  assert.equal(pdp.decide(copilot('a', ['plant.read']), 'readPlant', tool, mcp('read_plant')).allow, true);
  assert.equal(pdp.decide(copilot('a', ['plant.read']), 'readPlant', tool, mcp('read_plant')).allow, true);
  assert.equal(pdp.decisionCache.hits, 1);
  assert.deepEqual(pdp.decide(copilot('a', ['audit.read']), 'readPlant', tool, mcp('read_plant')).reasons, ['default-deny']);
  await pdp.reload(await policyDirWith({ 'zz-no-copilot-reads.cedar': '@id("no-copilot-reads")\nforbid (principal is Glimmer::Copilot, action, resource is Glimmer::Tool);\n' }));
  assert.deepEqual(pdp.decide(copilot('a', ['plant.read']), 'readPlant', tool, mcp('read_plant')), { allow: false, reasons: ['no-copilot-reads'], errors: [] });
});

test('GIVEN a cached decision WHEN authorized again THEN it is audited again (one record per decision) and counted as a hit', async () => {
  const records: TrustAuditRecord[] = [];
  const pdp = await PolicyDecisionPoint.create({ model, audit: (r) => records.push(r) });
  records.length = 0;
  const from = agent('dmz', 'data-1');
  const to = agent('operations', 'cognitive-1');
  pdp.authorize(from, 'call', call(to), a2a('status'));
  pdp.authorize(from, 'call', call(to), a2a('status'));
  assert.deepEqual(records.map((r) => r.type), ['policy.decision', 'policy.decision']);
  assert.deepEqual(pdp.decisionCache, { size: 1, hits: 1, misses: 1 });
});

test('GIVEN a cache of 2 entries WHEN 3 different requests are decided THEN the oldest is evicted and the size stays 2', async () => {
  const pdp = await PolicyDecisionPoint.create({ model, audit: () => undefined, decisionCacheSize: 2 });
  const from = agent('dmz', 'data-1');
  const to = agent('operations', 'cognitive-1');
  for (const skill of ['a', 'b', 'c']) pdp.decide(from, 'call', call(to), a2a(skill));
  assert.equal(pdp.decisionCache.size, 2);
  pdp.decide(from, 'call', call(to), a2a('a'));
  assert.deepEqual(pdp.decisionCache, { size: 2, hits: 0, misses: 4 });
  pdp.decide(from, 'call', call(to), a2a('c'));
  assert.equal(pdp.decisionCache.hits, 1);
});

test('GIVEN register and asset requests (caller-supplied attributes) WHEN decided THEN never cached', async () => {
  const pdp = await PolicyDecisionPoint.create({ model, audit: () => undefined });
  const register: PolicyResource = { type: 'Register', unitId: 1, table: 'coil', address: 0, quantity: 1, zone: 'control', safety: false, writableFrom: ['control'], mapped: true };
  pdp.decide(agent('control', 'industrial-1'), 'write', register, { protocol: 'modbus', functionCode: 5 });
  pdp.decide(agent('control', 'industrial-1'), 'shutdown', { type: 'Asset', id: 'pump-1', zone: 'control', safety: true }, { protocol: 'https' });
  assert.deepEqual(pdp.decisionCache, { size: 0, hits: 0, misses: 0 });
});

test('GIVEN a cached decision WHEN a caller tries to change it THEN it cannot (frozen), and the next answer is unchanged', async () => {
  const pdp = await PolicyDecisionPoint.create({ model, audit: () => undefined });
  const from = agent('dmz', 'data-1');
  const to = agent('operations', 'cognitive-1');
  const d = pdp.decide(from, 'call', call(to), a2a('status'));
  assert.throws(() => (d.reasons as string[]).push('x'), TypeError);
  assert.throws(() => { (d as { allow: boolean }).allow = false; }, TypeError);
  assert.deepEqual(pdp.decide(from, 'call', call(to), a2a('status')).reasons, ['a2a-call-over-conduit']);
});

/** Forbids a copilot's Tool read for one value of each context field: a key that dropped a field would serve the cached allow. */
const CONTEXT_FORBIDS = [
  ['tool', '"forbidden_tool"'], ['functionCode', '99'], ['skill', '"forbidden-skill"'], ['applicationUri', '"urn:forbidden"'],
].map(([field, value]) => `@id("no-copilot-${(field as string).toLowerCase()}")\nforbid (principal is Glimmer::Copilot, action, resource is Glimmer::Tool)\nwhen { context has ${field} && context.${field} == ${value} };\n`).join('\n');

test('GIVEN policies that forbid a copilot\'s Tool read for one tool name, function code, skill or application URI WHEN the same read is decided first with another value, then with the forbidden one THEN the forbidden one is denied by its policy, not served from the cache', async () => {
  const pdp = await PolicyDecisionPoint.create({ model, audit: () => undefined, policyDir: await policyDirWith({ 'zz-context.cedar': CONTEXT_FORBIDS }) });
  const reader = copilot('a', ['plant.read']);
  const tool: PolicyResource = { type: 'Tool', id: 'read_plant', kind: 'readPlant' };
  const cases: [RequestContext, RequestContext, string][] = [
    [mcp('read_plant'), mcp('forbidden_tool'), 'no-copilot-tool'],
    [{ ...mcp('read_plant'), functionCode: 3 }, { ...mcp('read_plant'), functionCode: 99 }, 'no-copilot-functioncode'],
    [{ ...mcp('read_plant'), skill: 'status' }, { ...mcp('read_plant'), skill: 'forbidden-skill' }, 'no-copilot-skill'],
    [{ ...mcp('read_plant'), applicationUri: 'urn:client' }, { ...mcp('read_plant'), applicationUri: 'urn:forbidden' }, 'no-copilot-applicationuri'],
  ];
  for (const [allowed, forbidden, policy] of cases) {
    assert.deepEqual(pdp.decide(reader, 'readPlant', tool, allowed), { allow: true, reasons: ['copilot-reads-plant'], errors: [] }, policy);
    assert.deepEqual(pdp.decide(reader, 'readPlant', tool, forbidden), { allow: false, reasons: [policy], errors: [] }, policy);
  }
  assert.deepEqual(pdp.decisionCache, { size: 8, hits: 0, misses: 8 });
});

test('GIVEN a copilot\'s Tool read decided once WHEN the same copilot comes with the same scopes in another order and duplicated THEN it is a cache hit on the same entry', async () => {
  const pdp = await PolicyDecisionPoint.create({ model, audit: () => undefined });
  const tool: PolicyResource = { type: 'Tool', id: 'query_audit', kind: 'readAudit' };
  const first = pdp.decide(copilot('a', ['plant.read', 'audit.read']), 'readAudit', tool, mcp('query_audit'));
  const again = pdp.decide(copilot('a', ['audit.read', 'plant.read', 'audit.read']), 'readAudit', tool, mcp('query_audit'));
  assert.deepEqual(first, { allow: true, reasons: ['copilot-reads-audit'], errors: [] });
  assert.equal(again, first);
  assert.deepEqual(pdp.decisionCache, { size: 1, hits: 1, misses: 1 });
});
