/**
 * The frame decider's own behaviour, checked against expectations written out here rather than against the uncached
 * path (frame-cache.test.ts does that, and cannot see a fault the two paths share): how a frame maps to a policy
 * request, what context reaches Cedar, what the cache key separates, what is audited, and the gateway adapter.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { compilePolicySet, DEFAULT_POLICY_DIR, SCHEMA_FILE, type LoadedPolicySet } from '../../runtime/trust/policy/load';
import { PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';
import type { PolicyModelInput } from '../../runtime/trust/policy/principals';
import { zoneClientId } from '../../runtime/trust/policy/principals';
import {
  createFrameDecider, decideFrame, frameToPolicyRequest, gatewayDecide, gatewayReadPolicy, indexPlantMap, type FrameRequest, type PlantSignal,
} from '../../runtime/trust/policy/frame-decider';
import type { TrustAuditRecord } from '../../runtime/trust/audit';
import { plantMap } from '../../runtime/model/plant-map';
import { loadConfig } from '../../runtime/config/load';

const TD = 'glimmer.local';
const ALICE = `spiffe://${TD}/operator/alice`;

// Context checks a site could write: each one turns a missing or wrong context field into a denial.
const CONTEXT_POLICIES = `
@id("frames-name-their-protocol")
forbid (principal, action, resource is Glimmer::Register) unless { context.protocol == "modbus" || context.protocol == "opcua" };
@id("frames-carry-their-function")
forbid (principal, action, resource is Glimmer::Register) unless { context has functionCode && context.functionCode >= 1 };
@id("opcua-writes-name-their-application")
forbid (principal, action == Glimmer::Action::"write", resource is Glimmer::Register) when { context.protocol == "opcua" && !(context has applicationUri) };
@id("opcua-application-blocked")
forbid (principal, action == Glimmer::Action::"write", resource is Glimmer::Register) when { context has applicationUri && context.applicationUri == "urn:blocked" };
@id("opcua-frozen-pump")
forbid (principal, action == Glimmer::Action::"write", resource is Glimmer::Register) when { context.protocol == "opcua" && resource.unitId == 1 && resource.table == "coil" };
`;

let base: PolicyModelInput;
let withContextPolicies: LoadedPolicySet;

before(async () => {
  const config = await loadConfig();
  base = { ...config, trustDomain: config.topology.trust_domain, operators: [{ name: 'alice', zone: 'operations', roles: ['operator'] }] };
  const names = (await readdir(DEFAULT_POLICY_DIR)).filter((n) => n.endsWith('.cedar')).sort();
  const files = await Promise.all(names.map(async (name) => ({ name, text: await readFile(path.join(DEFAULT_POLICY_DIR, name), 'utf8') })));
  const schema = await readFile(path.join(DEFAULT_POLICY_DIR, SCHEMA_FILE), 'utf8');
  withContextPolicies = compilePolicySet(DEFAULT_POLICY_DIR, schema, [...files, { name: 'zz-context.cedar', text: CONTEXT_POLICIES }]);
});

async function contextPdp(): Promise<PolicyDecisionPoint> {
  const pdp = await PolicyDecisionPoint.create({ model: base, audit: () => undefined });
  pdp.setPolicies(withContextPolicies);
  return pdp;
}

function pumpRun(): PlantSignal & { id: string } {
  const pump = plantMap().find((e) => e.id === 'pump_1.run');
  assert.ok(pump, 'the demo plant map has pump_1.run');
  return pump;
}

// A plant map written for these tests: unit 7 is first listed in zone control (a later entry says safety, which must
// not change the unit's zone), unit 8 is a safety PLC.
const SIGNAL = (table: PlantSignal['table'], address: number, safety: boolean, writable: string[], zone = 'control', unit = 7): PlantSignal =>
  ({ unit_id: unit, table, address, zone, safety, writable_from: writable });
const MAP: PlantSignal[] = [
  SIGNAL('coil', 0, false, ['operations', 'control']),
  SIGNAL('coil', 1, true, ['control']),
  SIGNAL('discrete', 0, false, []),
  SIGNAL('input', 0, false, []),
  SIGNAL('holding', 0, false, ['control', 'operations']),
  SIGNAL('holding', 1, false, ['operations']),
  SIGNAL('holding', 2, false, ['control']),
  SIGNAL('holding', 3, false, ['operations', 'control']),
  SIGNAL('holding', 9, true, ['safety'], 'safety'),
  SIGNAL('coil', 0, true, ['safety'], 'safety', 8),
];
const index = indexPlantMap(MAP);
const frame = (functionCode: number, address: number, quantity: number, unitId = 7): FrameRequest => ({ principal: ALICE, unitId, functionCode, address, quantity });

/** The policy request of a frame that maps, flattened: its action and the Register resource's fields. */
function register(request: FrameRequest) {
  const mapped = frameToPolicyRequest(index, request);
  assert.ok(typeof mapped !== 'string' && mapped.resource.type === 'Register', `${JSON.stringify(request)} maps to ${JSON.stringify(mapped)}`);
  return { action: mapped.action, ...mapped.resource };
}

