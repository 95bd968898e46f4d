/** Every synth-time refusal of the stacks and modules, each with its own error code and a message naming the value. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { AuditBucket } from '../../modules/audit-bucket';
import { EksCluster } from '../../modules/eks-cluster';
import { EksClusterRole } from '../../modules/eks-cluster-role';
import { HsmCluster } from '../../modules/hsm-cluster';
import { HsmKeyStore } from '../../modules/hsm-key-store';
import { IstioMesh } from '../../modules/istio-mesh';
import { AgentWorkload } from '../../modules/agent-workload';
import { RuntimeConfigMaps } from '../../modules/runtime-config-maps';
import { Testing, TerraformStack, TerraformVariable } from '../../modules/tf';
import { TopologyVariables } from '../../modules/topology-variables';
import { checkZoneModel, type ZoneModel } from '../../modules/zone-model';
import { loadAlertRuleGroups } from '../../stacks/inputs';
import { main } from '../../stacks/main';
import { parseTopology, resolveTopology } from '../../stacks/topology';
import { isGlimmerError, type ErrorCode } from '../../runtime/errors';

const refuses = (code: ErrorCode, fn: () => unknown, mentions: RegExp) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(isGlimmerError(err, code), `expected ${code}, got ${String(err)}`);
    assert.match((err as Error).message, mentions);
    return true;
  });
const stack = () => new TerraformStack(Testing.app(), 's');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-infra-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('GIVEN TOPOLOGY=mars WHEN the topology is resolved THEN GLM_ERR_INFRA_TOPOLOGY_INVALID names the value and edge, cloud, all', () => {
  refuses('GLM_ERR_INFRA_TOPOLOGY_INVALID', () => resolveTopology({ flag: 'mars', cdktfJson: '/nonexistent' }), /edge, cloud, all, received "mars"/);
  refuses('GLM_ERR_INFRA_TOPOLOGY_INVALID', () => resolveTopology({ env: { GLIMMER_TOPOLOGY: 'EDGE' }, cdktfJson: '/nonexistent' }), /GLIMMER_TOPOLOGY.*received "EDGE"/);
  refuses('GLM_ERR_INFRA_TOPOLOGY_INVALID', () => parseTopology(3, 'x'), /received 3/);
});

test('GIVEN a cdktf.json whose context.topology is bad WHEN no flag or env is set THEN the context is validated the same way', () => {
  const file = path.join(tmp, 'cdktf.json');
  fs.writeFileSync(file, JSON.stringify({ context: { topology: 'hyperscale' } }));
  refuses('GLM_ERR_INFRA_TOPOLOGY_INVALID', () => resolveTopology({ env: {}, cdktfJson: file }), /cdktf\.json context\.topology.*received "hyperscale"/);
  fs.writeFileSync(file, JSON.stringify({ context: { topology: 'edge' } }));
  assert.equal(resolveTopology({ env: {}, cdktfJson: file }), 'edge');
  assert.equal(resolveTopology({ env: { CDKTF_CONTEXT_JSON: '{"topology":"cloud"}' }, cdktfJson: file }), 'cloud');
  assert.equal(resolveTopology({ env: {}, cdktfJson: path.join(tmp, 'no-such-cdktf.json') }), 'all');
});

test('GIVEN a bad topology WHEN the synth entry point runs THEN it exits 2 and writes nothing', () => {
  const out = path.join(tmp, 'out');
  assert.equal(main(['--topology', 'mars', '--outdir', out]), 2);
  assert.equal(fs.existsSync(out), false);
});

test('GIVEN an earlier TOPOLOGY=all output WHEN the entry point synthesizes TOPOLOGY=edge THEN the output holds only the edge stacks', () => {
  const out = path.join(tmp, 'switch');
  fs.mkdirSync(path.join(out, 'stacks', 'cloud'), { recursive: true });
  fs.writeFileSync(path.join(out, 'keep.txt'), 'not ours');
  const sourceMaps = process.sourceMapsEnabled;
  process.setSourceMapsEnabled(false); // cdktf's token stack traces are slow with tsx's source maps
  try {
    assert.equal(main(['--topology', 'edge', '--outdir', out]), 0);
  } finally {
    process.setSourceMapsEnabled(sourceMaps);
  }
  assert.deepEqual(fs.readdirSync(path.join(out, 'stacks')).sort(), ['edge', 'edge-runtime']);
  assert.ok(fs.existsSync(path.join(out, 'keep.txt')));
  const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { stacks: Record<string, unknown> };
  assert.deepEqual(Object.keys(manifest.stacks).sort(), ['edge', 'edge-runtime']);
  // Local state lives outside the output a synth replaces: in the project root, like cdktf's default.
  const stack = JSON.parse(fs.readFileSync(path.join(out, 'stacks', 'edge', 'cdk.tf.json'), 'utf8')) as { terraform: { backend: { local: { path: string } } } };
  const state = path.resolve(out, 'stacks', 'edge', stack.terraform.backend.local.path);
  assert.equal(state, path.resolve(__dirname, '..', '..', 'terraform.edge.tfstate'));
});

test('GIVEN a literal key store password WHEN HsmKeyStore is built THEN GLM_ERR_INFRA_PROP_INVALID refuses it (it would land in cdk.tf.json) without echoing it', () => {
  const s = stack();
  assert.throws(() => new HsmKeyStore(s, 'k', { accountRootArn: 'arn:aws:iam::1:root', cloudHsmClusterId: 'c', keyStorePassword: 'hunter2-secret', trustAnchorCertificate: 'x', consumerRoleArn: 'r' }), (err: unknown) => {
    assert.ok(isGlimmerError(err, 'GLM_ERR_INFRA_PROP_INVALID'));
    assert.doesNotMatch((err as Error).message, /hunter2/);
    assert.match((err as Error).message, /sensitive Terraform variable/);
    return true;
  });
  const pw = new TerraformVariable(s, 'pw', { sensitive: true });
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new HsmKeyStore(s, 'k2', { accountRootArn: 'a', cloudHsmClusterId: 'c', keyStorePassword: pw.stringValue, trustAnchorCertificate: 'x', consumerRoleArn: 'r', stage: 'ALL' }), /stage must be one of CLUSTER, KEY_STORE, KEYS, received "ALL"/);
});

test('GIVEN one HSM or a non-FIPS typo WHEN HsmCluster is built THEN GLM_ERR_INFRA_PROP_INVALID names the value and the range', () => {
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new HsmCluster(stack(), 'h', { subnetIds: ['a', 'b'], hsmCount: 1 }), /hsmCount must be an integer 2\.\.28, received 1/);
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new HsmCluster(stack(), 'h', { subnetIds: ['a', 'b'], mode: 'FIPS140' as never }), /mode must be one of FIPS, NON_FIPS, received "FIPS140"/);
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new HsmCluster(stack(), 'h', { subnetIds: ['a'] }), /subnetIds/);
});

test('GIVEN the seed istio_version 1.18.2-hardened or an end-of-life 1.27/1.28 WHEN IstioMesh is built THEN it is refused, naming the construct path', () => {
  const base = { compliancePolicy: 'pqc', trustDomain: 'glimmer.local' };
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new IstioMesh(stack(), 'i', { ...base, version: '1.18.2-hardened' }), /^IstioMesh s\/i: version must be a pinned Istio release 1\.29\.0 or later.*received "1\.18\.2-hardened"/);
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new IstioMesh(stack(), 'i', { ...base, version: '1.27.3' }), /received "1\.27\.3"/);
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new IstioMesh(stack(), 'i', { ...base, version: '1.28.9' }), /received "1\.28\.9"/);
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new IstioMesh(stack(), 'i', { ...base, version: '1.30.3', compliancePolicy: 'FIPS_140_3_LEVEL4' }), /compliancePolicy must be one of , pqc, fips-140-2/);
});

test('GIVEN restricted zone namespaces WHEN the Istio CNI is turned off THEN IstioMesh refuses (istio-init would need NET_ADMIN)', () => {
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new IstioMesh(stack(), 'i', { version: '1.30.3', compliancePolicy: 'pqc', trustDomain: 'glimmer.local', cni: false }), /cni must be true while the workload namespaces enforce Pod Security restricted .*, received false/);
});

test('GIVEN a zone model with a direct enterprise -> control conduit WHEN checked THEN GLM_ERR_INFRA_ZONE_MODEL_INVALID names the conduit and the levels', () => {
  const model: ZoneModel = {
    zones: [{ name: 'enterprise', isa95Level: 4, securityLevel: 1 }, { name: 'dmz', isa95Level: 3.5, securityLevel: 2 }, { name: 'control', isa95Level: 2, securityLevel: 3 }],
    conduits: [{ from: 'enterprise', to: 'control', protocols: ['modbus'] }],
    agents: [],
    trustDomain: 'glimmer.local',
  };
  refuses('GLM_ERR_INFRA_ZONE_MODEL_INVALID', () => checkZoneModel(model), /conduit enterprise \(ISA-95 level 4\) -> control \(level 2\) bypasses the DMZ/);
  refuses('GLM_ERR_INFRA_ZONE_MODEL_INVALID', () => checkZoneModel({ ...model, conduits: [{ from: 'dmz', to: 'nowhere', protocols: ['https'] }] }), /unknown zone/);
  refuses('GLM_ERR_INFRA_ZONE_MODEL_INVALID', () => checkZoneModel({ ...model, conduits: [], agents: [{ name: 'a', kind: 'data', zone: 'lab' }] }), /agent "a" is in unknown zone "lab"/);
});

test('GIVEN a zone model without a level 3.5 zone WHEN topology variables are declared THEN control_zone has nothing to name and is refused', () => {
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new TopologyVariables(stack(), 't', { zones: [{ name: 'control', isa95Level: 2, securityLevel: 3 }] }), /ISA-95 level 3\.5/);
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new TopologyVariables(stack(), 't', { zones: [{ name: 'dmz', isa95Level: 3.5, securityLevel: 2 }], defaultSafetyZoneLevel: 7 }), /defaultSafetyZoneLevel must be an integer 1\.\.4, received 7/);
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new TopologyVariables(stack(), 't', { zones: [{ name: 'dmz', isa95Level: 3.5, securityLevel: 2 }], defaultControlZone: 'control' }), /defaultControlZone must be one of DMZ, received "control"/);
});

test('GIVEN a retention of 0 days WHEN AuditBucket is built THEN it is refused', () => {
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new AuditBucket(stack(), 'b', { bucketName: 'b', kmsKeyArn: 'k', retentionDays: 0 }), /retentionDays must be an integer 1\.\.36500, received 0/);
});

test('GIVEN a public EKS endpoint open to 0.0.0.0/0 WHEN EksCluster is built THEN it is refused', () => {
  const s = stack();
  const clusterRole = new EksClusterRole(s, 'r');
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new EksCluster(s, 'e', { name: 'x', clusterRole, subnetIds: ['a', 'b'], secretsKmsKeyArn: 'k', publicEndpoint: true, publicAccessCidrs: ['0.0.0.0/0'] }), /publicAccessCidrs must be a non-empty list of CIDRs other than 0\.0\.0\.0\/0/);
});

test('GIVEN an agent with maxReplicas below minReplicas or a bad name WHEN AgentWorkload is built THEN it is refused, naming the construct path of that agent', () => {
  const agent = { name: 'industrial-1', kind: 'industrial' as const, zone: 'control' };
  const configVolumes = [{ volume: { name: 'glimmer-config', configMap: { name: 'glimmer-config' } }, mountPath: '/etc/glimmer/config' }];
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new AgentWorkload(stack(), 'agent-industrial-1', { agent, image: 'i', configVolumes, minReplicas: 3, maxReplicas: 2 }), /^AgentWorkload s\/agent-industrial-1: maxReplicas must be >= minReplicas \(3\), received 2/);
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new AgentWorkload(stack(), 'a', { agent: { ...agent, name: 'Bad_Name' }, image: 'i', configVolumes }), /agent\.name must be a Kubernetes object name, received "Bad_Name"/);
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new AgentWorkload(stack(), 'a', { agent, image: 'i', configVolumes: [] }), /configVolumes must be at least the glimmer-config volume/);
});

test('GIVEN a rule file in a sub-directory name or over 1 MiB WHEN RuntimeConfigMaps is built THEN it is refused', () => {
  const base = { namespace: 'control', glimmerYml: 'x', cognitiveYml: 'y' };
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new RuntimeConfigMaps(stack(), 'c', { ...base, fileSets: [{ name: 'r', mountPath: '/r', files: { 'a/b.pl': '' } }] }), /file name must be letters/);
  refuses('GLM_ERR_INFRA_PROP_INVALID', () => new RuntimeConfigMaps(stack(), 'c', { ...base, fileSets: [{ name: 'r', mountPath: '/r', files: { 'big.pl': 'x'.repeat(1024 * 1024 + 1) } }] }), /size must be at most 1048576 bytes/);
});

test('GIVEN a custom_rules.yml that is not a rule file WHEN the stacks read it THEN GLM_ERR_INFRA_ALERT_RULES_INVALID', () => {
  const file = path.join(tmp, 'rules.yml');
  fs.writeFileSync(file, 'groups: {name: x}\n');
  refuses('GLM_ERR_INFRA_ALERT_RULES_INVALID', () => loadAlertRuleGroups(file), /must hold groups/);
  fs.writeFileSync(file, 'groups: [\n');
  refuses('GLM_ERR_INFRA_ALERT_RULES_INVALID', () => loadAlertRuleGroups(file), /not valid YAML/);
  assert.deepEqual(loadAlertRuleGroups(path.join(tmp, 'absent.yml')), []);
});
