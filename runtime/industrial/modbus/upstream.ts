/**
 * The gateway's connection to one upstream PLC (modbus-serial TCP client, callback API so requests pipeline by
 * transaction id). Reconnects with exponential backoff and jitter; requests while disconnected fail at once with
 * 0A (gateway path unavailable), requests the PLC does not answer in time or that were in flight when it went away
 * fail with 0B (gateway target device failed to respond). PLC exception responses pass through unchanged.
 */
import { Socket } from 'node:net';
import ModbusRTU from 'modbus-serial';
import type { Logger } from '../../observability/logger';
import type { Metrics } from '../../observability/metrics';
import { EX, FC, type DecodedRequest } from './frame';

export interface UpstreamOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** A PLC on this host behind a Unix socket (the embedded plant's simulated PLC): host and port are then unused. */
  readonly path?: string;
  /** Unit id to use towards the PLC. @default - the unit id of the request */
  readonly unitId?: number;
  /** Answer timeout per request. @default 1000 */
  readonly timeoutMs?: number;
  /** @default { initialMs: 100, maxMs: 5000 } */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Requests in flight towards the PLC (modbus-serial keys transactions by an 8-bit id). @default 200 */
  readonly maxInflight?: number;
}

/** Called once per request: a response PDU, or an exception code. */
export type UpstreamCallback = (pdu: Buffer | null, exception: number) => void;

interface Pending { settled: boolean; cb: UpstreamCallback }

type Client = InstanceType<typeof ModbusRTU>;
type Cb = (err: (Error & { modbusCode?: number; errno?: string }) | null, res: { buffer?: Buffer } | undefined) => void;

export class Upstream {
  readonly name: string;
  private client: Client | undefined;
  private connected = false;
  private corked = false;
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Pending>();
  private readonly timeoutMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly maxInflight: number;

  constructor(private readonly options: UpstreamOptions, private readonly logger?: Logger, private readonly metrics?: Metrics) {
    this.name = options.name;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.backoff = { ...(options.backoff ?? { initialMs: 100, maxMs: 5000 }) };
    this.maxInflight = options.maxInflight ?? 200;
  }

  get isConnected(): boolean { return this.connected; }
  get inflight(): number { return this.pending.size; }

  start(): void { this.stopped = false; this.connect(); }

  /** Resolves once connected (or after `ms`, whichever first). */
  async waitConnected(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (!this.connected && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return this.connected;
  }

  private connect(): void {
    if (this.stopped) return;
    const client = new ModbusRTU();
    this.client = client;
    client.setTimeout(this.timeoutMs);
    // modbus-serial hands its options to net.Socket#connect, which takes `path` for a Unix socket.
    const target = this.options.path === undefined ? { port: this.options.port } : ({ port: this.options.port, path: this.options.path } as { port: number });
    client.connectTCP(this.options.host, target).then(
      () => {
        if (this.stopped || this.client !== client) { client.close(() => undefined); return; }
        this.connected = true;
        this.attempt = 0;
        this.metrics?.plcUp.set({ plc: this.name }, 1);
        this.logger?.info({ plc: this.name, ...(this.options.path === undefined ? { port: this.options.port } : { path: this.options.path }) }, 'upstream PLC connected');
        client.on('close', () => this.lost(client));
        client.on('error', () => this.lost(client));
        // modbus-serial's TCP port swallows a socket error (a PLC reset mid-request: ECONNRESET) and then skips its
        // own 'close', so the socket's close is watched too: without it the gateway stayed "connected" to a dead PLC.
        socketOf(client)?.once('close', () => this.lost(client));
      },
      () => this.lost(client),
    );
  }

  private lost(client: Client): void {
    if (this.client !== client) return;
    const wasConnected = this.connected;
    this.connected = false;
    this.client = undefined;
    this.metrics?.plcUp.set({ plc: this.name }, 0);
    if (wasConnected) this.logger?.warn({ plc: this.name }, 'upstream PLC connection lost');
    destroyClient(client);
    for (const p of this.pending) this.settle(p, null, EX.GATEWAY_TARGET_FAILED);
    this.pending.clear();
    if (this.stopped) return;
    const base = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempt++);
    const delay = base / 2 + Math.random() * (base / 2);
    this.metrics?.gatewayUpstreamReconnects.inc({ plc: this.name });
    this.timer = setTimeout(() => this.connect(), delay);
    this.timer.unref();
  }

  private settle(p: Pending, pdu: Buffer | null, exception: number): void {
    if (p.settled) return;
    p.settled = true;
    this.pending.delete(p);
    p.cb(pdu, exception);
  }

