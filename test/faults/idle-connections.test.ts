/**
 * 500 idle connections against a zone's Modbus listener (the slot-exhaustion attack): the per-address budget refuses
 * most at once, the listener budget evicts connections that never sent an ADU, a normal client is still served, the
 * idle ones are closed after the first-frame timeout, and every refusal is counted and audited.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import { createMetrics } from '../../runtime/observability/metrics';
import { startRig } from '../industrial/helpers';
import { waitUntil } from './helpers';

function connect(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.on('error', () => undefined);
    s.once('connect', () => resolve(s));
    s.once('close', () => resolve(s));
  });
}

async function readWorks(port: number, localAddress: string): Promise<boolean> {
  const c = new ModbusTcpClient('127.0.0.1', port, 2000);
  try {
    await c.connect({ localAddress });
    const r = await c.readInputRegisters(1, 10, 1);
    return r.exception === 0;
  } catch {
    return false;
  } finally {
    c.close();
  }
}

test('GIVEN 500 idle connections from one address and then from 25 addresses WHEN a normal client connects THEN it is served, refusals are counted in glimmer_gateway_connections_refused_total and audited with GLM_ERR_MODBUS_CONNECTION_LIMIT, and idle ones close after the first-frame timeout', { timeout: 60000 }, async () => {
  const metrics = createMetrics();
  const rig = await startRig({ limits: { firstFrameTimeoutMs: 3000 }, metrics });
  const port = rig.ports.operations as number;
  const sockets: net.Socket[] = [];
  try {
    // One host opens 500: 16 are admitted, the rest refused at once.
    for (let i = 0; i < 500; i++) sockets.push(await connect(port, '127.0.0.2'));
    await waitUntil('the refusals to close the sockets', () => sockets.filter((s) => !s.destroyed && !s.closed).length <= 16);
    assert.equal(await readWorks(port, '127.0.0.1'), true, 'a normal client from another address is served');
    // 25 hosts open 12 each (300 > the listener's 256): the oldest silent connections are evicted for new ones.
    for (let h = 0; h < 25; h++) for (let i = 0; i < 12; i++) sockets.push(await connect(port, `127.0.1.${h + 1}`));
    assert.equal(await readWorks(port, '127.0.0.1'), true, 'a normal client is served with the listener full of silent connections');
    const refused = await metrics.gatewayConnectionsRefused.get();
    const byReason = Object.fromEntries(refused.values.map((v) => [v.labels.reason, v.value]));
    assert.ok((byReason.source_limit ?? 0) >= 484, JSON.stringify(byReason));
    assert.ok((byReason.evicted ?? 0) >= 1, JSON.stringify(byReason));
    rig.gateway.inspector.audit.flush();
    const audited = rig.audit.filter((r) => r.code === 'GLM_ERR_MODBUS_CONNECTION_LIMIT');
    assert.ok(audited.length >= 484 && audited.every((r) => r.reason === 'connection' && r.decision === 'deny' && r.peer !== ''));
    // Silent connections are closed after the first-frame timeout.
    await waitUntil('the silent connections to time out', () => sockets.every((s) => s.destroyed || s.closed), 10000);
  } finally {
    for (const s of sockets) s.destroy();
    await rig.stop();
  }
});
