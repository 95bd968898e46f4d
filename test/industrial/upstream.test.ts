/**
 * The gateway's upstream PLC connection (runtime/industrial/modbus/upstream.ts) against PLCs that misbehave at the
 * TCP level. Real sockets on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Upstream } from '../../runtime/industrial/modbus/upstream';
import { adu, decodeRequest, newDecodedRequest, requestPdu } from '../../runtime/industrial/modbus/frame';
import { until } from './helpers';

test('GIVEN a PLC that resets the connection (RST) while a request is in flight WHEN the gateway sends THEN the request fails with 0B and the gateway reconnects', async (t) => {
  let accepted = 0;
  const plc = net.createServer((socket) => {
    accepted += 1;
    // A killed PLC process with a request unread: the kernel answers with a reset, not a FIN.
    socket.once('data', () => socket.resetAndDestroy());
  });
  await new Promise<void>((resolve) => plc.listen(0, '127.0.0.1', resolve));
  const upstream = new Upstream({ name: 'plc-reset', host: '127.0.0.1', port: (plc.address() as net.AddressInfo).port, timeoutMs: 500, backoff: { initialMs: 20, maxMs: 50 } });
  t.after(async () => {
    await upstream.stop();
    await new Promise((resolve) => plc.close(resolve));
  });
  upstream.start();
  assert.ok(await upstream.waitConnected(2000), 'connected');

  const frame = adu(1, 1, requestPdu.read(1, 0, 4));
  const req = newDecodedRequest();
  decodeRequest(frame, 0, req);
  const exception = await new Promise<number>((resolve) => upstream.send(req, frame, (_pdu, code) => resolve(code)));
  assert.equal(exception, 0x0b);
  assert.ok(await until(() => accepted >= 2, 3000), `the gateway reconnected after the reset (connections: ${accepted})`);
});