  /** Sends one decoded request (the bytes of its ADU are in `adu`). */
  send(req: DecodedRequest, adu: Buffer, cb: UpstreamCallback): void {
    const client = this.client;
    if (!this.connected || client === undefined) { cb(null, EX.GATEWAY_PATH_UNAVAILABLE); return; }
    if (this.pending.size >= this.maxInflight) { cb(null, EX.SERVER_DEVICE_BUSY); return; }
    const p: Pending = { settled: false, cb };
    this.pending.add(p);
    const unit = this.options.unitId ?? req.unitId;
    const fc = req.functionCode;
    const address = req.address;
    const quantity = req.quantity;
    const echo = fc === FC.WRITE_SINGLE_COIL || fc === FC.WRITE_SINGLE_REGISTER ? Buffer.from(adu.subarray(7, 12)) : undefined;
    const done: Cb = (err, res) => {
      if (err) {
        const code = typeof err.modbusCode === 'number' ? err.modbusCode : EX.GATEWAY_TARGET_FAILED;
        return this.settle(p, null, code);
      }
      this.settle(p, echo ?? responsePdu(fc, address, quantity, res?.buffer), 0);
    };
    this.corkSocket(client);
    const c = client as unknown as Record<string, (...args: unknown[]) => void>;
    try {
      switch (fc) {
        case FC.READ_COILS: c.writeFC1!(unit, address, quantity, done); break;
        case FC.READ_DISCRETE_INPUTS: c.writeFC2!(unit, address, quantity, done); break;
        case FC.READ_HOLDING_REGISTERS: c.writeFC3!(unit, address, quantity, done); break;
        case FC.READ_INPUT_REGISTERS: c.writeFC4!(unit, address, quantity, done); break;
        case FC.WRITE_SINGLE_COIL: c.writeFC5!(unit, address, valueAt(adu, 0) === 0xff00, done); break;
        case FC.WRITE_SINGLE_REGISTER: c.writeFC6!(unit, address, valueAt(adu, 0), done); break;
        case FC.WRITE_MULTIPLE_COILS: c.writeFC15!(unit, address, coilArray(adu, req), done); break;
        case FC.WRITE_MULTIPLE_REGISTERS: c.writeFC16!(unit, address, registerArray(adu, req), done); break;
        default: this.settle(p, null, EX.ILLEGAL_FUNCTION);
      }
    } catch {
      this.settle(p, null, EX.GATEWAY_TARGET_FAILED);
    }
  }

  /** Requests sent in the same turn of the event loop leave in one TCP write: modbus-serial writes each request
   *  from a promise continuation, so the socket is corked until the check phase of this loop iteration. */
  private corkSocket(client: Client): void {
    if (this.corked) return;
    const socket = socketOf(client);
    if (!socket) return;
    this.corked = true;
    socket.cork();
    setImmediate(() => { this.corked = false; socket.uncork(); });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    for (const p of this.pending) this.settle(p, null, EX.GATEWAY_TARGET_FAILED);
    this.pending.clear();
    if (client) destroyClient(client);
  }
}

/** The TCP socket under a modbus-serial TCP client (its port's `_client`), when there is one. */
function socketOf(client: Client): Socket | undefined {
  const socket = (client as unknown as { _port?: { _client?: unknown } })._port?._client;
  return socket instanceof Socket ? socket : undefined;
}

/** Closes a modbus-serial client and its TCP socket for sure (its own destroy leaves the socket open in some states). */
function destroyClient(client: Client): void {
  try { client.destroy(() => undefined); } catch { /* already gone */ }
  try { socketOf(client)?.destroy(); } catch { /* already gone */ }
}

/** Single writes: the value at ADU offset 10 (multiple writes carry theirs from offset 13). */
function valueAt(adu: Buffer, i: number): number {
  return adu.readUInt16BE(10 + 2 * i);
}

function coilArray(adu: Buffer, req: DecodedRequest): boolean[] {
  const out: boolean[] = new Array(req.quantity);
  for (let i = 0; i < req.quantity; i++) out[i] = (((adu[13 + (i >> 3)] as number) >> (i & 7)) & 1) === 1;
  return out;
}

function registerArray(adu: Buffer, req: DecodedRequest): number[] {
  const out: number[] = new Array(req.quantity);
  for (let i = 0; i < req.quantity; i++) out[i] = adu.readUInt16BE(13 + 2 * i);
  return out;
}

/** Rebuilds the response PDU the PLC sent from what modbus-serial hands back. */
function responsePdu(fc: number, address: number, quantity: number, data: Buffer | undefined): Buffer {
  switch (fc) {
    case FC.READ_COILS:
    case FC.READ_DISCRETE_INPUTS:
    case FC.READ_HOLDING_REGISTERS:
    case FC.READ_INPUT_REGISTERS: {
      const body = data ?? Buffer.alloc(0);
      const b = Buffer.allocUnsafe(2 + body.length);
      b[0] = fc; b[1] = body.length; body.copy(b, 2);
      return b;
    }
    default: {
      const b = Buffer.allocUnsafe(5);
      b[0] = fc; b.writeUInt16BE(address, 1); b.writeUInt16BE(quantity, 3);
      return b;
    }
  }
}
