/**
 * `glimmer trust revoke|revocations` against a real runtime (data-1's pod, with the MCP door configured): the admin
 * token and an operator SVID over the mTLS listener, Cedar deciding who may revoke, the operator's identity in the
 * audit record, usage errors, and the MCP door refusing a token whose subject is a revoked SPIFFE ID.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startRuntime, type Runtime } from '../../runtime/app';
import { readAuditRecords } from '../../runtime/audit/records';
import { silentLogger } from '../../runtime/observability/logger';
import { ensureCa, type Ca } from '../../runtime/trust/ca';
import { issueOperatorSvid, issueSvid } from '../../runtime/trust/svid';
import { glimmer } from '../helpers/cli';
import { BASE_CONFIG, pinsOf, writeConfig } from '../helpers/external-plant';
import { TestIssuer } from '../helpers/oauth-issuer';
import { waitUntil } from '../faults/helpers';

const RESOURCE = 'https://plant.glimmer.test/mcp';
let dir: string;
let rt: Runtime;
let ca: Ca;
let issuer: TestIssuer;
let api: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-cli-trust-'));
  issuer = await TestIssuer.start();
  const doc = structuredClone(BASE_CONFIG) as Record<string, unknown> & { plant: Record<string, unknown> };
  doc.plant = { ...doc.plant, fault_schedule: [] };
  doc.mcp = { resource: RESOURCE, issuers: [{ issuer: issuer.issuer, jwks_uri: issuer.jwksUri }] };
  const configFile = writeConfig(doc, fs.mkdtempSync(path.join(dir, 'cfg-')));
  rt = await startRuntime({ configFile, configPins: pinsOf(configFile), agent: 'data-1', stateDir: path.join(dir, 'state'), apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
  ca = await ensureCa(path.join(dir, 'state'), rt.config.topology.trust_domain);
  api = `http://127.0.0.1:${rt.apiPort}`;
});

after(async () => {
  await rt?.stop('test');
  await issuer?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The first record of `type` matching `where`, once it is committed (audit appends are group-committed). */
async function recorded(type: string, where: (r: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitUntil(`a ${type} record`, async () => {
    for await (const r of readAuditRecords({ stateDir: path.join(dir, 'state') })) if (r.type === type && where(r)) found = r;
    return found !== undefined;
  }, 10_000, 50);
  return found as Record<string, unknown>;
}

/** An operator SVID and the bundle as files, for --cert/--key/--ca. */
async function operatorFiles(name: string): Promise<string[]> {
  const svid = await issueOperatorSvid(ca, { operator: name });
  const files = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`), ca: path.join(dir, 'bundle.pem') };
  fs.writeFileSync(files.cert, svid.certPem);
  fs.writeFileSync(files.key, svid.keyPem, { mode: 0o600 });
  fs.writeFileSync(files.ca, ca.bundlePem);
  return ['--url', `https://127.0.0.1:${rt.apiMtlsPort}`, '--cert', files.cert, '--key', files.key, '--ca', files.ca];
}

test('GIVEN the admin token WHEN glimmer trust revoke names a SPIFFE ID and then a serial THEN both are revoked, listed by glimmer trust revocations, and audited with the caller', { timeout: 120_000 }, async () => {
  const id = 'spiffe://glimmer.local/zone/operations/agent/cognitive-1';
  const token = ['--url', api, '--token', rt.adminToken];
  let r = await glimmer(['trust', 'revoke', id, '--reason', 'pod compromised', ...token]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`revoked identity ${id}`));
  const svid = await issueSvid(ca, { zone: 'dmz', agent: 'data-1' });
  r = await glimmer(['trust', 'revoke', svid.serial, ...token, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { kind: 'serial', serial: svid.serial, spiffe_id: null, revoked: true });
  r = await glimmer(['trust', 'revocations', ...token]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /this runtime is the authority/);
  assert.match(r.stdout, new RegExp(`identity ${id} .*pod compromised`));
  assert.match(r.stdout, new RegExp(`serial ${svid.serial}`));
  await recorded('trust.svid_revoked', (x) => x.peer === id && x.by === 'admin' && x.reason === 'pod compromised');
  await recorded('trust.svid_revoked', (x) => x.serial === svid.serial && x.by === 'admin');
  r = await glimmer(['trust', 'revoke', 'not-a-serial!', ...token]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /GLM_ERR_USAGE/);
  r = await glimmer(['trust', 'revoke', ...token]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /revoke needs a SPIFFE ID or a certificate serial/);
});

test('GIVEN operator SVIDs over the mTLS listener WHEN a viewer and an engineer revoke THEN Cedar refuses the viewer (GLM_ERR_API_FORBIDDEN) and the engineer\'s revocation is audited with the engineer\'s SPIFFE ID', { timeout: 120_000 }, async () => {
  for (const [name, role] of [['vic', 'viewer'], ['erin', 'engineer']]) {
    const res = await fetch(`${api}/v1/opcua/users`, { method: 'POST', headers: { authorization: `Bearer ${rt.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, role }) });
    assert.equal(res.status, 201);
  }
  const target = (await issueSvid(ca, { zone: 'dmz', agent: 'data-1' })).serial;
  let r = await glimmer(['trust', 'revoke', target, ...(await operatorFiles('opcua-vic'))]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /GLM_ERR_API_FORBIDDEN/);
  r = await glimmer(['trust', 'revoke', target, '--reason', 'rotation drill', ...(await operatorFiles('opcua-erin'))]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`revoked certificate serial ${target}`));
  const audited = await recorded('trust.svid_revoked', (x) => x.serial === target);
  assert.equal(audited.by, 'spiffe://glimmer.local/operator/opcua-erin');
});

test('GIVEN the MCP door WHEN a copilot token\'s subject is a revoked SPIFFE ID THEN the call is refused with GLM_ERR_CERT_REVOKED and the refusal audited, while another subject is served', { timeout: 120_000 }, async () => {
  const revoked = 'spiffe://glimmer.local/zone/dmz/agent/copilot-bridge';
  const res = await fetch(`${api}/v1/trust/revoke`, { method: 'POST', headers: { authorization: `Bearer ${rt.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: revoked }) });
  assert.equal(res.status, 201);
  const call = async (sub: string) => fetch(`${api}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await issuer.token({ sub, scope: 'plant.read', expiresIn: 300 }, RESOURCE)}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
  const refused = await call(revoked);
  assert.equal(refused.status, 401);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'GLM_ERR_CERT_REVOKED');
  const served = await call('spiffe://glimmer.local/zone/dmz/agent/other-bridge');
  assert.equal(served.status, 200);
  const audited = await recorded('trust.revocation_refused', (x) => x.point === 'mcp' && x.peer === revoked);
  assert.equal(audited.code, 'GLM_ERR_CERT_REVOKED');
});