test('GIVEN each supported function code WHEN mapped THEN it names its action and table, and the range\'s writers are the intersection, sorted', () => {
  const expected: Record<number, [string, string]> = {
    1: ['read', 'coil'], 2: ['read', 'discrete'], 3: ['read', 'holding'], 4: ['read', 'input'],
    5: ['write', 'coil'], 6: ['write', 'holding'], 15: ['write', 'coil'], 16: ['write', 'holding'],
  };
  for (const [fc, [action, table]] of Object.entries(expected)) {
    const r = register(frame(Number(fc), 0, 1));
    assert.deepEqual(
      { action: r.action, table: r.table, unitId: r.unitId, address: r.address, quantity: r.quantity, zone: r.zone, mapped: r.mapped },
      { action, table, unitId: 7, address: 0, quantity: 1, zone: 'control', mapped: true }, `function ${fc}`);
  }
  const coils = register(frame(15, 0, 2));
  assert.deepEqual([coils.safety, coils.writableFrom, coils.mapped], [true, ['control'], true]);
  const holdings = register(frame(16, 0, 2));
  assert.deepEqual([holdings.safety, holdings.writableFrom], [false, ['operations']]);
  assert.deepEqual(register(frame(16, 2, 2)).writableFrom, ['control'], 'a later signal with more writers does not widen the range\'s writers');
  assert.deepEqual(register(frame(5, 0, 1)).writableFrom, ['control', 'operations'], 'sorted, whatever order the plant map lists them in');
});

test('GIVEN a range with unmapped addresses WHEN mapped THEN it is marked unmapped, keeps the safety flag of what is mapped and has no writer', () => {
  const none = register(frame(3, 5, 1));
  assert.deepEqual([none.mapped, none.safety, none.writableFrom], [false, false, []]);
  const partial = register(frame(1, 1, 2));
  assert.deepEqual([partial.mapped, partial.safety], [false, true]);
  assert.equal(index.unitZones.get(7), 'control', 'a unit\'s zone is its first entry\'s');
  assert.equal(index.unitZones.get(8), 'safety');
});

test('GIVEN the entries the gateway looked up WHEN they cover the range THEN they are used, and WHEN they do not THEN the index is', () => {
  const claimed = [{ ...SIGNAL('coil', 0, true, ['enterprise']) }];
  const used = register({ ...frame(5, 0, 1), signals: claimed });
  assert.deepEqual([used.safety, used.writableFrom], [true, ['enterprise']]);
  assert.deepEqual(register({ ...frame(15, 0, 2), signals: claimed }).writableFrom, ['control']);
});

