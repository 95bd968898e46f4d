import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIFECYCLE_STATES, createMetrics, type Metrics } from '../../runtime/observability/metrics';
import { promtool } from './promtool';

/**
 * Label names whose values come from bounded sets (configured agents, zones, PLCs, assets, rule files, lifecycle states,
 * Modbus function names, decision reasons, error codes). A new label must be added here with its bound in
 * docs/observability.md; client addresses, request ids, paths, tokens or free text are never labels.
 */
const BOUNDED_LABELS = new Set(['agent', 'kind', 'zone', 'state', 'from', 'to', 'code', 'plc', 'function', 'decision', 'reason', 'asset', 'ruleset', 'outcome',
  // side: client|server (OPC UA certificate refusals); signer: kms|pkcs11|file|ml-dsa|ephemeral (audit checkpoint signers)
  'side', 'signer',
  // target: the agent a shutdown command is sent to (configured agents)
  'target',
  // prom-client default process metrics
  'le', 'type', 'version', 'major', 'minor', 'patch', 'space']);
const MAX_SERIES_PER_FAMILY = 200;

/** Drives every metric the way a busy runtime does: three agents, every state, many distinct clients and requests. */
function exercise(m: Metrics, rounds: number): void {
  const agents = [['industrial-1', 'industrial', 'control'], ['cognitive-1', 'cognitive', 'operations'], ['data-1', 'data', 'dmz']] as const;
  for (let i = 0; i < rounds; i++) {
    for (const [agent, kind, zone] of agents) {
      for (const state of LIFECYCLE_STATES) m.agentState.set({ agent, kind, zone, state }, state === 'ACTIVE' ? 1 : 0);
      m.agentTransitions.inc({ agent, from: 'ACTIVE', to: 'PAUSED' });
      m.safetyIntegrityLevel.set({ agent, zone }, 3);
      m.requiredSafetyLevel.set({ agent, zone }, 2);
      m.certificateExpiry.set({ agent }, Date.now() / 1000 + 86400);
    }
    // A new client address and transaction id every round: neither may become a label value.
    m.gatewayDecisions.inc({ zone: i % 2 ? 'safety' : 'control', function: 'write_single_coil', decision: i % 3 ? 'allow' : 'deny', reason: i % 3 ? 'policy' : 'interlock' });
    m.plcUp.set({ plc: 'plc-1' }, 1);
    m.auditAppends.inc();
    m.auditCheckpointAge.set(i);
    m.ruleEvaluations.inc({ ruleset: 'industrial_safety', outcome: 'ok' });
    m.ruleEvaluationDuration.observe({ ruleset: 'industrial_safety' }, 0.002);
    m.anomalyScore.set({ asset: ['pump-1', 'tank-1', 'valve-1'][i % 3] as string }, Math.random());
  }
}

function countSeries(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? '';
    const family = name.replace(/_(bucket|sum|count)$/, '');
    counts.set(family, (counts.get(family) ?? 0) + 1);
  }
  return counts;
}

test('GIVEN the runtime registry with every metric set WHEN /metrics text is rendered THEN promtool check metrics accepts it', async () => {
  const m = createMetrics();
  exercise(m, 10);
  const text = await m.registry.metrics();
  const r = promtool(['check', 'metrics'], text);
  assert.equal(r.status, 0, r.output);
  assert.equal(r.output.trim(), '');
});

test('GIVEN the registry WHEN every metric is listed THEN names follow the conventions (glimmer_ prefix or the seed names, _total only on counters, base units)', async () => {
  for (const m of await createMetrics().registry.getMetricsAsJSON()) {
    assert.ok(m.name.startsWith('glimmer_') || ['safety_integrity_level', 'required_safety_level'].includes(m.name), `${m.name} has the glimmer_ prefix`);
    assert.equal(m.name.endsWith('_total'), String(m.type) === 'counter', `${m.name}: _total suffix if and only if a counter`);
    assert.doesNotMatch(m.name, /_(ms|milliseconds|minutes|hours|kb|mb|percent)(_|$)/, `${m.name} uses base units`);
  }
});

test('GIVEN the registry WHEN the label names are listed THEN each is from a bounded set (no client addresses, ids or paths)', async () => {
  const m = createMetrics();
  exercise(m, 1);
  for (const family of await m.registry.getMetricsAsJSON()) {
    for (const v of family.values) {
      for (const label of Object.keys(v.labels)) assert.ok(BOUNDED_LABELS.has(label), `${family.name} has label ${label}, which is not a bounded label`);
    }
  }
});

test('GIVEN a busy runtime WHEN /metrics is scraped after 10 and after 1000 rounds THEN the series count does not grow and stays under the budget', async () => {
  const m = createMetrics();
  exercise(m, 10);
  const before = countSeries(await m.registry.metrics());
  exercise(m, 1000);
  const after = countSeries(await m.registry.metrics());
  for (const [family, n] of after) {
    assert.ok(n <= MAX_SERIES_PER_FAMILY, `${family} has ${n} series (budget ${MAX_SERIES_PER_FAMILY})`);
    assert.equal(n, before.get(family), `${family}: series count grew from ${before.get(family)} to ${n} with more traffic`);
  }
});
