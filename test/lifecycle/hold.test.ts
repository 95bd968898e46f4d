/**
 * Safety holds (runtime/lifecycle/hold.ts) on the real lifecycle state machine: a hold or clearance refused because
 * another transition is running is logged, audited and retried; one that keeps failing is escalated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { requestHold } from '../../runtime/lifecycle/hold';
import { StateMachine } from '../../runtime/lifecycle/state-machine';
import type { AuditRecordInput } from '../../runtime/model/messages';

/** A logger whose lines are kept, parsed. */
function capturingLogger(): { logger: pino.Logger; lines: { level: number; msg: string; code?: string }[] } {
  const lines: { level: number; msg: string; code?: string }[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l)); done(); } });
  return { logger: pino({ level: 'info' }, sink), lines };
}

async function activeMachine(): Promise<StateMachine> {
  const m = new StateMachine('industrial-1');
  await m.transition('BOOTSTRAPPING', 'boot');
  await m.transition('ACTIVE', 'resources allocated');
  return m;
}

test('GIVEN a clearance still running (PAUSED -> ACTIVE hooks in progress) WHEN a safety hold arrives THEN it is refused, logged and audited, retried, and the agent ends PAUSED', async () => {
  const m = await activeMachine();
  await m.transition('PAUSED', 'first hold');
  let release!: () => void;
  m.onEnter('ACTIVE', () => new Promise<void>((r) => { release = r; }));
  const clearance = m.transition('ACTIVE', 'clearance');
  const { logger, lines } = capturingLogger();
  const audit: AuditRecordInput[] = [];
  let escalated = '';
  const hold = requestHold({ machine: m, logger, audit: (r) => audit.push(r), retryMs: 20, escalate: async (why) => { escalated = why; } }, 'ACTIVE', 'PAUSED', 'anomaly on pump_1');
  setTimeout(() => release(), 30);
  await clearance;
  assert.equal(await hold, 'applied');
  assert.equal(m.state, 'PAUSED');
  assert.equal(escalated, '');
  assert.ok(audit.length >= 1);
  assert.deepEqual({ ...audit[0] }, { type: 'agent.transition_refused', agent: 'industrial-1', from: 'ACTIVE', to: 'PAUSED', reason: 'anomaly on pump_1', code: 'GLM_ERR_LIFECYCLE_ILLEGAL_TRANSITION', attempt: 1, attempts: 4, next: 'retry' });
  assert.ok(lines.some((l) => l.msg.startsWith('hold refused; retry') && l.code === 'GLM_ERR_LIFECYCLE_ILLEGAL_TRANSITION'));
});

test('GIVEN a pause hook that keeps failing WHEN a safety hold is requested THEN every attempt is audited and the hold is escalated (the agent terminates)', async () => {
  const m = await activeMachine();
  m.onEnter('PAUSED', () => { throw new Error('PLC session will not close'); });
  const { logger, lines } = capturingLogger();
  const audit: AuditRecordInput[] = [];
  let escalated = '';
  const outcome = await requestHold({ machine: m, logger, audit: (r) => audit.push(r), attempts: 3, retryMs: 5, escalate: async (why) => { escalated = why; } }, 'ACTIVE', 'PAUSED', 'anomaly on pump_1');
  assert.equal(outcome, 'escalated');
  assert.equal(m.state, 'ACTIVE', 'the machine itself could not leave ACTIVE');
  assert.deepEqual(audit.map((r) => [r.attempt, r.next, r.code]), [[1, 'retry', 'GLM_ERR_LIFECYCLE_HOOK_FAILED'], [2, 'retry', 'GLM_ERR_LIFECYCLE_HOOK_FAILED'], [3, 'escalated', 'GLM_ERR_LIFECYCLE_HOOK_FAILED']]);
  assert.match(escalated, /^safety hold could not be applied \(GLM_ERR_LIFECYCLE_HOOK_FAILED\): anomaly on pump_1$/);
  assert.equal(lines.filter((l) => l.level === 50).length, 1, 'one error line, at escalation');
});

test('GIVEN a resume hook that keeps failing WHEN a clearance is requested THEN it is audited and escalated by staying PAUSED (no termination)', async () => {
  const m = await activeMachine();
  await m.transition('PAUSED', 'hold');
  m.onEnter('ACTIVE', () => { throw new Error('OPC UA session refused'); });
  const audit: AuditRecordInput[] = [];
  let escalated = false;
  const outcome = await requestHold({ machine: m, logger: capturingLogger().logger, audit: (r) => audit.push(r), attempts: 2, retryMs: 5, escalate: async () => { escalated = true; } }, 'PAUSED', 'ACTIVE', 'clearance');
  assert.equal(outcome, 'escalated');
  assert.equal(m.state, 'PAUSED');
  assert.equal(escalated, false);
  assert.equal(audit.at(-1)?.next, 'escalated');
});

test('GIVEN an agent already PAUSED or stopping WHEN a hold or clearance is requested THEN nothing is attempted and nothing is audited', async () => {
  const m = await activeMachine();
  await m.transition('PAUSED', 'hold');
  const audit: AuditRecordInput[] = [];
  const opts = { machine: m, logger: capturingLogger().logger, audit: (r: AuditRecordInput) => audit.push(r), escalate: async () => undefined };
  assert.equal(await requestHold(opts, 'ACTIVE', 'PAUSED', 'second hold'), 'not-needed');
  assert.equal(await requestHold(opts, 'PAUSED', 'ACTIVE', 'clearance', () => true), 'not-needed');
  assert.equal(m.state, 'PAUSED');
  assert.deepEqual(audit, []);
});
