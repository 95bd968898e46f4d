/**
 * The swarm's own traffic: the Industrial agent's snapshots reach the Cognitive agent as A2A calls between the two
 * agent processes over SPIFFE mTLS, authorized and audited by the receiving agent's PDP (no supervisor relay).
 * Shutdown orders take the same path the other way (test/trust/a2a-messenger.test.ts proves their policy checks).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { AuditRecordInput } from '../../runtime/model/messages';
import { startRuntime } from '../../runtime/app';
import { silentLogger } from '../../runtime/observability/logger';

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('GIVEN the running swarm WHEN the industrial agent forwards plant snapshots THEN each reaches the cognitive agent process as a policy-checked A2A call under its own SVID', { timeout: 150_000 }, async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-swarm-a2a-'));
  const rt = await startRuntime({ stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
  t.after(async () => {
    await rt.stop('test');
    fs.rmSync(stateDir, { recursive: true, force: true });
  });
  const records: { agent: string; record: AuditRecordInput }[] = [];
  rt.supervisor.on('audit', (agent: string, record: AuditRecordInput) => records.push({ agent, record }));
  assert.ok(await rt.supervisor.waitFor(['ACTIVE'], 90_000), JSON.stringify(rt.supervisor.agents()));

  const decision = (at: string, from: string, action: string) => (r: { agent: string; record: AuditRecordInput }) =>
    r.agent === at && r.record.type === 'policy.decision' && r.record.decision === 'allow' && r.record.enforcement === 'a2a' &&
    r.record.action === action && String(r.record.subject).endsWith(`/agent/${from}`);
  await until('a snapshot call authorized by cognitive-1', () => records.some(decision('cognitive-1', 'industrial-1', 'call')), 30_000);

  // The call arrived at cognitive-1's own endpoint, under industrial-1's SVID: no supervisor in between.
  const snapshot = records.find(decision('cognitive-1', 'industrial-1', 'call'));
  assert.match(String(snapshot?.record.resource), /^Agent::spiffe:\/\/glimmer\.local\/zone\/operations\/agent\/cognitive-1$/);
  await until('the snapshot to reach the rules', () => records.some((r) => r.agent === 'cognitive-1' && r.record.type === 'cognitive.decision' && r.record.trigger === 'snapshot'), 30_000);
  assert.equal(records.filter((r) => r.record.type === 'agent.message_failed').length, 0, JSON.stringify(records.filter((r) => r.record.type === 'agent.message_failed')));
});