test('GIVEN each bound of a Modbus request WHEN crossed by one field alone THEN the frame is an invalid range, and WHEN met exactly THEN it is not', () => {
  const invalid: [string, FrameRequest][] = [
    ['negative address', frame(3, -1, 1)], ['fractional address', frame(3, 0.5, 1)], ['zero quantity', frame(3, 0, 0)],
    ['fractional quantity', frame(3, 0, 1.5)], ['fractional unit', frame(3, 0, 1, 7.5)], ['quantity above 2000', frame(1, 0, 2001)],
    ['range past 0xffff', frame(3, 65535, 2)], ['two coils by function 5', frame(5, 0, 2)], ['two registers by function 6', frame(6, 0, 2)],
  ];
  for (const [what, request] of invalid) assert.equal(frameToPolicyRequest(index, request), 'invalid-range', what);
  const valid: [string, FrameRequest][] = [
    ['2000 coils', frame(1, 0, 2000)], ['the last address', frame(3, 65535, 1)], ['two coils by function 15', frame(15, 0, 2)],
    ['two registers by function 16', frame(16, 0, 2)], ['address 0', frame(4, 0, 1)],
  ];
  for (const [what, request] of valid) assert.equal(typeof frameToPolicyRequest(index, request), 'object', what);
  assert.equal(frameToPolicyRequest(index, frame(3, 0, 1, 9)), 'unknown-unit');
  assert.equal(frameToPolicyRequest(index, frame(7, 0, 1)), 'unsupported-function');
});

test('GIVEN policies that read the request context WHEN a Modbus frame is decided, cached or not THEN Cedar sees protocol modbus and the function code', async () => {
  const pdp = await contextPdp();
  const pump = pumpRun();
  const request: FrameRequest = { principal: zoneClientId(TD, 'operations'), unitId: pump.unit_id, functionCode: 5, address: pump.address, quantity: 1 };
  assert.deepEqual(decideFrame(pdp, indexPlantMap(plantMap()), request), { allow: true, reasons: ['register-write-from-writer-zone'], errors: [] });
  const decider = createFrameDecider(pdp, { plantMap: plantMap() });
  assert.equal(decider.decide(request).allow, true);
  assert.equal(decider.decide({ ...request, protocol: 'modbus' }).cached, true, 'an unnamed protocol is modbus: one cache entry');
});

test('GIVEN OPC UA writes from two client applications WHEN decided THEN each is decided on its own application URI and never answered from the other\'s entry', async () => {
  const pdp = await contextPdp();
  const map = plantMap();
  const decider = createFrameDecider(pdp, { plantMap: map });
  const holding = map.find((e) => e.unit_id === 1 && e.table === 'holding' && e.writable_from.includes('operations'));
  assert.ok(holding, 'the demo plant has a holding register operations may write');
  const write: FrameRequest = { principal: ALICE, unitId: 1, functionCode: 6, address: holding.address, quantity: 1, protocol: 'opcua', applicationUri: 'urn:hmi' };
  assert.deepEqual(decider.decide(write), { allow: true, reasons: ['register-write-from-writer-zone'], errors: [], cached: false });
  const blocked = decider.decide({ ...write, applicationUri: 'urn:blocked' });
  assert.deepEqual([blocked.allow, blocked.cached, blocked.reasons], [false, false, ['opcua-application-blocked']]);
  const anonymous = decider.decide({ principal: ALICE, unitId: 1, functionCode: 6, address: holding.address, quantity: 1, protocol: 'opcua' });
  assert.deepEqual([anonymous.allow, anonymous.cached, anonymous.reasons], [false, false, ['opcua-writes-name-their-application']]);
  assert.equal(decider.decide(write).cached, true);
  // The same frame over Modbus is not the OPC UA answer: the pump coil is frozen for OPC UA only.
  const pump = pumpRun();
  const coil: FrameRequest = { principal: ALICE, unitId: pump.unit_id, functionCode: 5, address: pump.address, quantity: 1 };
  assert.equal(decider.decide({ ...coil, protocol: 'opcua', applicationUri: 'urn:hmi' }).allow, false);
  assert.equal(decider.decide(coil).allow, true);
  assert.equal(decider.decide(coil).cached, true);
});

