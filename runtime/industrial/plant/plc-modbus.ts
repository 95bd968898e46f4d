/**
 * The simulated PLC's Modbus/TCP face: serves the plant's process image (units 1 and 2 of the address map).
 * It sits behind the gateway on an internal loopback port. It is strict too (the same frame checks as the gateway):
 * a bad MBAP header closes the connection; unknown unit ids are ignored, as a device on a shared line would.
 */
import net from 'node:net';
import { isGlimmerError } from '../../errors';
import { adu, checkFrame, decodeRequest, EX, exceptionAdu, FRAME, frameLength, newDecodedRequest, TABLE_NAMES, writtenValue } from '../modbus/frame';
import type { PlantRuntime } from './runtime';

export interface SimulatedPlc {
  readonly port: number;
  /** Closes the listener and every connection (a PLC "killed"). */
  close(): Promise<void>;
}

export async function startSimulatedPlc(options: { plant: PlantRuntime; port?: number; host?: string; unitIds?: readonly number[] }): Promise<SimulatedPlc> {
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
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
