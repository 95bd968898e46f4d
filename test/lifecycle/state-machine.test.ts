import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isGlimmerError } from '../../runtime/errors';
import { StateMachine, type Transition } from '../../runtime/lifecycle/state-machine';
import { STATES, TRANSITIONS } from '../../runtime/lifecycle/states';

test('GIVEN a new agent WHEN it boots, activates, pauses, resumes, pauses and terminates THEN every transition is reported in order', async () => {
  const seen: Transition[] = [];
  const m = new StateMachine('a1').onTransition((t) => seen.push(t));
  assert.equal(m.state, 'INIT');
  for (const to of ['BOOTSTRAPPING', 'ACTIVE', 'PAUSED', 'ACTIVE', 'PAUSED', 'TERMINATED'] as const) await m.transition(to, `to ${to}`);
  assert.equal(m.state, 'TERMINATED');
  assert.deepEqual(seen.map((t) => `${t.from}>${t.to}`), ['INIT>BOOTSTRAPPING', 'BOOTSTRAPPING>ACTIVE', 'ACTIVE>PAUSED', 'PAUSED>ACTIVE', 'ACTIVE>PAUSED', 'PAUSED>TERMINATED']);
  assert.ok(seen.every((t) => t.agent === 'a1' && !Number.isNaN(Date.parse(t.at))));
});

test('GIVEN every pair of states WHEN a transition is not in the seed table THEN it is refused with GLM_ERR_LIFECYCLE_ILLEGAL_TRANSITION and the state is unchanged', async () => {
  const path = { INIT: [], BOOTSTRAPPING: ['BOOTSTRAPPING'], ACTIVE: ['BOOTSTRAPPING', 'ACTIVE'], PAUSED: ['BOOTSTRAPPING', 'ACTIVE', 'PAUSED'], TERMINATED: ['TERMINATED'] } as const;
  let refusals = 0;
  for (const from of STATES) {
    for (const to of STATES) {
      if (TRANSITIONS[from][to] !== undefined) continue;
      const m = new StateMachine('a');
      for (const step of path[from]) await m.transition(step, 'setup');
      await assert.rejects(m.transition(to, 'illegal'), (err) => isGlimmerError(err, 'GLM_ERR_LIFECYCLE_ILLEGAL_TRANSITION') && err.message.includes(`${from} -> ${to}`));
      assert.equal(m.state, from);
      refusals += 1;
    }
  }
  assert.equal(refusals, 25 - 7);
});

test('GIVEN the seed table THEN ACTIVE cannot jump to TERMINATED without draining through PAUSED', () => {
  assert.equal(TRANSITIONS.ACTIVE.TERMINATED, undefined);
  assert.equal(TRANSITIONS.PAUSED.TERMINATED, 'audit_compliance');
  assert.equal(TRANSITIONS.INIT.BOOTSTRAPPING, 'cert_validation');
  assert.equal(TRANSITIONS.BOOTSTRAPPING.ACTIVE, 'resource_allocation');
  assert.equal(TRANSITIONS.ACTIVE.PAUSED, 'policy_check');
});

test('GIVEN a hook that fails with a coded error WHEN the transition runs THEN it is refused with that code, the state stays, and no transition is reported', async () => {
  const seen: Transition[] = [];
  const { GlimmerError } = await import('../../runtime/errors');
  const m = new StateMachine('a').onTransition((t) => seen.push(t));
  m.onEnter('BOOTSTRAPPING', () => {
    throw new GlimmerError('GLM_ERR_CERT_EXPIRED', 'expired');
  });
  await assert.rejects(m.transition('BOOTSTRAPPING', 'boot'), (err) => isGlimmerError(err, 'GLM_ERR_CERT_EXPIRED'));
  assert.equal(m.state, 'INIT');
  assert.equal(seen.length, 0);
});

test('GIVEN a hook that throws a plain error WHEN the transition runs THEN it is refused as GLM_ERR_LIFECYCLE_HOOK_FAILED', async () => {
  const m = new StateMachine('a');
  m.onEnter('BOOTSTRAPPING', () => {
    throw new Error('disk on fire');
  });
  await assert.rejects(m.transition('BOOTSTRAPPING', 'boot'), (err) => isGlimmerError(err, 'GLM_ERR_LIFECYCLE_HOOK_FAILED'));
});

test('GIVEN a transition in progress WHEN another is requested THEN the second is refused', async () => {
  const m = new StateMachine('a');
  let release!: () => void;
  m.onEnter('BOOTSTRAPPING', () => new Promise<void>((r) => (release = r)));
  const first = m.transition('BOOTSTRAPPING', 'boot');
  await assert.rejects(m.transition('TERMINATED', 'abort'), (err) => isGlimmerError(err, 'GLM_ERR_LIFECYCLE_ILLEGAL_TRANSITION'));
  release();
  await first;
  assert.equal(m.state, 'BOOTSTRAPPING');
});