test('GIVEN an audit sink WHEN frames are decided THEN allows, denials and unmappable frames are recorded as such, with the OPC UA application', async () => {
  const pdp = await contextPdp();
  const records: TrustAuditRecord[] = [];
  const decider = createFrameDecider(pdp, { plantMap: plantMap(), audit: (r) => records.push(r) });
  const pump = pumpRun();
  decider.decide({ principal: ALICE, unitId: pump.unit_id, functionCode: 5, address: pump.address, quantity: 1 });
  decider.decide({ principal: ALICE, unitId: 1, functionCode: 8, address: 3, quantity: 2 });
  decider.decide({ principal: ALICE, unitId: pump.unit_id, functionCode: 5, address: pump.address, quantity: 1, protocol: 'opcua', applicationUri: 'urn:hmi' });
  const view = records.map((r) => (r.type === 'policy.decision'
    ? { decision: r.decision, action: r.action, resource: r.resource, enforcement: r.enforcement, app: (r as { application_uri?: string }).application_uri }
    : r.type));
  assert.deepEqual(view, [
    { decision: 'allow', action: 'write', resource: `Register::${pump.unit_id}/coil/${pump.address}+1`, enforcement: 'modbus', app: undefined },
    { decision: 'deny', action: 'modbus:8', resource: 'Frame::1/8/3+2', enforcement: 'modbus', app: undefined },
    { decision: 'deny', action: 'write', resource: `Register::${pump.unit_id}/coil/${pump.address}+1`, enforcement: 'opcua', app: 'urn:hmi' },
  ]);
  assert.deepEqual(records.map((r) => Object.hasOwn(r, 'application_uri')), [false, false, true], 'a Modbus record has no application field at all');
  const silent: TrustAuditRecord[] = [];
  const none = createFrameDecider(pdp, { plantMap: plantMap(), audit: (r) => silent.push(r), auditDecisions: 'none' });
  none.decide({ principal: ALICE, unitId: 1, functionCode: 8, address: 0, quantity: 1 });
  none.decide({ principal: ALICE, unitId: pump.unit_id, functionCode: 5, address: pump.address, quantity: 1 });
  assert.deepEqual(silent, []);
});

test('GIVEN lookups WHEN counted and the cache is invalidated THEN hits, misses and size say what happened', async () => {
  const pdp = await contextPdp();
  const decider = createFrameDecider(pdp, { plantMap: plantMap() });
  const read = { principal: ALICE, unitId: 1, functionCode: 3, address: 0, quantity: 1 };
  decider.decide(read);
  decider.decide(read);
  decider.decide({ ...read, address: 1 });
  assert.deepEqual([decider.hits, decider.misses, decider.size], [1, 2, 2]);
  decider.invalidate();
  assert.equal(decider.size, 0);
  assert.equal(decider.decide(read).cached, false);
  assert.deepEqual([decider.hits, decider.misses], [1, 3]);
});

test('GIVEN the gateway adapter WHEN an identified OPC UA writer and zone clients write THEN the identified principal, protocol and application decide, and a denial names every deciding policy', async () => {
  const pdp = await contextPdp();
  const decide = gatewayDecide(createFrameDecider(pdp, { plantMap: plantMap() }), TD);
  const pump = pumpRun();
  const write = { zone: 'enterprise', unitId: pump.unit_id, functionCode: 5, address: pump.address, quantity: 1, signals: [pump] };
  assert.equal(decide(write).allow, false, 'an enterprise zone client may not write the pump');
  // Alice (operations, operator role) is the writer, whatever listener zone carried the request.
  assert.deepEqual(decide({ ...write, principal: ALICE }), { allow: true, by: 'policy' });
  assert.deepEqual(decide({ ...write, zone: 'operations' }), { allow: true, by: 'policy' });
  assert.deepEqual(decide({ ...write, principal: ALICE, protocol: 'opcua' }), {
    allow: false, by: 'policy', reason: 'policy: opcua-frozen-pump, opcua-writes-name-their-application',
  });
  assert.deepEqual(decide({ ...write, principal: ALICE, protocol: 'opcua', applicationUri: 'urn:blocked' }), {
    allow: false, by: 'policy', reason: 'policy: opcua-application-blocked, opcua-frozen-pump',
  });
});

