import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import fc from 'fast-check';
import { DEFAULT_CONFIG_FILE, loadConfig } from '../../runtime/config/load';
import { isGlimmerError } from '../../runtime/errors';

const base = YAML.parse(fs.readFileSync(DEFAULT_CONFIG_FILE, 'utf8'));
const cognitive = fs.readFileSync(path.join(path.dirname(DEFAULT_CONFIG_FILE), 'cognitive.yml'), 'utf8');

function write(doc: unknown, cognitiveText = cognitive): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-cfg-'));
  fs.writeFileSync(path.join(dir, 'glimmer.yml'), typeof doc === 'string' ? doc : YAML.stringify(doc));
  fs.writeFileSync(path.join(dir, 'cognitive.yml'), cognitiveText);
  return path.join(dir, 'glimmer.yml');
}

function mutate(fn: (d: typeof base) => void) {
  const d = structuredClone(base);
  fn(d);
  return write(d);
}

test('GIVEN the embedded default WHEN loaded THEN defaults are applied once and the safety zone takes safety_zone_level', () => {
  const cfg = loadConfig();
  assert.equal(cfg.topology.deployment_model, 'ISA95_ZONED');
  assert.deepEqual(cfg.agents.map((a) => a.kind).sort(), ['cognitive', 'data', 'industrial']);
  assert.equal(cfg.zones.find((z) => z.name === 'safety')?.security_level, cfg.topology.safety_zone_level);
  assert.equal(cfg.supervisor.maxRestarts, 5);
  assert.equal(cfg.api.port, 8080);
  assert.deepEqual(cfg.cognitive.hybrid_reasoning.symbolic_components[0]?.rulesets.slice(0, 2), ['industrial_safety.pl', 'iso55001_asset_rules.pl'], "the seed's rulesets, in the seed's order");
});

test('GIVEN a file without the optional blocks WHEN loaded THEN every default is applied', () => {
  const { supervisor: _s, plant: _p, api: _a, ...rest } = structuredClone(base);
  const cfg = loadConfig(write(rest));
  assert.deepEqual(cfg.supervisor, { restartBackoffMs: { initial: 100, max: 10000 }, maxRestarts: 5, restartWindowS: 60, shutdownGraceMs: 5000 });
  assert.deepEqual(cfg.plant, { mode: 'embedded', seed: 42, tickMs: 100, faultSchedule: [] });
  assert.deepEqual(cfg.api, { host: '127.0.0.1', port: 8080, mtlsPort: 8443, allowedHosts: ['localhost'] });
  assert.deepEqual(cfg.a2a, { host: '127.0.0.1', port: 0, peers: {} });
  assert.deepEqual(cfg.revocation, { refreshMs: 1000, maxAgeMs: 30_000 });
});

test('GIVEN a follower pod\'s revocation block WHEN loaded THEN the feed URL, refresh and max age come through', () => {
  const cfg = loadConfig(mutate((d) => (d.revocation = { feed_url: 'https://glimmer-control.control.svc:8443/v1/trust/revocations', refresh_ms: 500, max_age_s: 5 })));
  assert.deepEqual(cfg.revocation, { feedUrl: 'https://glimmer-control.control.svc:8443/v1/trust/revocations', refreshMs: 500, maxAgeMs: 5000 });
});

test('GIVEN a pod config naming other pods\' agents WHEN loaded THEN their A2A endpoints and the listen address come through', () => {
  const cfg = loadConfig(mutate((d) => (d.a2a = { host: '0.0.0.0', port: 9443, peers: { 'industrial-1': 'https://industrial-1.control.svc:9443' } })));
  assert.deepEqual(cfg.a2a, { host: '0.0.0.0', port: 9443, peers: { 'industrial-1': 'https://industrial-1.control.svc:9443' } });
});

