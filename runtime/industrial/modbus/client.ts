/**
 * A small pipelined Modbus/TCP client (ours): many requests in flight on one connection, matched by transaction id.
 * Used by the Industrial Agent (commands through the gateway), the benchmark and the tests.
 */
import net from 'node:net';
import { GlimmerError } from '../../errors';
import { adu, checkFrame, FRAME, frameLength, requestPdu } from './frame';

export interface ModbusResponse {
  /** The response PDU (function code first). */
  readonly pdu: Buffer;
  /** The exception code when the response is an exception (function | 0x80), else 0. */
  readonly exception: number;
  /** The MBAP transaction id the request went out with (the gateway audits it with the client's source port). */
  readonly transaction: number;
}

export class ModbusTcpClient {
  private socket: net.Socket | undefined;
  private nextTid = 1;
  private readonly pending = new Map<number, { resolve: (r: ModbusResponse) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | undefined }>();
  private buffer: Buffer = Buffer.alloc(0);
  closed = false;

  constructor(private readonly host: string, private readonly port: number, private readonly timeoutMs = 2000) {}

  /** This end's TCP source port (0 before connecting). */
  get localPort(): number {
    return this.socket?.localPort ?? 0;
  }

  connect(options: { localAddress?: string } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port, noDelay: true, ...options }, () => resolve());
      this.socket = socket;
      socket.once('error', reject);
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('close', () => this.fail(new GlimmerError('GLM_ERR_MODBUS_UPSTREAM_UNAVAILABLE', `connection to ${this.host}:${this.port} closed`)));
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    let off = 0;
    while (checkFrame(this.buffer, off, this.buffer.length) === FRAME.OK) {
      const len = frameLength(this.buffer, off);
      const tid = this.buffer.readUInt16BE(off);
      const pdu = Buffer.from(this.buffer.subarray(off + 7, off + len));
      off += len;
      const p = this.pending.get(tid);
      if (!p) continue;
      this.pending.delete(tid);
      if (p.timer) clearTimeout(p.timer);
      p.resolve({ pdu, exception: (pdu[0] as number) & 0x80 ? (pdu[1] as number) : 0, transaction: tid });
    }
    this.buffer = off >= this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(off);
  }

  private fail(err: Error): void {
    this.closed = true;
    for (const p of this.pending.values()) { if (p.timer) clearTimeout(p.timer); p.reject(err); }
    this.pending.clear();
  }

  /** Sends one request PDU to a unit; resolves with the response (exceptions included, not thrown). */
  request(unitId: number, pdu: Buffer, options: { timeout?: boolean } = {}): Promise<ModbusResponse> {
    const socket = this.socket;
    if (!socket || this.closed) return Promise.reject(new GlimmerError('GLM_ERR_MODBUS_UPSTREAM_UNAVAILABLE', `not connected to ${this.host}:${this.port}`));
    let tid = this.nextTid;
    this.nextTid = (this.nextTid + 1) & 0xffff;
    while (this.pending.has(tid)) { tid = this.nextTid; this.nextTid = (this.nextTid + 1) & 0xffff; }
    return new Promise((resolve, reject) => {
      const timer = options.timeout === false ? undefined : setTimeout(() => {
        this.pending.delete(tid);
        reject(new GlimmerError('GLM_ERR_MODBUS_UPSTREAM_TIMEOUT', `no answer from ${this.host}:${this.port} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(tid, { resolve, reject, timer });
      socket.write(adu(tid, unitId, pdu));
    });
  }

  readCoils(unitId: number, address: number, quantity: number) { return this.request(unitId, requestPdu.read(1, address, quantity)); }
  readDiscreteInputs(unitId: number, address: number, quantity: number) { return this.request(unitId, requestPdu.read(2, address, quantity)); }
  readHoldingRegisters(unitId: number, address: number, quantity: number) { return this.request(unitId, requestPdu.read(3, address, quantity)); }
  readInputRegisters(unitId: number, address: number, quantity: number) { return this.request(unitId, requestPdu.read(4, address, quantity)); }
  writeCoil(unitId: number, address: number, on: boolean) { return this.request(unitId, requestPdu.writeCoil(address, on)); }
  writeRegister(unitId: number, address: number, value: number) { return this.request(unitId, requestPdu.writeRegister(address, value)); }

  /** Sends raw bytes (tests: malformed frames). */
  writeRaw(bytes: Buffer): void { this.socket?.write(bytes); }

  close(): void { this.socket?.destroy(); this.closed = true; }
}

/** Register words of a read response PDU (function 3 or 4). */
export function registers(pdu: Buffer): number[] {
  const n = (pdu[1] as number) / 2;
  return Array.from({ length: n }, (_, i) => pdu.readUInt16BE(2 + 2 * i));
}

/** Bits of a read response PDU (function 1 or 2), `quantity` of them. */
export function bits(pdu: Buffer, quantity: number): boolean[] {
  return Array.from({ length: quantity }, (_, i) => (((pdu[2 + (i >> 3)] as number) >> (i & 7)) & 1) === 1);
}
