import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { compilePolicySet, DEFAULT_POLICY_DIR, SCHEMA_FILE, type LoadedPolicySet } from '../../runtime/trust/policy/load';
import { PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';
import type { PolicyModelInput } from '../../runtime/trust/policy/principals';
import { createFrameDecider, decideFrame, gatewayDecide, indexPlantMap, type FrameRequest } from '../../runtime/trust/policy/frame-decider';
import { zoneClientId } from '../../runtime/trust/policy/principals';
import type { TrustAuditRecord } from '../../runtime/trust/audit';
import { plantMap } from '../../runtime/model/plant-map';
import { loadConfig } from '../../runtime/config/load';

const TD = 'glimmer.local';
const agentId = (zone: string, agent: string) => `spiffe://${TD}/zone/${zone}/agent/${agent}`;

let base: PolicyModelInput;
let models: PolicyModelInput[];
let policySets: LoadedPolicySet[];

async function policyFiles(): Promise<{ name: string; text: string }[]> {
  const names = (await readdir(DEFAULT_POLICY_DIR)).filter((n) => n.endsWith('.cedar')).sort();
  return Promise.all(names.map(async (name) => ({ name, text: await readFile(path.join(DEFAULT_POLICY_DIR, name), 'utf8') })));
}

before(async () => {
  const config = await loadConfig();
  base = { ...config, trustDomain: config.topology.trust_domain, operators: [{ name: 'alice', zone: 'operations', roles: ['operator'] }] };
  // Model variants a running plant goes through: an agent moves zone (identity change), a zone's level changes,
  // an operator loses her role, a conduit gains A2A.
  models = [
    base,
    { ...base, agents: base.agents.map((a) => (a.name === 'industrial-1' ? { ...a, zone: 'operations' } : a)) },
    { ...base, zones: base.zones.map((z) => (z.name === 'safety' ? { ...z, security_level: 2 } : z.name === 'dmz' ? { ...z, security_level: 1 } : z)) },
    { ...base, operators: [{ name: 'alice', zone: 'operations', roles: [] }] },
    { ...base, agents: [...base.agents, { name: 'cognitive-2', kind: 'cognitive', zone: 'control' }] },
  ];
  const schema = await readFile(path.join(DEFAULT_POLICY_DIR, SCHEMA_FILE), 'utf8');
  const files = await policyFiles();
  // Policy variants: the shipped set, one with an extra forbid on writes of holding registers, one without the read permit.
  policySets = [
    compilePolicySet(DEFAULT_POLICY_DIR, schema, files),
    compilePolicySet(DEFAULT_POLICY_DIR, schema, [...files, { name: 'zz.cedar', text: '@id("freeze-holding")\nforbid (principal, action == Glimmer::Action::"write", resource is Glimmer::Register) when { resource.table == "holding" };\n' }]),
    compilePolicySet(DEFAULT_POLICY_DIR, schema, files.map((f) => ({ ...f, text: f.text.replace('@id("register-read")\npermit', '@id("register-read")\nforbid') }))),
  ];
});

const principals = [
  agentId('control', 'industrial-1'), agentId('operations', 'industrial-1'), agentId('operations', 'cognitive-1'),
  agentId('dmz', 'data-1'), agentId('control', 'cognitive-2'), `spiffe://${TD}/operator/alice`, agentId('control', 'intruder'),
];

const requestArb: fc.Arbitrary<FrameRequest> = fc.record({
  principal: fc.constantFrom(...principals),
  unitId: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(1, 2) }, { weight: 1, arbitrary: fc.constant(3) }),
  functionCode: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(1, 2, 3, 4, 5, 6, 15, 16) }, { weight: 1, arbitrary: fc.constantFrom(8, 23) }),
  address: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, 65535) }),
  quantity: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 2 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 2001) }),
});

type Op = { kind: 'frame'; pick: number } | { kind: 'model'; index: number } | { kind: 'policies'; index: number } | { kind: 'invalidate' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 20, arbitrary: fc.nat(7).map((pick) => ({ kind: 'frame' as const, pick })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 }).map((index) => ({ kind: 'model' as const, index })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }).map((index) => ({ kind: 'policies' as const, index })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'invalidate' as const }) },
);

