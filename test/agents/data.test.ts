import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { AgentContext } from '../../runtime/agents/behaviour';
import type { AgentMessage, AuditRecordInput } from '../../runtime/model/messages';
import dataAgent, { EXPORT_TOPIC } from '../../runtime/agents/data';
import { DEFAULT_EXPORT_SCHEMA, filterRecord } from '../../runtime/agents/data/filter';
import { openPseudonymiser } from '../../runtime/audit/gdpr';
import { loadConfig } from '../../runtime/config/load';
import { isGlimmerError } from '../../runtime/errors';
import { silentLogger } from '../../runtime/observability/logger';

const PERSON = { operator_name: 'Ada Lovelace', operator_badge: 'B-4711', operator_email: 'ada@example.com' };

test('GIVEN a record with personal and unknown fields WHEN filtered THEN personal fields become pseudonyms, unknown fields are dropped, public fields pass', () => {
  const r = filterRecord({ type: 'shift_report', asset: 'pump_1', produced_m3: 12.5, ...PERSON, home_address: 'Somewhere 1', nested: { a: 1 } }, DEFAULT_EXPORT_SCHEMA, (v) => `psn_${v.length}`);
  assert.deepEqual(r.record, { type: 'shift_report', asset: 'pump_1', produced_m3: 12.5, operator_name: 'psn_12', operator_badge: 'psn_6', operator_email: 'psn_15' });
  assert.deepEqual([...r.dropped].sort(), ['home_address', 'nested']);
  assert.deepEqual([...r.pseudonymised].sort(), ['operator_badge', 'operator_email', 'operator_name']);
});

test('GIVEN a non-object record WHEN filtered THEN GLM_ERR_DATA_RECORD_INVALID', () => {
  for (const bad of [null, 1, 'x', [1, 2]]) {
    assert.throws(() => filterRecord(bad, DEFAULT_EXPORT_SCHEMA, (v) => v), (err) => isGlimmerError(err, 'GLM_ERR_DATA_RECORD_INVALID'));
  }
});

test('GIVEN arbitrary records WHEN filtered THEN the output never contains a personal value in clear nor a field outside the schema (fuzz)', () => {
  const keys = openPseudonymiser({ stateDir: fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-gdpr-')) });
  fc.assert(
    fc.property(fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 2 })), fc.string({ minLength: 3, maxLength: 30 }), (extra, name) => {
      const input = { ...extra, operator_name: `op ${name}` };
      const out = filterRecord(input, DEFAULT_EXPORT_SCHEMA, (v) => keys.pseudonym(v));
      assert.ok(!JSON.stringify(out.record).includes(`op ${name}`));
      for (const field of Object.keys(out.record)) assert.ok(Object.hasOwn(DEFAULT_EXPORT_SCHEMA.fields, field), field);
    }),
    { numRuns: 1000 },
  );
  keys.close();
});

function harness(stateDir: string) {
  const config = loadConfig();
  const spec = config.agents.find((a) => a.kind === 'data');
  assert.ok(spec);
  const audits: AuditRecordInput[] = [];
  const handlers: ((m: AgentMessage) => void)[] = [];
  const ctx: AgentContext = {
    spec, config, stateDir, logger: silentLogger(), endpoints: {},
    audit: (r) => audits.push(r),
    send: () => undefined,
    onMessage: (h) => handlers.push(h),
    publish: () => undefined,
    hold: () => undefined,
    clear: () => undefined,
    order: () => undefined,
  };
  const deliver = (body: unknown) => handlers.forEach((h) => h({ from: 'industrial-1', to: spec.name, topic: EXPORT_TOPIC, body }));
  return { ctx, audits, deliver, behaviour: dataAgent(spec, config) };
}

test('GIVEN the Data Agent in the DMZ WHEN asked to export shift reports to the enterprise zone THEN they are delivered durably with pseudonyms, and the audit record holds counts only', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-data-'));
  const h = harness(stateDir);
  await h.behaviour.start(h.ctx);
  h.deliver({ to_zone: 'enterprise', records: [{ type: 'shift_report', asset: 'pump_1', produced_m3: 3, ...PERSON, secret: 'x' }] });
  await h.behaviour.stop();
  const lines = fs.readFileSync(path.join(stateDir, 'exports', 'enterprise.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 1);
  const out = JSON.parse(lines[0] as string);
  assert.match(out.operator_name, /^psn_/);
  assert.equal(out.secret, undefined);
  const file = fs.readFileSync(path.join(stateDir, 'exports', 'enterprise.jsonl'), 'utf8');
  for (const v of Object.values(PERSON)) assert.ok(!file.includes(v), `${v} leaked`);
  assert.deepEqual(h.audits, [{ type: 'data.export', from_zone: 'dmz', to_zone: 'enterprise', requested_by: 'industrial-1', records: 1, fields_dropped: 1, fields_pseudonymised: 3 }]);
  for (const v of Object.values(PERSON)) assert.ok(!JSON.stringify(h.audits).includes(v));
});

test('GIVEN an erasure request WHEN the subject is erased THEN its pseudonym can no longer be linked, and a new export gets a fresh pseudonym', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-data-'));
  const keys = openPseudonymiser({ stateDir });
  const before = keys.pseudonym('Ada Lovelace');
  assert.ok(keys.erase('Ada Lovelace'));
  assert.notEqual(keys.pseudonym('Ada Lovelace'), before);
  keys.close();
});

test('GIVEN a target zone without a data conduit (dmz to control) WHEN asked to export THEN GLM_ERR_DATA_NO_CONDUIT is audited and nothing is delivered', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-data-'));
  const h = harness(stateDir);
  await h.behaviour.start(h.ctx);
  h.deliver({ to_zone: 'control', records: [{ type: 'shift_report' }] });
  h.deliver({ to_zone: 'nowhere', records: [] });
  h.deliver({ records: 'not an array' });
  await h.behaviour.stop();
  assert.deepEqual(h.audits.map((a) => a.code), ['GLM_ERR_DATA_NO_CONDUIT', 'GLM_ERR_DATA_NO_CONDUIT', 'GLM_ERR_DATA_RECORD_INVALID']);
  assert.ok(!fs.existsSync(path.join(stateDir, 'exports', 'control.jsonl')));
});
