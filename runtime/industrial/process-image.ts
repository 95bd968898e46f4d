/**
 * The process image of a real plant (plant.mode external): every register the plant map names, polled from the PLCs
 * through the gateway's upstream connections (one connection per PLC, the gateway's reconnect and backoff), turned into
 * the PlantSnapshot shape the interlocks, the console and the shift reports read. A poll cycle reads each unit's
 * tables in one pipelined burst and counts only when every read answered; an image older than `staleAfterMs` is no
 * image (`snapshot` is undefined), so the interlocks refuse writes while the PLCs are unreachable (fail closed).
 */
import { GlimmerError, quote } from '../errors';
import type { Logger } from '../observability/logger';
import { bits, registers } from './modbus/client';
import { EX, FC, newDecodedRequest } from './modbus/frame';
import type { Upstream } from './modbus/upstream';
import { type ModbusTable, type PlantMapEntry, fromRaw, plantMap, tableSizes } from '../model/plant-map';
import { snapshotFromSignals } from './plant/map';
import type { PlantSnapshot } from '../model/plant';

/** Reads `quantity` items of a table from a unit; resolves with the response PDU. */
export type UnitReader = (unitId: number, functionCode: number, address: number, quantity: number) => Promise<Buffer>;

const READ_FC: Readonly<Record<ModbusTable, number>> = { coil: FC.READ_COILS, discrete: FC.READ_DISCRETE_INPUTS, input: FC.READ_INPUT_REGISTERS, holding: FC.READ_HOLDING_REGISTERS };
const EMPTY = Buffer.alloc(0);

/** A UnitReader over the gateway's upstream connections (`gateway.upstream(unitId)`). */
export function upstreamReader(upstreamOf: (unitId: number) => Upstream | undefined): UnitReader {
  return (unitId, functionCode, address, quantity) => new Promise((resolve, reject) => {
    const upstream = upstreamOf(unitId);
    if (upstream === undefined) { reject(new GlimmerError('GLM_ERR_MODBUS_UNIT_UNKNOWN', `no PLC route for unit id ${unitId}`)); return; }
    const req = newDecodedRequest();
    Object.assign(req, { unitId, functionCode, address, quantity });
    upstream.send(req, EMPTY, (pdu, exception) => {
      if (pdu !== null && exception === 0) { resolve(pdu); return; }
      const code = exception === EX.GATEWAY_PATH_UNAVAILABLE ? 'GLM_ERR_MODBUS_UPSTREAM_UNAVAILABLE' : 'GLM_ERR_MODBUS_UPSTREAM_TIMEOUT';
      reject(new GlimmerError(code, `${upstream.name}: read of unit ${unitId} function ${functionCode} at ${address} x${quantity} failed with exception ${quote(exception)}`));
    });
  });
}

interface Block { readonly unitId: number; readonly table: ModbusTable; readonly quantity: number; readonly entries: readonly (PlantMapEntry | undefined)[] }

function blocks(map: readonly PlantMapEntry[]): Block[] {
  const out: Block[] = [];
  for (const [unitId, sizes] of tableSizes(map)) {
    for (const table of Object.keys(READ_FC) as ModbusTable[]) {
      const quantity = sizes[table];
      if (quantity === 0) continue;
      const entries: (PlantMapEntry | undefined)[] = new Array(quantity).fill(undefined);
      for (const e of map) if (e.unit_id === unitId && e.table === table) entries[e.address] = e;
      out.push({ unitId, table, quantity, entries });
    }
  }
  return out;
}

export interface ProcessImageOptions {
  readonly read: UnitReader;
  /** @default 250 */
  readonly intervalMs?: number;
  /** @default 1000 */
  readonly staleAfterMs?: number;
  readonly logger?: Logger;
  /** The seed field of the snapshots (the Industrial Agent's snapshots carry the config's seed too). @default 0 */
  readonly seed?: number;
  /** @default the plant map */
  readonly map?: readonly PlantMapEntry[];
}

export class PolledProcessImage {
  private readonly blocks: Block[];
  private readonly intervalMs: number;
  private readonly staleAfterMs: number;
  private readonly listeners = new Set<(snapshot: PlantSnapshot) => void>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private latest: PlantSnapshot | undefined;
  private fresh = false;
  private lastError: string | undefined;
  private startedAt: number | undefined;

  constructor(private readonly options: ProcessImageOptions) {
    this.blocks = blocks(options.map ?? plantMap());
    this.intervalMs = options.intervalMs ?? 250;
    this.staleAfterMs = options.staleAfterMs ?? 1000;
  }

  start(): void {
    if (this.timer) return;
    this.startedAt = Date.now();
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
    void this.poll();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  /** The latest complete image, or undefined when there is none younger than `staleAfterMs` (fail closed). */
  get snapshot(): PlantSnapshot | undefined {
    const s = this.latest;
    if (s === undefined || Date.now() - s.time_ms > this.staleAfterMs) {
      if (this.fresh) { this.fresh = false; this.options.logger?.warn({ stale_after_ms: this.staleAfterMs, err: this.lastError }, 'process image stale: interlocked writes are refused until the PLCs answer again'); }
      return undefined;
    }
    return s;
  }

  /** Milliseconds since the last complete poll began (since start() before the first one; undefined before start()). */
  get ageMs(): number | undefined {
    const at = this.latest?.time_ms ?? this.startedAt;
    return at === undefined ? undefined : Date.now() - at;
  }

  /** Why the last poll failed (undefined after a good one). */
  get error(): string | undefined { return this.lastError; }

  /** Called with each complete image (about every `intervalMs` while the PLCs answer). */
  onSnapshot(listener: (snapshot: PlantSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One poll cycle: every block read, or none counts. Overlapping cycles are skipped (a slow PLC is not flooded). */
  async poll(): Promise<boolean> {
    if (this.inFlight) return false;
    this.inFlight = true;
    const started = Date.now();
    try {
      const pdus = await Promise.all(this.blocks.map((b) => this.options.read(b.unitId, READ_FC[b.table], 0, b.quantity)));
      const values = new Map<string, number | boolean>();
      this.blocks.forEach((b, i) => decode(b, pdus[i] as Buffer, values));
      this.latest = snapshotFromSignals(values, started, this.options.seed ?? 0);
      this.lastError = undefined;
      if (!this.fresh) { this.fresh = true; this.options.logger?.info({ signals: values.size }, 'process image fresh: polling the PLCs'); }
      for (const l of this.listeners) {
        try { l(this.latest); } catch { /* a listener's failure must not stop the polling */ }
      }
      return true;
    } catch (err) {
      this.lastError = (err as Error).message;
      return false;
    } finally {
      this.inFlight = false;
    }
  }
}

function decode(block: Block, pdu: Buffer, out: Map<string, number | boolean>): void {
  const bitTable = block.table === 'coil' || block.table === 'discrete';
  const expected = bitTable ? Math.ceil(block.quantity / 8) : block.quantity * 2;
  if (pdu[1] !== expected || pdu.length !== 2 + expected) {
    throw new GlimmerError('GLM_ERR_MODBUS_UPSTREAM_TIMEOUT', `unit ${block.unitId} ${block.table}: answer of ${quote(pdu[1])} bytes, expected ${expected}`);
  }
  const words = bitTable ? bits(pdu, block.quantity).map((b) => (b ? 1 : 0)) : registers(pdu);
  block.entries.forEach((e, i) => {
    if (e === undefined) return;
    const raw = words[i] as number;
    out.set(e.id, e.type === 'bool' ? raw !== 0 : fromRaw(e, raw));
  });
}
