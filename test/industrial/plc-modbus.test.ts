/**
 * The simulated PLC on a Unix socket (how the embedded plant runs it): a socket left by a killed runtime is replaced,
 * anything else at the path is refused and left alone, a path too long for a socket is refused, and the embedded
 * plant moves its socket to a private temporary directory when the state dir's path is too long.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isGlimmerError } from '../../runtime/errors';
import { plcSocketPath } from '../../runtime/industrial/embedded';
import { Upstream } from '../../runtime/industrial/modbus/upstream';
import { MAX_SOCKET_PATH_BYTES, startSimulatedPlc } from '../../runtime/industrial/plant/plc-modbus';
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import { newDecodedRequest } from '../../runtime/industrial/modbus/frame';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-plc-sock-'));
}

/** A process that listens on `socketPath` and is then killed with SIGKILL: its socket file stays behind. */
async function staleSocket(socketPath: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('up'))", socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

test('GIVEN a socket left by a killed process at the PLC path WHEN the simulated PLC starts there THEN it replaces it, makes the directory 0700 and the socket 0600, and the gateway\'s upstream reads through it', { timeout: 30_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'run', 'plc-modbus.sock');
  fs.mkdirSync(path.dirname(socketPath), { mode: 0o755 });
  await staleSocket(socketPath);
  assert.ok(fs.lstatSync(socketPath).isSocket(), 'the killed process left its socket');

  const plant = new PlantRuntime({ seed: 42, tickMs: 100 });
  const plc = await startSimulatedPlc({ plant, path: socketPath });
  t.after(async () => { await plc.close(); plant.stop(); });
  assert.equal(plc.port, 0, 'no TCP port');
  assert.equal(plc.path, socketPath);
  assert.equal(fs.statSync(path.dirname(socketPath)).mode & 0o777, 0o700);
  assert.equal(fs.statSync(socketPath).mode & 0o777, 0o600);

  const upstream = new Upstream({ name: 'plc-1', host: '127.0.0.1', port: 0, path: socketPath });
  upstream.start();
  t.after(() => upstream.stop());
  assert.ok(await upstream.waitConnected(5000), 'the upstream connects over the socket');
  const req = Object.assign(newDecodedRequest(), { unitId: 1, functionCode: 4, table: 2, address: 0, quantity: 2 });
  const answer = await new Promise<{ pdu: Buffer | null; exception: number }>((resolve) => upstream.send(req, Buffer.alloc(12), (pdu, exception) => resolve({ pdu, exception })));
  assert.equal(answer.exception, 0);
  assert.equal(answer.pdu?.[1], 4, 'two input registers (4 bytes) read from the PLC');
});

test('GIVEN a regular file at the PLC socket path WHEN the simulated PLC starts THEN it refuses with GLM_ERR_MODBUS_CONFIG_INVALID naming the path and leaves the file', async (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'plc-modbus.sock');
  fs.writeFileSync(socketPath, 'not a socket');
  const plant = new PlantRuntime({ seed: 42, tickMs: 100 });
  await assert.rejects(startSimulatedPlc({ plant, path: socketPath }), (err) => isGlimmerError(err) && err.code === 'GLM_ERR_MODBUS_CONFIG_INVALID' && err.message.includes(socketPath) && /not a socket/.test(err.message));
  assert.equal(fs.readFileSync(socketPath, 'utf8'), 'not a socket');
});

test('GIVEN a socket path longer than Linux allows WHEN the simulated PLC starts THEN it refuses with GLM_ERR_MODBUS_CONFIG_INVALID; the embedded plant puts its socket in a private temporary directory instead', async (t) => {
  const plant = new PlantRuntime({ seed: 42, tickMs: 100 });
  const long = path.join(os.tmpdir(), 'x'.repeat(MAX_SOCKET_PATH_BYTES), 'plc-modbus.sock');
  await assert.rejects(startSimulatedPlc({ plant, path: long }), (err) => isGlimmerError(err) && err.code === 'GLM_ERR_MODBUS_CONFIG_INVALID' && /longer than 107 bytes/.test(err.message));

  const longState = path.join(os.tmpdir(), 's'.repeat(100));
  const socket = plcSocketPath(longState);
  t.after(() => socket.remove());
  assert.ok(Buffer.byteLength(socket.path) <= MAX_SOCKET_PATH_BYTES, socket.path);
  assert.ok(path.dirname(socket.path).startsWith(path.join(os.tmpdir(), 'glimmer-plc-')), socket.path);
  assert.equal(fs.statSync(path.dirname(socket.path)).mode & 0o777, 0o700, 'the private directory is the runtime user\'s only');
  const plc = await startSimulatedPlc({ plant, path: socket.path });
  await plc.close();
  socket.remove();
  assert.ok(!fs.existsSync(path.dirname(socket.path)), 'removed with the plant');
  assert.equal(plcSocketPath('/var/lib/glimmer').path, '/var/lib/glimmer/run/plc-modbus.sock', 'a short state dir keeps the socket inside it');
});
