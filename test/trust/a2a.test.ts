import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureCa, type Ca } from '../../runtime/trust/ca';
import { issueLeaf } from '../../runtime/trust/svid';
import { fixedIdentity } from '../../runtime/trust/rotation';
import { identityIssuer } from './identities';
import { PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';
import { createA2aServer, type A2aServer } from '../../runtime/trust/a2a/server';
import { createA2aClient } from '../../runtime/trust/a2a/client';
import type { TrustAuditRecord } from '../../runtime/trust/audit';
import { isGlimmerError } from '../../runtime/errors';
import { loadConfig } from '../../runtime/config/load';

let ca: Ca;
let td: string;
let pdp: PolicyDecisionPoint;
let server: A2aServer;
const audit: TrustAuditRecord[] = [];

const identity = identityIssuer(() => ca, () => td);

before(async () => {
  const config = loadConfig();
  td = config.topology.trust_domain;
  ca = await ensureCa(await mkdtemp(path.join(os.tmpdir(), 'glimmer-a2a-')), td);
  pdp = await PolicyDecisionPoint.create({ model: { ...config, trustDomain: td }, audit: (r) => audit.push(r) });
  server = createA2aServer({
    identity: await identity('operations', 'cognitive-1'), pdp, audit: (r) => audit.push(r),
    name: 'cognitive-1', description: 'Hybrid reasoning agent',
    skills: [
      { id: 'echo', name: 'Echo', description: 'Repeats the text and names the caller', handle: async (call) => ({ text: `${call.text} from ${call.caller.spiffeId}`, data: { n: call.data.length } }) },
      { id: 'fail', name: 'Fail', description: 'Always fails', handle: async () => { throw new Error('boom'); } },
    ],
  });
  await server.listen();
});

after(async () => {
  await server.close();
});

test('GIVEN the DMZ data agent (A2A conduit to operations) WHEN it calls cognitive-1 over A2A THEN the task completes with the answer, and the PDP allow is audited', async () => {
  const client = createA2aClient({ identity: await identity('dmz', 'data-1'), audit: (r) => audit.push(r) });
  try {
    const peer = await client.connect(server.url, { zone: 'operations', agent: 'cognitive-1' });
    assert.equal(peer.card.name, 'cognitive-1');
    assert.deepEqual(peer.card.skills.map((s) => s.id), ['echo', 'fail']);
    audit.length = 0;
    const result = await peer.call('echo', 'hello', { x: 1 });
    assert.equal(result.state, 'completed');
    assert.equal(result.text, `hello from spiffe://${td}/zone/dmz/agent/data-1`);
    assert.deepEqual(result.data, [{ n: 1 }]);
    const decision = audit.find((r) => r.type === 'policy.decision');
    assert.ok(decision?.type === 'policy.decision');
    assert.equal(decision.decision, 'allow');
    assert.equal(decision.action, 'call');
    assert.equal(decision.enforcement, 'a2a');
    assert.deepEqual(decision.reasons, ['a2a-call-over-conduit']);
  } finally {
    client.close();
  }
});

test('GIVEN a skill that throws WHEN called THEN the task is failed, not the connection', async () => {
  const client = createA2aClient({ identity: await identity('control', 'industrial-1'), audit: () => undefined });
  try {
    const peer = await client.connect(server.url);
    const result = await peer.call('fail', '');
    assert.equal(result.state, 'failed');
    const unknown = await peer.call('nope', '');
    assert.equal(unknown.state, 'rejected');
  } finally {
    client.close();
  }
});

test('GIVEN an agent in a zone without an A2A conduit to operations WHEN it calls THEN GLM_ERR_POLICY_DENIED and the deny is audited', async () => {
  // enterprise has no A2A conduit to operations; give it a configured agent so only the policy can refuse.
  const config = loadConfig();
  pdp.setModel({ ...config, trustDomain: td, agents: [...config.agents, { name: 'erp-1', kind: 'data', zone: 'enterprise' }] });
  const client = createA2aClient({ identity: await identity('enterprise', 'erp-1'), audit: () => undefined });
  try {
    audit.length = 0;
    await assert.rejects(client.connect(server.url), (err) => isGlimmerError(err, 'GLM_ERR_POLICY_DENIED'));
    const decision = audit.find((r) => r.type === 'policy.decision');
    assert.ok(decision?.type === 'policy.decision');
    assert.equal(decision.decision, 'deny');
    assert.deepEqual(decision.reasons, ['default-deny']);
  } finally {
    client.close();
  }
});

test('GIVEN a caller that expects another agent behind the URL WHEN it connects THEN GLM_ERR_CERT_IDENTITY_MISMATCH before any call', async () => {
  const client = createA2aClient({ identity: await identity('dmz', 'data-1'), audit: () => undefined });
  try {
    await assert.rejects(client.connect(server.url, { agent: 'industrial-1' }), (err) => isGlimmerError(err, 'GLM_ERR_CERT_IDENTITY_MISMATCH'));
  } finally {
    client.close();
  }
});

test('GIVEN a caller with an expired SVID WHEN it connects THEN the server refuses the TLS connection and audits GLM_ERR_CERT_EXPIRED', async () => {
  const expired = await issueLeaf(ca, { uris: [`spiffe://${td}/zone/dmz/agent/data-1`], notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) });
  const client = createA2aClient({ identity: fixedIdentity(expired, { bundlePem: ca.bundlePem, trustDomain: td }), audit: () => undefined });
  try {
    audit.length = 0;
    await assert.rejects(client.connect(server.url));
    const refusal = audit.find((r) => r.type === 'trust.tls_refused');
    assert.equal(refusal?.type === 'trust.tls_refused' && refusal.code, 'GLM_ERR_CERT_EXPIRED');
    assert.equal(audit.some((r) => r.type === 'policy.decision'), false);
  } finally {
    client.close();
  }
});