test('GIVEN random frames interleaved with random policy, identity and zone changes WHEN the cached decider answers THEN every answer equals the uncached PDP\'s', async () => {
  const pdp = await PolicyDecisionPoint.create({ model: base, audit: () => undefined });
  const index = indexPlantMap(plantMap());
  let hits = 0;
  let changesThatFlipped = 0;
  // Each run draws a small pool of frames and replays them, so the cache is hit and changes land between repeats.
  fc.assert(fc.property(fc.array(requestArb, { minLength: 8, maxLength: 8 }), fc.array(opArb, { minLength: 30, maxLength: 60 }), (pool, ops) => {
    pdp.setModel(models[0] as PolicyModelInput);
    pdp.setPolicies(policySets[0] as LoadedPolicySet);
    const decider = createFrameDecider(pdp, { plantMap: plantMap(), maxEntries: 6 });
    const seen = new Map<string, boolean>();
    for (const op of ops) {
      if (op.kind === 'model') pdp.setModel(models[op.index] as PolicyModelInput);
      else if (op.kind === 'policies') pdp.setPolicies(policySets[op.index] as LoadedPolicySet);
      else if (op.kind === 'invalidate') decider.invalidate();
      else {
        const request = pool[op.pick] as FrameRequest;
        const cached = decider.decide(request);
        const truth = decideFrame(pdp, index, request);
        assert.deepEqual({ allow: cached.allow, reasons: cached.reasons, errors: cached.errors }, truth);
        const key = JSON.stringify(request);
        if (seen.has(key) && seen.get(key) !== truth.allow) changesThatFlipped += 1;
        seen.set(key, truth.allow);
      }
    }
    hits += decider.hits;
    return true;
  }), { numRuns: 80 });
  // The property is only meaningful if the cache was used and the changes did change answers.
  assert.ok(hits > 100, `only ${hits} cache hits`);
  assert.ok(changesThatFlipped > 10, `only ${changesThatFlipped} decisions flipped by changes`);
});

test('GIVEN a cached allow WHEN the policy set changes THEN the next answer is recomputed and reflects the new policy', async () => {
  const pdp = await PolicyDecisionPoint.create({ model: base, audit: () => undefined });
  const decider = createFrameDecider(pdp, { plantMap: plantMap() });
  const write = { principal: agentId('control', 'industrial-1'), unitId: 1, functionCode: 6, address: 0, quantity: 1 };
  const holding = plantMap().find((e) => e.unit_id === 1 && e.table === 'holding');
  assert.ok(holding);
  write.address = holding.address;
  assert.equal(decider.decide(write).allow, true);
  assert.equal(decider.decide(write).cached, true);
  pdp.setPolicies(policySets[1] as LoadedPolicySet);
  const after = decider.decide(write);
  assert.equal(after.cached, false);
  assert.equal(after.allow, false);
  assert.deepEqual(after.reasons, ['freeze-holding']);
});

test('GIVEN a cached allow WHEN the agent moves to another zone (identity change) THEN the cached answer is dropped', async () => {
  const pdp = await PolicyDecisionPoint.create({ model: base, audit: () => undefined });
  const decider = createFrameDecider(pdp, { plantMap: plantMap() });
  const read = { principal: agentId('control', 'industrial-1'), unitId: 1, functionCode: 1, address: 0, quantity: 2 };
  assert.equal(decider.decide(read).allow, true);
  assert.equal(decider.decide(read).cached, true);
  pdp.setModel(models[1] as PolicyModelInput);
  const after = decider.decide(read);
  assert.equal(after.cached, false);
  assert.deepEqual(after.reasons, ['unknown-principal']);
});

test('GIVEN a cached deny WHEN a zone\'s security level changes THEN the decision is recomputed', async () => {
  const pdp = await PolicyDecisionPoint.create({ model: base, audit: () => undefined });
  const decider = createFrameDecider(pdp, { plantMap: plantMap() });
  const safetyRead = { principal: agentId('operations', 'cognitive-1'), unitId: 2, functionCode: 2, address: 0, quantity: 1 };
  assert.equal(decider.decide(safetyRead).allow, false);
  pdp.setModel(models[2] as PolicyModelInput);
  const after = decider.decide(safetyRead);
  assert.equal(after.cached, false);
  assert.equal(after.allow, true);
});

test('GIVEN a full cache WHEN a new frame arrives THEN the oldest entry is evicted and the size stays bounded', async () => {
  const pdp = await PolicyDecisionPoint.create({ model: base, audit: () => undefined });
  const decider = createFrameDecider(pdp, { plantMap: plantMap(), maxEntries: 4 });
  for (let a = 0; a < 10; a++) decider.decide({ principal: agentId('control', 'industrial-1'), unitId: 1, functionCode: 4, address: a, quantity: 1 });
  assert.equal(decider.size, 4);
  assert.equal(decider.decide({ principal: agentId('control', 'industrial-1'), unitId: 1, functionCode: 4, address: 0, quantity: 1 }).cached, false);
});