test('GIVEN a frame decider WHEN its cache is dropped (invalidate, or any PDP change seen at the next look) THEN its version increases once per drop, and lookups alone never change it', async () => {
  const pdp = await contextPdp();
  const decider = createFrameDecider(pdp, { plantMap: plantMap() });
  const read = { principal: ALICE, unitId: 1, functionCode: 3, address: 0, quantity: 1 };
  const v0 = decider.version;
  decider.decide(read);
  decider.decide(read);
  assert.equal(decider.version, v0, 'lookups keep the version');
  decider.invalidate();
  assert.equal(decider.version, v0 + 1);
  decider.decide(read);
  pdp.setModel(base);
  assert.equal(decider.version, v0 + 2, 'a PDP change is seen by the version itself, before any lookup');
  assert.equal(decider.size, 0, 'and the cache was dropped with it');
  assert.equal(decider.version, v0 + 2, 'seen once');
});

test('GIVEN the gateway read adapter WHEN zone clients read the safety PLC and the process PLC THEN the zone\'s client principal decides (register-read), a denial names its policies, and the version is the frame decider\'s', async () => {
  const pdp = await PolicyDecisionPoint.create({ model: base, audit: () => undefined });
  const audit: TrustAuditRecord[] = [];
  const frames = createFrameDecider(pdp, { plantMap: plantMap(), audit: (r) => audit.push(r), auditDecisions: 'all' });
  const policy = gatewayReadPolicy(frames, TD);
  const estop = { unitId: 2, functionCode: 1, address: 0, quantity: 2 };
  assert.deepEqual(policy.decide({ zone: 'operations', ...estop }), { allow: false, reason: 'policy: default-deny' }, 'level 2 may not read safety signals');
  assert.deepEqual(policy.decide({ zone: 'control', ...estop }), { allow: true });
  assert.deepEqual(policy.decide({ zone: 'operations', unitId: 1, functionCode: 4, address: 0, quantity: 8 }), { allow: true }, 'level 2 reads process values');
  assert.deepEqual(policy.decide({ zone: 'enterprise', unitId: 1, functionCode: 4, address: 0, quantity: 8 }), { allow: false, reason: 'policy: default-deny' }, 'below the DMZ level nothing is read');
  assert.deepEqual(audit.map((r) => (r.type === 'policy.decision' ? [r.subject, r.action, r.decision] : r.type)), [
    [zoneClientId(TD, 'operations'), 'read', 'deny'], [zoneClientId(TD, 'control'), 'read', 'allow'],
    [zoneClientId(TD, 'operations'), 'read', 'allow'], [zoneClientId(TD, 'enterprise'), 'read', 'deny'],
  ]);
  const v = policy.version;
  assert.equal(v, frames.version);
  frames.invalidate();
  assert.equal(policy.version, v + 1);
});

test('GIVEN two forbid policies that both refuse a read WHEN the gateway read adapter decides it THEN the reason names both, comma-separated', async () => {
  const names = (await readdir(DEFAULT_POLICY_DIR)).filter((n) => n.endsWith('.cedar')).sort();
  const files = await Promise.all(names.map(async (name) => ({ name, text: await readFile(path.join(DEFAULT_POLICY_DIR, name), 'utf8') })));
  const schema = await readFile(path.join(DEFAULT_POLICY_DIR, SCHEMA_FILE), 'utf8');
  const twoForbids = `
@id("no-process-reads-a")
forbid (principal, action == Glimmer::Action::"read", resource is Glimmer::Register) when { resource.unitId == 1 };
@id("no-process-reads-b")
forbid (principal, action == Glimmer::Action::"read", resource is Glimmer::Register) when { resource.unitId == 1 };
`;
  const pdp = await PolicyDecisionPoint.create({ model: base, audit: () => undefined });
  pdp.setPolicies(compilePolicySet(DEFAULT_POLICY_DIR, schema, [...files, { name: 'zz-two-forbids.cedar', text: twoForbids }]));
  const policy = gatewayReadPolicy(createFrameDecider(pdp, { plantMap: plantMap() }), TD);
  const d = policy.decide({ zone: 'operations', unitId: 1, functionCode: 4, address: 0, quantity: 8 });
  assert.equal(d.allow, false);
  assert.match(d.reason ?? '', /^policy: (no-process-reads-a, no-process-reads-b|no-process-reads-b, no-process-reads-a)$/);
});
