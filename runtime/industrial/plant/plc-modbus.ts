/**
 * The simulated PLC's Modbus/TCP face: serves the plant's process image (units 1 and 2 of the address map).
 * It is strict too (the same frame checks as the gateway): a bad MBAP header closes the connection; unknown unit ids
 * are ignored, as a device on a shared line would.
 *
 * Where it listens: the runtime's embedded plant puts it on a Unix socket (`path`) in a directory only the runtime's
 * user may enter, so nothing reaches it around the gateway: no TCP port exists to connect to, from this host or another.
 * A TCP port (`port`, `host`) is for tests and benchmarks that stand it in for a real PLC on the network.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { GlimmerError, isGlimmerError, quote } from '../../errors';
import { adu, checkFrame, decodeRequest, EX, exceptionAdu, FRAME, frameLength, newDecodedRequest, TABLE_NAMES, writtenValue } from '../modbus/frame';
import type { PlantRuntime } from './runtime';

export interface SimulatedPlc {
  /** The TCP port; 0 when it listens on a Unix socket. */
  readonly port: number;
  /** The Unix socket it listens on, if any. */
  readonly path: string | undefined;
  /** Closes the listener and every connection (a PLC "killed"). */
  close(): Promise<void>;
}

/**
 * Longest Unix socket path Linux accepts (sun_path holds 108 bytes with the terminating NUL).
 */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * Prepares a Unix socket path: its directory (created if needed) is made mode 0700, so only this user (and root) can
 * connect, and a socket left by a killed process is removed. Anything else at the path is refused, never deleted.
 */
function prepareSocketPath(socketPath: string): void {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) throw new GlimmerError('GLM_ERR_MODBUS_CONFIG_INVALID', `PLC socket path ${quote(socketPath)} is longer than ${MAX_SOCKET_PATH_BYTES} bytes`);
  const dir = path.dirname(socketPath);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.lstatSync(socketPath);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new GlimmerError('GLM_ERR_MODBUS_CONFIG_INVALID', `PLC socket path ${quote(socketPath)} exists and is not a socket`);
  fs.unlinkSync(socketPath);
}

export async function startSimulatedPlc(options: { plant: PlantRuntime; port?: number; host?: string; path?: string; unitIds?: readonly number[] }): Promise<SimulatedPlc> {
  const { plant } = options;
  const units = new Set(options.unitIds ?? [1, 2]);
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const req = newDecodedRequest();
    let pending: Buffer | null = null;
    socket.on('data', (chunk: Buffer) => {
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = null;
      let off = 0;
      const out: Buffer[] = [];
      while (off < buf.length) {
        const st = checkFrame(buf, off, buf.length);
        if (st === FRAME.NEED_MORE) break;
        if (st !== FRAME.OK) { socket.destroy(); return; }
        const len = frameLength(buf, off);
        const reply = serve(plant, units, buf, off, req);
        if (reply) out.push(reply);
        off += len;
      }
      if (off < buf.length) {
        if (buf.length - off > 260) { socket.destroy(); return; }
        pending = Buffer.from(buf.subarray(off));
      }
      if (out.length === 1) socket.write(out[0] as Buffer);
      else if (out.length > 1) socket.write(Buffer.concat(out));
    });
  });
  const socketPath = options.path;
  if (socketPath !== undefined) prepareSocketPath(socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (socketPath !== undefined) server.listen(socketPath, () => resolve());
    else server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  if (socketPath !== undefined) fs.chmodSync(socketPath, 0o600);
  return {
    port: socketPath === undefined ? (server.address() as net.AddressInfo).port : 0,
    path: socketPath,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

function serve(plant: PlantRuntime, units: Set<number>, buf: Buffer, off: number, req: ReturnType<typeof newDecodedRequest>): Buffer | undefined {
  const ex = decodeRequest(buf, off, req);
  if (!units.has(req.unitId)) return undefined;
  if (ex !== 0) return exceptionAdu(req.transactionId, req.unitId, req.functionCode, ex);
  const table = TABLE_NAMES[req.table] as (typeof TABLE_NAMES)[number];
  const entries = plant.table(req.unitId, table);
  if (!entries || req.address + req.quantity > entries.length) return exceptionAdu(req.transactionId, req.unitId, req.functionCode, EX.ILLEGAL_DATA_ADDRESS);
  if (!req.write) {
    const raw = plant.readRaw(req.unitId, table, req.address, req.quantity);
    if (!raw) return exceptionAdu(req.transactionId, req.unitId, req.functionCode, EX.ILLEGAL_DATA_ADDRESS);
    let pdu: Buffer;
    if (req.table <= 1) {
      const n = (req.quantity + 7) >> 3;
      pdu = Buffer.alloc(2 + n);
      raw.forEach((bit, i) => { if (bit) pdu[2 + (i >> 3)] = (pdu[2 + (i >> 3)] as number) | (1 << (i & 7)); });
      pdu[1] = n;
    } else {
      pdu = Buffer.allocUnsafe(2 + 2 * req.quantity);
      pdu[1] = 2 * req.quantity;
      raw.forEach((w, i) => pdu.writeUInt16BE(w, 2 + 2 * i));
    }
    pdu[0] = req.functionCode;
    return adu(req.transactionId, req.unitId, pdu);
  }
  try {
    for (let i = 0; i < req.quantity; i++) {
      const e = entries[req.address + i];
      if (!e || e.writable_from.length === 0) return exceptionAdu(req.transactionId, req.unitId, req.functionCode, EX.ILLEGAL_DATA_ADDRESS);
    }
    for (let i = 0; i < req.quantity; i++) plant.writeRaw(entries[req.address + i]!, writtenValue(buf, req, i));
  } catch (err) {
    return exceptionAdu(req.transactionId, req.unitId, req.functionCode, isGlimmerError(err) ? EX.ILLEGAL_DATA_VALUE : EX.SERVER_DEVICE_FAILURE);
  }
  const pdu = Buffer.allocUnsafe(5);
  pdu[0] = req.functionCode;
  pdu.writeUInt16BE(req.address, 1);
  if (req.functionCode === 5 || req.functionCode === 6) pdu.writeUInt16BE(buf.readUInt16BE(req.valueOffset), 3);
  else pdu.writeUInt16BE(req.quantity, 3);
  return adu(req.transactionId, req.unitId, pdu);
}
