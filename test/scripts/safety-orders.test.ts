import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countSafetyOrders } from '../../scripts/safety-orders';

const decision = (id: string, rule: string, noAction: unknown[] = []) => ({ type: 'cognitive.decision', decision_id: id, fired: [{ rule, bindings: {} }], no_action: noAction });
const write = (port: number, tid: number) => ({ type: 'modbus.decision', decision: 'allow', function_code: 5, peer_port: port, transaction: tid });

test('GIVEN an audit log with one acknowledged order, one re-sent after a timeout and a detection without action WHEN counted THEN each order has its sends, its joined gateway writes and its acknowledgement, and every allowed write is counted', () => {
  const c = countSafetyOrders([
    { type: 'plant.fault.injected', asset: 'pump_2', fault: 'leak', by: 'fault_schedule' },
    decision('d1', 'leak_containment'), decision('d0', 'asset_risk_treatment', [{ asset: 'tank_1', reason: 'redundancy' }]),
    { type: 'safety.order', decision_id: 'd1', target: 'pump_2', attempt: 1 },
    { type: 'industrial.shutdown', decision_id: 'd1', outcome: 'executed', modbus: { zone: 'control', peer_port: 40000, transaction: 7 } },
    write(40000, 7), write(40000, 8), write(40001, 7),
    { type: 'safety.order_acked', decision_id: 'd1', outcome: 'executed', plc_after: { signal: 'pump_2.run', value: false, at_ms: 1 } },
    decision('d2', 'overpressure_protection'),
    { type: 'safety.order', decision_id: 'd2', target: 'pump_1', attempt: 1 },
    { type: 'safety.order_timeout', decision_id: 'd2' },
    { type: 'safety.order', decision_id: 'd2', target: 'pump_1', attempt: 2 },
    { type: 'industrial.shutdown', decision_id: 'd2', outcome: 'failed', modbus: null },
    { type: 'modbus.decision', decision: 'allow', function_code: 3, peer_port: 1, transaction: 1 },
  ]);
  assert.deepEqual(c.faults, [{ asset: 'pump_2', fault: 'leak', by: 'fault_schedule' }]);
  assert.deepEqual(c.no_action, [{ asset: 'tank_1', reason: 'redundancy' }]);
  assert.deepEqual(c.orders.map((o) => [o.decision_id, o.target, o.rules, o.sends, o.gateway_writes, o.acknowledged]), [['d1', 'pump_2', ['leak_containment'], 1, 1, 'executed'], ['d2', 'pump_1', ['overpressure_protection'], 2, 0, null]]);
  assert.equal(c.gateway_writes_allowed, 3, 'writes only, by anyone');
  assert.equal(c.ack_timeouts, 1);
});
