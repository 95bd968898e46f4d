/**
 * The embedded plant composes its write decision (runtime/industrial/write-decision.ts) on its own simulator's image:
 * a real level trip on the simulated safety PLC makes the gateway refuse safety writes away from the safe state, while
 * tripping the emergency stop still goes through. (Unknown safety states are covered for both plant modes in
 * write-decision.test.ts and, against a real unreachable safety PLC, in external-plant.test.ts.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../runtime/config/load';
import { startEmbeddedPlant, type EmbeddedPlant } from '../../runtime/industrial/embedded';
import type { GatewayAuditRecord } from '../../runtime/industrial/modbus/inspector';
import { ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import { silentLogger } from '../../runtime/observability/logger';
import type { AuditRecordInput } from '../../runtime/model/messages';
import { freePort, until } from './helpers';

let dir: string;
let embedded: EmbeddedPlant;
const audit: AuditRecordInput[] = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-embedded-wd-'));
  // A policy that allows every write, so what refuses below is the plant's own interlock steps.
  embedded = await startEmbeddedPlant({ config: loadConfig(), stateDir: dir, logger: silentLogger(), audit: (b) => audit.push(...b), policy: () => ({ allow: true }), modbusPort: 0, opcuaPort: await freePort() });
});
after(async () => {
  await embedded.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const tripped = () => { const s = embedded.plant.snapshot.assets.safety_1; return s?.kind === 'safety' && s.interlock_tripped; };

test('GIVEN the embedded plant with a policy that allows everything WHEN tank_1 trips its high-high level interlock THEN resetting the emergency stop and bypassing the interlock are refused by interlock (01), and tripping the emergency stop passes', async () => {
  const [host, port] = (embedded.endpoints.modbus_safety as string).split(':') as [string, string];
  const c = new ModbusTcpClient(host, Number(port));
  await c.connect();
  try {
    assert.equal(tripped(), false);
    assert.equal((await c.writeCoil(2, 0, false)).exception, 0, 'untripped: a reset passes');
    // tank_1 sits at about 1.2 m: a 0.5 m high-high setpoint (raw 500, scale 1000) trips the interlock at once.
    assert.equal((await c.writeRegister(2, 0, 500)).exception, 0);
    assert.ok(await until(() => tripped(), 5000), 'the simulated safety PLC trips');
    assert.equal((await c.writeCoil(2, 0, false)).exception, 0x01, 'reset refused while tripped');
    assert.equal((await c.writeCoil(2, 1, true)).exception, 0x01, 'bypass refused while tripped');
    assert.equal((await c.writeRegister(2, 0, 4000)).exception, 0x01, 'moving the setpoint away refused while tripped');
    assert.equal((await c.writeCoil(2, 0, true)).exception, 0, 'the fail-safe direction passes');
    assert.ok(await until(() => audit.filter((r) => (r as GatewayAuditRecord).reason === 'interlock').length >= 3, 2000), 'the refusals are audited with reason interlock');
  } finally {
    c.close();
  }
});