const refusals: [string, () => string, RegExp][] = [
  ['an unknown top-level key', () => mutate((d) => (d.surprise = 1)), /at \/: allowed: no key "surprise" \(unknown key\)/],
  ['an unknown nested key', () => mutate((d) => (d.agents[0].colour = 'red')), /at \/agents\/0: allowed: no key "colour"/],
  ['safety_zone_level 7', () => mutate((d) => (d.topology.safety_zone_level = 7)), /at \/topology\/safety_zone_level: received 7, allowed: <= 4/],
  ['an unknown deployment model', () => mutate((d) => (d.topology.deployment_model = 'MESH')), /received "MESH", allowed: one of "ISA95_ZONED", "HYPERSCALE"/],
  ['an agent kind that does not exist', () => mutate((d) => (d.agents[0].kind = 'oracle')), /at \/agents\/0\/kind: received "oracle"/],
  ['an agent in an unknown zone', () => mutate((d) => (d.agents[1].zone = 'mars')), /at \/agents\/1\/zone: received "mars", allowed: one of enterprise/],
  ['a conduit to an unknown zone', () => mutate((d) => (d.conduits[0].to = 'nowhere')), /at \/conduits\/0\/to: received "nowhere"/],
  ['a duplicated agent name', () => mutate((d) => d.agents.push({ ...d.agents[0] })), /at \/agents\/3\/name: received "industrial-1", allowed: an agent name not used before/],
  ['a missing required key', () => mutate((d) => delete d.topology.trust_domain), /at \/topology: allowed: a "trust_domain" key/],
  ['an unknown fault kind in the schedule', () => mutate((d) => (d.plant.fault_schedule = [{ at_s: 1, asset: 'pump_1', fault: 'gremlins' }])), /at \/plant\/fault_schedule\/0\/fault: received "gremlins", allowed: one of "bearing_wear"/],
  ['a wrong type', () => mutate((d) => (d.plant.seed = 'forty-two')), /at \/plant\/seed: received "forty-two", allowed: a value of type integer/],
  ['an A2A peer that is no agent', () => mutate((d) => (d.a2a = { peers: { 'ghost-1': 'https://ghost:9443' } })), /at \/a2a\/peers\/ghost-1: received "ghost-1", allowed: one of the agents/],
  ['an A2A peer URL that is not https', () => mutate((d) => (d.a2a = { peers: { 'industrial-1': 'http://industrial-1:9443' } })), /at \/a2a\/peers\/industrial-1: received "http:\/\/industrial-1:9443"/],
  ['a revocation max age under two refreshes', () => mutate((d) => (d.revocation = { refresh_ms: 1000, max_age_s: 1 })), /at \/revocation\/max_age_s: received 1, allowed: at least two refreshes/],
  ['a revocation feed URL that is not https', () => mutate((d) => (d.revocation = { feed_url: 'http://authority:8443/v1/trust/revocations' })), /at \/revocation\/feed_url: received "http:\/\/authority/],
  ['invalid YAML', () => write('topology: [unclosed'), /not valid YAML/],
  ['a duplicated YAML key', () => write('topology: {}\ntopology: {}\n'), /not valid YAML/],
];

for (const [what, make, message] of refusals) {
  test(`GIVEN a config with ${what} WHEN loaded THEN it is refused naming the file, the path, the value and what is allowed`, () => {
    const file = make();
    assert.throws(() => loadConfig(file), (err) => {
      assert.ok(isGlimmerError(err), String(err));
      assert.ok(err.code === 'GLM_ERR_CONFIG_INVALID' || err.code === 'GLM_ERR_CONFIG_UNREADABLE', err.code);
      assert.match(err.message, message);
      assert.ok(err.message.startsWith(file), err.message);
      return true;
    });
  });
}

test('GIVEN a cognitive.yml with an unknown precision WHEN loaded THEN the error names cognitive.yml and the path', () => {
  const file = write(base, cognitive.replace('precision: int8', 'precision: int4'));
  assert.throws(() => loadConfig(file), (err) => isGlimmerError(err, 'GLM_ERR_CONFIG_INVALID') && /cognitive\.yml: at \/hybrid_reasoning\/neural_components\/0\/precision: received "int4"/.test(err.message));
});

test('GIVEN a missing file WHEN loaded THEN GLM_ERR_CONFIG_UNREADABLE names it', () => {
  assert.throws(() => loadConfig('/nonexistent/glimmer.yml'), (err) => isGlimmerError(err, 'GLM_ERR_CONFIG_UNREADABLE') && err.message.includes('/nonexistent/glimmer.yml'));
});

test('GIVEN arbitrary YAML documents WHEN loaded THEN the loader returns a config or a typed config error, never anything else (fuzz)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-cfg-fuzz-'));
  fs.writeFileSync(path.join(dir, 'cognitive.yml'), cognitive);
  const file = path.join(dir, 'glimmer.yml');
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue().map((v) => YAML.stringify(v))), (text) => {
      fs.writeFileSync(file, text);
      try {
        loadConfig(file);
      } catch (err) {
        assert.ok(isGlimmerError(err) && err.code.startsWith('GLM_ERR_CONFIG_'), String(err));
      }
    }),
    { numRuns: 500 },
  );
});

