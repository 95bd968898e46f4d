/**
 * Control follows evidence, on a real audit log on a real (tmpfs) file system that fills up: an allowed write reaches
 * the PLC only after its decision record is durable; while the log cannot commit, every write is refused (exception
 * 04, GLM_ERR_MODBUS_AUDIT_UNAVAILABLE) except those that move the plant to its safe state (tripping the emergency
 * stop, stopping a pump); once space returns, writes go through again without a restart.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { openAuditLog } from '../../runtime/audit/log';
import { fileSigner } from '../../runtime/audit/signers';
import { ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import type { GatewayAuditRecord } from '../../runtime/industrial/modbus/inspector';
import { failSafeOnly } from '../../runtime/industrial/write-decision';
import { startRig } from '../industrial/helpers';
import { smallDisk, waitUntil } from './helpers';

test('GIVEN the gateway with write-ahead audit on a disk that fills WHEN writes arrive THEN a forwarded write is durable first, a process write is refused with exception 04 while the log cannot commit, the emergency stop trip and a pump stop still go through, and writes recover when space returns', { timeout: 120000 }, async () => {
  const disk = smallDisk(24);
  const log = await openAuditLog({ stateDir: path.join(disk.dir, 'state'), signer: fileSigner({ keyFile: path.join(disk.dir, 'k.pem'), keyName: 'fault.test' }), origin: 'fault.test', recoveryIntervalMs: 100 });
  const durable: GatewayAuditRecord[] = [];
  const rig = await startRig({
    decide: failSafeOnly,
    evidence: {
      committing: () => log.health().committing,
      commit: async (r) => {
        await log.append(r);
        durable.push(r);
      },
    },
  });
  const ops = new ModbusTcpClient('127.0.0.1', rig.ports.operations as number, 3000);
  const control = new ModbusTcpClient('127.0.0.1', rig.ports.control as number, 3000);
  try {
    await ops.connect();
    await control.connect();
    const setpoint = () => (rig.plant.sim.snapshot().assets.pump_2 as { speed_setpoint_pct: number }).speed_setpoint_pct;
    // 1. Healthy: the write's record is durable by the time the client has its answer.
    const before = log.size();
    assert.equal((await ops.writeRegister(1, 1, 800)).exception, 0);
    assert.equal(setpoint(), 80);
    assert.equal(durable.length, 1);
    assert.equal(log.size(), before + 1);
    assert.equal((JSON.parse(log.entries(before, before)[0]!.leaf.toString('utf8')) as { record: GatewayAuditRecord }).record.decision, 'allow');

    // 2. The disk fills and the log fails closed.
    disk.fill(16 * 1024);
    const payload = 'x'.repeat(4000);
    for (let i = 0; i < 5000 && log.health().committing; i++) await log.append({ type: 'filler', payload }).catch(() => undefined);
    assert.equal(log.health().committing, false);
    const refused = await ops.writeRegister(1, 1, 370);
    assert.equal(refused.exception, 0x04, 'exception 04: server device failure');
    assert.equal(setpoint(), 80, 'the setpoint did not change');
    rig.gateway.inspector.audit.flush();
    assert.ok(rig.audit.some((r) => r.code === 'GLM_ERR_MODBUS_AUDIT_UNAVAILABLE' && r.reason === 'audit'));
    // The fail-safe direction is never refused for want of evidence.
    assert.equal((await ops.writeCoil(1, 1, false)).exception, 0, 'stopping pump 2');
    assert.equal((await control.writeCoil(2, 0, true)).exception, 0, 'tripping the emergency stop');
    await waitUntil('the emergency stop to trip', () => (rig.plant.sim.snapshot().assets.safety_1 as { emergency_stop: boolean }).emergency_stop === true, 3000);
    // Resetting the emergency stop moves away from the safe state: refused.
    assert.notEqual((await control.writeCoil(2, 0, false)).exception, 0);

    // 3. Space returns: writes go through again, each durable first.
    disk.free();
    await waitUntil('the audit log to commit again', () => log.health().committing, 10000);
    assert.equal((await ops.writeRegister(1, 1, 550)).exception, 0);
    assert.equal(setpoint(), 55);
    assert.equal(durable.at(-1)?.decision, 'allow');
  } finally {
    ops.close();
    control.close();
    await rig.stop();
    await log.close();
    disk.remove();
  }
});
