/**
 * Agent-to-agent messages over A2A on SPIFFE mTLS (runtime/trust/a2a/messenger.ts): real certificates from the runtime's
 * CA, real TLS 1.3 sockets on loopback, the real Cedar policies of rules/policies.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { AgentMessage, AuditRecordInput } from '../../runtime/model/messages';
import { type AgentMessenger, TOPIC_SHUTDOWN, TOPIC_SNAPSHOT, policyArtifacts, startAgentMessenger } from '../../runtime/trust/a2a/messenger';
import { loadConfig } from '../../runtime/config/load';
import type { AgentSpec, RuntimeConfig } from '../../runtime/config/types';
import type { AgentIdentity } from '../../runtime/trust/svid';
import { silentLogger } from '../../runtime/observability/logger';
import { type Ca, ensureCa } from '../../runtime/trust/ca';
import { issueSvid } from '../../runtime/trust/svid';
import { RevocationList, verifyRevocationFeed } from '../../runtime/trust/revocation';

type GlimmerErrorLike = { readonly code: string } | undefined;

let config: RuntimeConfig;
let ca: Ca;
let dir: string;
const open: AgentMessenger[] = [];

before(async () => {
  config = loadConfig();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-messaging-'));
  ca = await ensureCa(dir, config.topology.trust_domain);
});
after(async () => {
  for (const m of open) await m.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function spec(name: string): AgentSpec {
  const s = config.agents.find((a) => a.name === name);
  assert.ok(s, `agent ${name} in config/glimmer.yml`);
  return s;
}

async function identityOf(s: AgentSpec, ttlSeconds?: number): Promise<AgentIdentity> {
  const svid = await issueSvid(ca, { zone: s.zone, agent: s.name, ttlSeconds });
  return { certPem: svid.certPem, keyPem: svid.keyPem, bundlePem: ca.bundlePem };
}

interface Started {
  readonly messenger: AgentMessenger;
  readonly delivered: AgentMessage[];
  readonly audit: AuditRecordInput[];
  readonly renewals: { count: number };
}

async function start(name: string, accepts: Parameters<typeof startAgentMessenger>[0]['accepts'], ttlSeconds?: number, rotateAt?: number): Promise<Started> {
  const s = spec(name);
  const delivered: AgentMessage[] = [];
  const audit: AuditRecordInput[] = [];
  const renewals = { count: 0 };
  const messenger = await startAgentMessenger({
    spec: s, config, identity: await identityOf(s, ttlSeconds), accepts, rotateAt, logger: silentLogger(),
    renew: async () => {
      renewals.count += 1;
      return identityOf(s, ttlSeconds);
    },
    audit: (r) => audit.push(r),
    deliver: (m) => delivered.push(m),
  });
  open.push(messenger);
  return { messenger, delivered, audit, renewals };
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const shutdownTopic = { topic: TOPIC_SHUTDOWN, action: 'shutdown' as const, description: 'shutdown' };

test('GIVEN industrial-1 serving safety.shutdown WHEN cognitive-1 sends an order THEN it is delivered with the verified sender and the allow is audited', { timeout: 60_000 }, async () => {
  const industrial = await start('industrial-1', [shutdownTopic]);
  const cognitive = await start('cognitive-1', [{ topic: TOPIC_SNAPSHOT, description: 'snapshots' }]);
  assert.match(industrial.messenger.url ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
  cognitive.messenger.setPeers({ 'industrial-1': industrial.messenger.url as string });
  cognitive.messenger.send('industrial-1', TOPIC_SHUTDOWN, { target: 'pump_2', codes: ['leak_containment'] });
  await until('the order', () => industrial.delivered.length === 1);
  assert.deepEqual(industrial.delivered[0], { from: 'cognitive-1', to: 'industrial-1', topic: TOPIC_SHUTDOWN, body: { target: 'pump_2', codes: ['leak_containment'] } });
  const decisions = industrial.audit.filter((r) => r.type === 'policy.decision' && r.decision === 'allow');
  assert.ok(decisions.some((r) => r.action === 'shutdown' && String(r.subject).endsWith('/zone/operations/agent/cognitive-1')), JSON.stringify(decisions));
  assert.ok(decisions.some((r) => r.action === 'call'));

  // And back: snapshots from industrial-1 to cognitive-1 over the same kind of endpoint.
  industrial.messenger.setPeers({ 'cognitive-1': cognitive.messenger.url as string });
  industrial.messenger.send('cognitive-1', TOPIC_SNAPSHOT, { time_ms: 1 });
  await until('the snapshot', () => cognitive.delivered.length === 1);
  assert.equal(cognitive.delivered[0]?.from, 'industrial-1');
});

test('GIVEN data-1 in the dmz WHEN it sends a shutdown order to industrial-1 in control THEN the policy refuses it, nothing is delivered, both ends audit it', { timeout: 60_000 }, async () => {
  const industrial = await start('industrial-1', [shutdownTopic]);
  const data = await start('data-1', []);
  assert.equal(data.messenger.url, undefined, 'an agent that accepts no topic serves no endpoint');
  data.messenger.setPeers({ 'industrial-1': industrial.messenger.url as string });
  data.messenger.send('industrial-1', TOPIC_SHUTDOWN, { target: 'plant' });
  await until('the sender to record the failure', () => data.audit.some((r) => r.type === 'agent.message_failed'));
  assert.equal(industrial.delivered.length, 0);
  assert.equal(data.audit.find((r) => r.type === 'agent.message_failed')?.code, 'GLM_ERR_POLICY_DENIED');
  assert.ok(industrial.audit.some((r) => r.type === 'policy.decision' && r.decision === 'deny' && String(r.subject).endsWith('/agent/data-1')));
});

test('GIVEN cognitive-1 serving snapshots WHEN industrial-1 (allowed to call it) sends a shutdown order there THEN the topic it does not accept is refused', { timeout: 60_000 }, async () => {
  const cognitive = await start('cognitive-1', [{ topic: TOPIC_SNAPSHOT, description: 'snapshots' }]);
  const industrial = await start('industrial-1', [shutdownTopic]);
  industrial.messenger.setPeers({ 'cognitive-1': cognitive.messenger.url as string });
  industrial.messenger.send('cognitive-1', TOPIC_SHUTDOWN, { target: 'plant' });
  await until('the refusal', () => industrial.audit.some((r) => r.type === 'agent.message_failed'));
  assert.equal(industrial.audit.find((r) => r.type === 'agent.message_failed')?.code, 'GLM_ERR_AGENT_MESSAGE_REFUSED');
  assert.equal(cognitive.delivered.length, 0);
});

test('GIVEN a peer directory that points industrial-1 at another agent WHEN cognitive-1 sends to industrial-1 THEN the server SVID does not match and nothing is delivered', { timeout: 60_000 }, async () => {
  const other = await start('cognitive-1', [shutdownTopic]);
  const sender = await start('cognitive-1', []);
  sender.messenger.setPeers({ 'industrial-1': other.messenger.url as string });
  sender.messenger.send('industrial-1', TOPIC_SHUTDOWN, { target: 'plant' });
  await until('the refusal', () => sender.audit.some((r) => r.type === 'agent.message_failed'));
  assert.equal(sender.audit.find((r) => r.type === 'agent.message_failed')?.code, 'GLM_ERR_CERT_IDENTITY_MISMATCH');
  assert.ok(sender.audit.some((r) => r.type === 'trust.tls_refused' && r.side === 'client'));
  assert.equal(other.delivered.length, 0);
});

test('GIVEN a peer with no known endpoint WHEN an agent sends to it THEN the message is dropped without an error', { timeout: 30_000 }, async () => {
  const cognitive = await start('cognitive-1', []);
  cognitive.messenger.setPeers({});
  cognitive.messenger.send('industrial-1', TOPIC_SHUTDOWN, { target: 'plant' });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(cognitive.audit.filter((r) => r.type === 'agent.message_failed').length, 0);
});

test('GIVEN an agent SVID of 60 s renewed at 2 % of its lifetime WHEN that time has passed THEN the agent asks for the next one and keeps serving under it', { timeout: 60_000 }, async () => {
  const industrial = await start('industrial-1', [shutdownTopic], 60, 0.02);
  await until('the rotation', () => industrial.renewals.count >= 1, 15_000);
  await until('the rotation record', () => industrial.audit.some((r) => r.type === 'trust.svid_rotated'));
  const cognitive = await start('cognitive-1', []);
  cognitive.messenger.setPeers({ 'industrial-1': industrial.messenger.url as string });
  cognitive.messenger.send('industrial-1', TOPIC_SHUTDOWN, { target: 'pump_1' });
  await until('the order after rotation', () => industrial.delivered.length === 1);
});

test('GIVEN the policy directory WHEN an agent lists its artifacts THEN every policy file its PDP loads is measured', () => {
  const files = policyArtifacts();
  assert.ok(files.includes('rules/policies/schema.cedarschema'));
  assert.ok(files.includes('rules/policies/agents.cedar'));
  for (const f of files) assert.ok(fs.existsSync(path.join(__dirname, '..', '..', f)), f);
});

test('GIVEN two agents following a signed revocation feed WHEN the sender\'s own SVID serial is revoked THEN its connection is closed, it is re-issued a fresh SVID at once, and its next message is delivered under the new certificate', { timeout: 60_000 }, async () => {
  const authority = RevocationList.inMemory();
  const feed = async () => verifyRevocationFeed(await authority.signedFeed(ca), { bundlePem: ca.bundlePem, trustDomain: config.topology.trust_domain });
  const follow = (point: string, audit: AuditRecordInput[]) => RevocationList.inMemory({ maxAgeMs: 60_000, point, audit: (r) => audit.push(r) });
  const cognitiveAudit: AuditRecordInput[] = [];
  const cognitiveList = follow('cognitive-1', cognitiveAudit);
  const industrialList = follow('industrial-1', []);
  const first = await feed();
  cognitiveList.apply(first);
  industrialList.apply(first);
  const delivered: AgentMessage[] = [];
  const cognitive = await startAgentMessenger({
    spec: spec('cognitive-1'), config, identity: await identityOf(spec('cognitive-1')), logger: silentLogger(), revocation: cognitiveList,
    accepts: [{ topic: TOPIC_SNAPSHOT, description: 'snapshots' }], renew: () => identityOf(spec('cognitive-1')), audit: (r) => cognitiveAudit.push(r), deliver: (m) => delivered.push(m),
  });
  open.push(cognitive);
  const issued: string[] = [];
  const industrialSpec = spec('industrial-1');
  const industrialIdentity = async () => {
    const svid = await issueSvid(ca, { zone: industrialSpec.zone, agent: industrialSpec.name });
    issued.push(svid.serial);
    return { certPem: svid.certPem, keyPem: svid.keyPem, bundlePem: ca.bundlePem };
  };
  const industrial = await startAgentMessenger({
    spec: industrialSpec, config, identity: await industrialIdentity(), logger: silentLogger(), revocation: industrialList,
    accepts: [], renew: industrialIdentity, audit: () => undefined, deliver: () => undefined,
  });
  open.push(industrial);
  industrial.setPeers({ 'cognitive-1': cognitive.url as string });
  const send = () => new Promise<GlimmerErrorLike | undefined>((resolve) => industrial.send('cognitive-1', TOPIC_SNAPSHOT, { n: delivered.length }, resolve));
  assert.equal(await send(), undefined);
  assert.equal(delivered.length, 1);

  await authority.revoke(issued[0] as string, 'key compromise');
  const next = await feed();
  const { closed } = industrialList.apply(next);
  assert.ok(closed >= 1, 'the sender closed its own connection');
  cognitiveList.apply(next);
  await until('a fresh SVID', () => issued.length === 2);
  assert.notEqual(issued[1], issued[0]);
  assert.equal(await send(), undefined, 'delivered under the fresh certificate');
  assert.equal(delivered.length, 2);
  assert.ok(cognitiveAudit.some((r) => r.type === 'trust.revocation_applied' && r.serial === issued[0]));
});
