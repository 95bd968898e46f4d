import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../../runtime/observability/metrics';
import { DECISION_FUNCTIONS, decisionKey, reportedDecisions, trustMetricHooks } from '../../runtime/trust/metrics';
import { POLICY_ACTIONS, PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';
import { createFrameDecider } from '../../runtime/trust/policy/frame-decider';
import { plantMap } from '../../runtime/model/plant-map';
import { loadConfig } from '../../runtime/config/load';

test('GIVEN the trust metric hooks WHEN refusals, expiries, decisions and cache lookups happen THEN the trust block metrics show them', async () => {
  const m = createMetrics();
  const hooks = trustMetricHooks(m);
  hooks.onRefusal('GLM_ERR_CERT_EXPIRED', 'server');
  hooks.onExpiry('industrial-1')(new Date(2_000_000_000_000));
  const config = loadConfig();
  const pdp = await PolicyDecisionPoint.create({ model: { ...config, trustDomain: config.topology.trust_domain }, audit: () => undefined, onDecision: hooks.onDecision });
  hooks.watchPolicy(pdp);
  const decider = createFrameDecider(pdp, { plantMap: plantMap(), onLookup: hooks.onLookup, onDecision: hooks.onFrameDecision });
  const frame = { principal: `spiffe://${config.topology.trust_domain}/zone/control/agent/industrial-1`, unitId: 1, functionCode: 1, address: 0, quantity: 1 };
  decider.decide(frame);
  decider.decide(frame);
  pdp.authorize(frame.principal, 'configure', { type: 'AuditConfig' }, { protocol: 'https' });
  pdp.setModel({ ...config, trustDomain: config.topology.trust_domain });
  const text = await m.registry.metrics();
  assert.match(text, /glimmer_tls_refusals_total\{side="server",code="GLM_ERR_CERT_EXPIRED"\} 1/);
  assert.match(text, /glimmer_certificate_expiry_timestamp_seconds\{agent="industrial-1"\} 2000000000/);
  assert.match(text, /glimmer_policy_cache_lookups_total\{outcome="hit"\} 1/);
  assert.match(text, /glimmer_policy_cache_lookups_total\{outcome="miss"\} 1/);
  assert.match(text, /glimmer_policy_decisions_total\{function="modbus_read",decision="allow"\} 2/);
  assert.match(text, /glimmer_policy_decisions_total\{function="https_configure",decision="deny"\} 1/);
  assert.match(text, /glimmer_policy_generation 1/);
});

test('GIVEN a PDP watched by the trust hooks WHEN it answers the same audit-config request twice THEN the decision cache lookups are exported apart from the frame cache series', async () => {
  const m = createMetrics();
  const hooks = trustMetricHooks(m);
  const config = loadConfig();
  const pdp = await PolicyDecisionPoint.create({ model: { ...config, trustDomain: config.topology.trust_domain }, audit: () => undefined });
  const unwatch = hooks.watchDecisionCache(pdp);
  const principal = `spiffe://${config.topology.trust_domain}/zone/control/agent/industrial-1`;
  pdp.authorize(principal, 'configure', { type: 'AuditConfig' }, { protocol: 'https' });
  pdp.authorize(principal, 'configure', { type: 'AuditConfig' }, { protocol: 'https' });
  let text = await m.registry.metrics();
  assert.match(text, /glimmer_policy_decision_cache_lookups_total\{outcome="hit"\} 1\n/);
  assert.match(text, /glimmer_policy_decision_cache_lookups_total\{outcome="miss"\} 1\n/);
  assert.doesNotMatch(text, /glimmer_policy_cache_lookups_total\{/);
  // A second scrape adds only what happened since the first; after unwatching, later lookups are not counted.
  pdp.authorize(principal, 'configure', { type: 'AuditConfig' }, { protocol: 'https' });
  text = await m.registry.metrics();
  assert.match(text, /glimmer_policy_decision_cache_lookups_total\{outcome="hit"\} 2\n/);
  unwatch();
  pdp.authorize(principal, 'configure', { type: 'AuditConfig' }, { protocol: 'https' });
  text = await m.registry.metrics();
  assert.match(text, /glimmer_policy_decision_cache_lookups_total\{outcome="hit"\} 2\n/);
  assert.match(text, /glimmer_policy_decision_cache_lookups_total\{outcome="miss"\} 1\n/);
});

test('GIVEN decision counts reported by an agent process WHEN the supervisor takes them THEN only known functions and outcomes with whole bounded counts become labels, the rest is rejected', async () => {
  const config = loadConfig();
  const counted = new Map<string, number>();
  const pdp = await PolicyDecisionPoint.create({
    model: { ...config, trustDomain: config.topology.trust_domain },
    audit: () => undefined,
    onDecision: (d, action, protocol) => counted.set(decisionKey(d, action, protocol), (counted.get(decisionKey(d, action, protocol)) ?? 0) + 1),
  });
  const resource = { type: 'Agent' as const, id: `spiffe://${config.topology.trust_domain}/zone/control/agent/industrial-1` };
  pdp.authorize(`spiffe://${config.topology.trust_domain}/zone/operations/agent/cognitive-1`, 'shutdown', resource, { protocol: 'a2a', skill: 'safety.shutdown' });
  pdp.authorize(`spiffe://${config.topology.trust_domain}/zone/dmz/agent/data-1`, 'shutdown', resource, { protocol: 'a2a', skill: 'safety.shutdown' });
  const real = reportedDecisions(Object.fromEntries(counted));
  assert.deepEqual(real, { accepted: [{ function: 'a2a_shutdown', decision: 'allow', n: 1 }, { function: 'a2a_shutdown', decision: 'deny', n: 1 }], rejected: 0 });

  const hostile = reportedDecisions({ 'a2a_call|allow': 3, 'a2a_evil|allow': 1, 'a2a_call|maybe': 1, 'a2a_call|allow|x': 1, 'https_read|deny': -1, 'https_read|allow': 1.5, 'opcua_write|deny': 1e12, 'modbus_read|allow': '2' });
  assert.deepEqual(hostile, { accepted: [{ function: 'a2a_call', decision: 'allow', n: 3 }], rejected: 7 });
  assert.deepEqual(reportedDecisions(null), { accepted: [], rejected: 1 });
  assert.deepEqual(reportedDecisions(['a2a_call|allow']), { accepted: [], rejected: 1 });
  assert.equal(DECISION_FUNCTIONS.size, 4 * POLICY_ACTIONS.length, 'four enforcement points times the policy actions');
  assert.ok(DECISION_FUNCTIONS.size <= 64, `a bounded label set, ${DECISION_FUNCTIONS.size} values`);
});