test('GIVEN frame decisions WHEN cached or not THEN each one is audited with its reasons (and deny-only auditing skips allows)', async () => {
  const pdp = await PolicyDecisionPoint.create({ model: base, audit: () => undefined });
  const records: TrustAuditRecord[] = [];
  const decider = createFrameDecider(pdp, { plantMap: plantMap(), audit: (r) => records.push(r) });
  const frame = { principal: agentId('dmz', 'data-1'), unitId: 1, functionCode: 5, address: 0, quantity: 1 };
  decider.decide(frame);
  decider.decide(frame);
  assert.equal(records.length, 2);
  for (const r of records) {
    assert.ok(r.type === 'policy.decision');
    assert.equal(r.decision, 'deny');
    assert.equal(r.enforcement, 'modbus');
    assert.equal(r.resource, 'Register::1/coil/0+1');
    assert.deepEqual(r.reasons, ['default-deny']);
  }
  const denyOnly: TrustAuditRecord[] = [];
  const d2 = createFrameDecider(pdp, { plantMap: plantMap(), audit: (r) => denyOnly.push(r), auditDecisions: 'deny' });
  d2.decide({ ...frame, principal: agentId('control', 'industrial-1') });
  d2.decide({ ...frame, functionCode: 8 });
  assert.deepEqual(denyOnly.map((r) => r.type === 'policy.decision' && r.reasons[0]), ['unsupported-function']);
});

test('GIVEN malformed frames WHEN decided THEN denied with the specific reason', async () => {
  const pdp = await PolicyDecisionPoint.create({ model: base, audit: () => undefined });
  const decider = createFrameDecider(pdp, { plantMap: plantMap() });
  const p = agentId('control', 'industrial-1');
  assert.deepEqual(decider.decide({ principal: p, unitId: 1, functionCode: 43, address: 0, quantity: 1 }).reasons, ['unsupported-function']);
  assert.deepEqual(decider.decide({ principal: p, unitId: 1, functionCode: 5, address: 0, quantity: 2 }).reasons, ['invalid-range']);
  assert.deepEqual(decider.decide({ principal: p, unitId: 1, functionCode: 3, address: 65535, quantity: 2 }).reasons, ['invalid-range']);
  assert.deepEqual(decider.decide({ principal: p, unitId: 9, functionCode: 3, address: 0, quantity: 1 }).reasons, ['unknown-unit']);
});

test('GIVEN the gateway adapter WHEN zone clients write process and safety signals THEN writer zones are allowed and others denied with the policy named', async () => {
  const pdp = await PolicyDecisionPoint.create({ model: base, audit: () => undefined });
  const decide = gatewayDecide(createFrameDecider(pdp, { plantMap: plantMap() }), TD);
  const pump = plantMap().find((e) => e.id === 'pump_1.run');
  const estop = plantMap().find((e) => e.id === 'safety_1.emergency_stop');
  assert.ok(pump && estop);
  const write = (zone: string, e: typeof pump) => decide({ zone, unitId: e.unit_id, functionCode: 5, address: e.address, quantity: 1, signals: [e] });
  assert.deepEqual(write('operations', pump), { allow: true, by: 'policy' });
  assert.deepEqual(write('control', estop), { allow: true, by: 'policy' });
  const denied = write('operations', estop);
  assert.equal(denied.allow, false);
  assert.match(denied.reason ?? '', /forbid-safety-write-below-level/);
  assert.equal(write('enterprise', pump).allow, false);
});

test('GIVEN every mapped signal and every zone client WHEN decided with the entries the gateway already looked up and without THEN the PDP answers are equal', async () => {
  const pdp = await PolicyDecisionPoint.create({ model: base, audit: () => undefined });
  const index = indexPlantMap(plantMap());
  let compared = 0;
  for (const e of plantMap()) {
    for (const zone of ['enterprise', 'dmz', 'operations', 'control', 'safety']) {
      for (const functionCode of e.table === 'coil' ? [1, 5] : e.table === 'holding' ? [3, 6] : [e.table === 'discrete' ? 2 : 4]) {
        const request: FrameRequest = { principal: zoneClientId(TD, zone), unitId: e.unit_id, functionCode, address: e.address, quantity: 1 };
        assert.deepEqual(decideFrame(pdp, index, { ...request, signals: [e] }), decideFrame(pdp, index, request), `${e.id} from ${zone}, function ${functionCode}`);
        compared += 1;
      }
    }
  }
  assert.ok(compared > 100);
});