test('GIVEN GLIMMER_AGENT naming one agent WHEN selected THEN only that agent is supervised; an unknown name is refused naming the allowed ones', async () => {
  const { selectAgent } = await import('../../runtime/config/select');
  const cfg = loadConfig();
  assert.deepEqual(selectAgent(cfg, 'data-1').agents.map((a) => a.name), ['data-1']);
  assert.equal(selectAgent(cfg, undefined), cfg);
  assert.throws(() => selectAgent(cfg, 'ghost-9'), (err) => isGlimmerError(err, 'GLM_ERR_CONFIG_INVALID') && /received agent "ghost-9".*allowed: one of industrial-1, cognitive-1, data-1/.test(err.message));
});

test('GIVEN opcua network settings WHEN loaded THEN host, port, advertised hosts, SANs and certificate lifetimes come through; defaults otherwise; a URL as a host is refused', () => {
  const yearly = { lifetimeMs: 365 * 86_400_000, renewBeforeMs: 30 * 86_400_000 };
  assert.deepEqual(loadConfig().opcua, { port: 4840, certificateLifetime: yearly });
  const cfg = loadConfig(mutate((d) => { d.opcua = { host: '10.1.2.10', port: 4841, advertised_hosts: ['plant-opcua.site.example', '10.1.2.10'], certificate_dns: ['plant-opcua'], certificate_ips: ['10.1.2.11'] }; }));
  assert.deepEqual(cfg.opcua, { host: '10.1.2.10', port: 4841, advertised_hosts: ['plant-opcua.site.example', '10.1.2.10'], certificate_dns: ['plant-opcua'], certificate_ips: ['10.1.2.11'], certificateLifetime: yearly });
  const weekly = loadConfig(mutate((d) => { d.opcua = { certificate_lifetime_s: 7 * 86_400, certificate_renew_before_s: 86_400 }; }));
  assert.deepEqual(weekly.opcua?.certificateLifetime, { lifetimeMs: 7 * 86_400_000, renewBeforeMs: 86_400_000 });
  assert.throws(() => loadConfig(mutate((d) => { d.opcua = { advertised_hosts: ['opc.tcp://x:4840'] }; })), (e) => isGlimmerError(e, 'GLM_ERR_CONFIG_INVALID'));
});

test('GIVEN a northbound section with only the required keys WHEN loaded THEN the edge node runs on the first data agent with every default, and commands are allowed by no conduit', () => {
  const cfg = loadConfig(mutate((d) => { d.northbound = { broker: 'mqtts://broker.plant.example:8883', group_id: 'plant-a', ca_file: 'broker-ca.pem' }; }));
  assert.deepEqual(cfg.northbound, {
    broker: 'mqtts://broker.plant.example:8883', zone: 'enterprise', agent: 'data-1', groupId: 'plant-a', edgeNodeId: 'data-1',
    caFile: path.join(path.dirname(cfg.file), 'broker-ca.pem'), publishIntervalMs: 1000, deadbands: {}, replayMaxMessagesPerS: 5000,
    commandZone: 'operations', commandConduits: [], store: { safetyBudgetBytes: 64 * 1024 * 1024, trendBudgetBytes: 2048 * 1024 * 1024 },
  });
});

test('GIVEN a conduit with allow_sparkplug_commands WHEN loaded THEN it is the northbound command conduit', () => {
  const cfg = loadConfig(mutate((d) => {
    d.northbound = { broker: 'mqtts://b:8883', group_id: 'g', ca_file: 'ca.pem' };
    d.conduits[0].allow_sparkplug_commands = true;
  }));
  assert.deepEqual(cfg.northbound?.commandConduits, [{ from: 'enterprise', to: 'dmz' }]);
});

test('GIVEN a northbound section with a plain mqtt:// broker, a wildcard in the group id, an unknown zone or a non-data agent WHEN loaded THEN GLM_ERR_CONFIG_INVALID names the field', () => {
  const nb = { broker: 'mqtts://b:8883', group_id: 'g', ca_file: 'ca.pem' };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...nb, broker: 'mqtt://b:1883' }, /\/northbound\/broker/],
    [{ ...nb, group_id: 'plant/#' }, /\/northbound\/group_id/],
    [{ ...nb, zone: 'nowhere' }, /\/northbound\/zone/],
    [{ ...nb, agent: 'industrial-1' }, /\/northbound\/agent/],
    [{ ...nb, store: { trend_budget_mb: 0 } }, /\/northbound\/store\/trend_budget_mb/],
  ];
  for (const [section, where] of cases) {
    assert.throws(() => loadConfig(mutate((d) => { d.northbound = section; })), (err) => isGlimmerError(err, 'GLM_ERR_CONFIG_INVALID') && where.test(err.message), JSON.stringify(section));
  }
});
