/**
 * The Modbus/TCP security gateway: one TCP listener per client zone (the zone of a connection is the zone of the
 * listener it came in on; put each listener on the network interface or port the zone's conduit reaches), strict
 * inspection of every ADU (inspector.ts), routing by unit id to upstream PLCs (upstream.ts).
 *
 * Connection-level defences: a malformed or oversize frame closes that connection only; a partial frame left
 * unfinished for `frameTimeoutMs` (slowloris), a connection that sent no complete ADU within `firstFrameTimeoutMs`, or one
 * idle for `idleTimeoutMs` is closed; a client that does not read its responses (more than `maxWriteBufferBytes` queued)
 * is closed; at most `maxConnectionsPerListener` clients per zone and `maxConnectionsPerSource` per client address.
 */
import net from 'node:net';
import { GlimmerError, quote, type ErrorCode } from '../../errors';
import type { Logger } from '../../observability/logger';
import type { Metrics } from '../../observability/metrics';
import { adu as buildAdu, exceptionAdu, type DecodedRequest } from './frame';
import { ClientSession, type GatewayAuditSink, Inspector, type InspectorLimits, type SessionHooks, type WriteEvidence } from './inspector';
import type { WriteDecider } from '../write-decision';
import type { ReadPolicy } from '../read-decision';
import type { CompiledRules } from './rules';
import { Upstream, type UpstreamOptions } from './upstream';

export interface ListenerOptions { readonly zone: string; readonly port: number; readonly host?: string }
export interface RouteOptions extends Omit<UpstreamOptions, 'name'> {
  /** The unit id clients address. */
  readonly unitId: number;
  /** Name of the PLC in metrics and logs (bounded). @default `plc-<unitId>` */
  readonly name?: string;
  /** Unit id on the PLC side. @default - same as unitId */
  readonly upstreamUnitId?: number;
}

export interface GatewayLimits extends InspectorLimits {
  /**
   * Connections per zone listener. When it is full, the oldest connection that never sent a complete ADU is evicted
   * to admit a new one; only when every connection has spoken is the new one refused. @default 256
   */
  readonly maxConnectionsPerListener: number;
  /** Connections per client address and listener, so one host cannot take a zone's port. @default 16 */
  readonly maxConnectionsPerSource: number;
  /** A connection that sent no complete ADU within this time is closed. @default 5000 */
  readonly firstFrameTimeoutMs: number;
  /** A partial frame must complete within this time. @default 2000 */
  readonly frameTimeoutMs: number;
  /** A connection with no bytes for this long is closed. @default 300000 */
  readonly idleTimeoutMs: number;
  /** Responses queued for a client that does not read them. @default 262144 */
  readonly maxWriteBufferBytes: number;
  /** Timeout of one upstream request. @default 1000 */
  readonly upstreamTimeoutMs: number;
}

export interface GatewayOptions {
  readonly listeners: readonly ListenerOptions[];
  readonly routes: readonly RouteOptions[];
  readonly rules: CompiledRules;
  /** Policy decision for every write that passed the static checks. @default denySafetyWrites */
  readonly decide?: WriteDecider;
  /** Policy decision for every read that passed the zone rules (answers cached per range). @default - zone rules only */
  readonly readPolicy?: ReadPolicy;
  readonly audit: GatewayAuditSink;
  /** Write-ahead audit: an allowed write is forwarded only once its record is durable here. @default - none (batched like reads) */
  readonly evidence?: WriteEvidence;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  readonly limits?: Partial<GatewayLimits>;
}

const DEFAULT_LIMITS: Omit<GatewayLimits, keyof InspectorLimits> = {
  maxConnectionsPerListener: 256, maxConnectionsPerSource: 16, firstFrameTimeoutMs: 5000, frameTimeoutMs: 2000, idleTimeoutMs: 300_000, maxWriteBufferBytes: 256 * 1024, upstreamTimeoutMs: 1000,
};

const CLOSE_REASON: Partial<Record<ErrorCode, string>> = {
  GLM_ERR_MODBUS_FRAME_MALFORMED: 'malformed', GLM_ERR_MODBUS_FRAME_OVERSIZE: 'oversize',
  GLM_ERR_MODBUS_CLIENT_TIMEOUT: 'slow_client', GLM_ERR_MODBUS_BUFFER_OVERFLOW: 'overflow',
};

export class ModbusGateway {
  readonly inspector: Inspector;
  private readonly limits: GatewayLimits;
  private readonly servers: { zone: string; server: net.Server; sockets: Set<net.Socket> }[] = [];
  private readonly upstreams: (Upstream | undefined)[] = new Array(256).fill(undefined);
  private sweeper: NodeJS.Timeout | undefined;
  private readonly hooks: SessionHooks;
  private readonly logger: Logger | undefined;
  private readonly metrics: Metrics | undefined;

  constructor(private readonly options: GatewayOptions) {
    if (options.listeners.length === 0) throw new GlimmerError('GLM_ERR_MODBUS_CONFIG_INVALID', 'the gateway needs at least one listener');
    for (const l of options.listeners) options.rules.zoneIndex(l.zone);
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.limits = { ...DEFAULT_LIMITS, ...(options.limits as object) } as GatewayLimits;
    this.inspector = new Inspector({ rules: options.rules, decide: options.decide, readPolicy: options.readPolicy, audit: options.audit, evidence: options.evidence, metrics: options.metrics, logger: options.logger, limits: options.limits });
    for (const r of options.routes) {
      if (!Number.isInteger(r.unitId) || r.unitId < 0 || r.unitId > 255) throw new GlimmerError('GLM_ERR_MODBUS_CONFIG_INVALID', `route unit id must be 0..255, received ${quote(r.unitId)}`);
      if (this.upstreams[r.unitId]) throw new GlimmerError('GLM_ERR_MODBUS_CONFIG_INVALID', `two routes for unit id ${r.unitId}`);
      this.upstreams[r.unitId] = new Upstream({ ...r, name: r.name ?? `plc-${r.unitId}`, unitId: r.upstreamUnitId ?? r.unitId, timeoutMs: r.timeoutMs ?? this.limits.upstreamTimeoutMs }, options.logger, options.metrics);
    }
    this.hooks = {
      forward: (s, req, bytes) => this.forward(s, req, bytes),
      reply: (s, bytes) => this.write(s, bytes),
      close: (s, code) => this.closeSession(s, code),
      pause: (s) => (s.transport as net.Socket).pause(),
      resume: (s) => (s.transport as net.Socket).resume(),
    };
  }

  /** Starts the upstream connections and the listeners; resolves with the bound port per zone. */
  async start(): Promise<Record<string, number>> {
    for (const u of this.upstreams) u?.start();
    const ports: Record<string, number> = {};
    for (const l of this.options.listeners) {
      const sockets = new Set<net.Socket>();
      // No server.maxConnections: it drops connections silently; admit() counts and audits every refusal.
      const server = net.createServer({ noDelay: true }, (socket) => this.admit(l.zone, socket, sockets));
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err) => reject(new GlimmerError('GLM_ERR_MODBUS_CONFIG_INVALID', `cannot listen on ${l.host ?? '127.0.0.1'}:${l.port} for zone ${quote(l.zone)}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })));
        server.listen(l.port, l.host ?? '127.0.0.1', () => resolve());
      });
      server.on('error', (err) => this.logger?.error({ err: err.message, zone: l.zone }, 'modbus listener error'));
      this.servers.push({ zone: l.zone, server, sockets });
      ports[l.zone] = (server.address() as net.AddressInfo).port;
    }
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(250, this.limits.frameTimeoutMs / 4)));
    this.sweeper.unref();
    return ports;
  }

  /** The upstream PLC connection of a unit id (the process-image poller reads through it: one connection per PLC). */
  upstream(unitId: number): Upstream | undefined {
    return this.upstreams[unitId];
  }

  /** Waits until every upstream is connected (or `ms` passed); true if all are. */
  async ready(ms = 5000): Promise<boolean> {
    const results = await Promise.all(this.upstreams.filter((u): u is Upstream => u !== undefined).map((u) => u.waitConnected(ms)));
    return results.every(Boolean);
  }

  /** The connection budgets: per listener (evicting a connection that never spoke first) and per client address. */
  private admit(zone: string, socket: net.Socket, sockets: Set<net.Socket>): void {
    const peer = socket.remoteAddress ?? '';
    const now = Date.now();
    let fromPeer = 0;
    for (const s of sockets) if (this.sessions.get(s)?.peer === peer) fromPeer++;
    let refused: 'source_limit' | 'listener_full' | undefined;
    if (fromPeer >= this.limits.maxConnectionsPerSource) refused = 'source_limit';
    else if (sockets.size >= this.limits.maxConnectionsPerListener) {
      let victim: net.Socket | undefined;
      for (const s of sockets) {
        const session = this.sessions.get(s);
        if (session && !session.spoke && !session.closed) { victim = s; break; }
      }
      if (victim) {
        const v = this.sessions.get(victim) as ClientSession;
        v.closed = true;
        this.metrics?.gatewayConnectionsRefused.inc({ zone, reason: 'evicted' });
        this.inspector.connectionRefused(zone, v.peer, now);
        victim.destroy();
        sockets.delete(victim);
        this.metrics?.gatewayConnections.dec({ zone });
      } else refused = 'listener_full';
    }
    if (refused) {
      this.metrics?.gatewayConnectionsRefused.inc({ zone, reason: refused });
      this.inspector.connectionRefused(zone, peer, now);
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    this.accept(zone, socket, sockets, peer);
  }

  private accept(zone: string, socket: net.Socket, sockets: Set<net.Socket>, peer: string): void {
    const session = this.inspector.session(zone, Date.now());
    session.transport = socket;
    session.peer = peer;
    session.peerPort = socket.remotePort ?? 0;
    this.sessions.set(socket, session);
    sockets.add(socket);
    this.metrics?.gatewayConnections.inc({ zone });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => session.feed(chunk, Date.now(), this.hooks));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      // An evicted socket left the set (and the gauge) when it was evicted.
      if (!sockets.delete(socket)) return;
      this.metrics?.gatewayConnections.dec({ zone });
      if (!session.closed) { session.closed = true; this.metrics?.gatewayConnectionsClosed.inc({ zone, reason: 'peer' }); }
    });
  }

  private forward(s: ClientSession, req: DecodedRequest, bytes: Buffer): void {
    const upstream = this.upstreams[req.unitId];
    const tid = req.transactionId;
    const unitId = req.unitId;
    const fc = req.functionCode;
    if (upstream === undefined) {
      // The rules know the unit but no route is configured: no path.
      this.inspector.upstreamFailed(s, Date.now(), tid, unitId, fc, 0x0a, 'GLM_ERR_MODBUS_UPSTREAM_UNAVAILABLE');
      this.write(s, exceptionAdu(tid, unitId, fc, 0x0a));
      s.settled(Date.now(), this.hooks);
      return;
    }
    upstream.send(req, bytes, (pdu, exception) => {
      const now = Date.now();
      if (pdu !== null) this.write(s, buildAdu(tid, unitId, pdu));
      else {
        if (exception === 0x0a || exception === 0x0b) this.inspector.upstreamFailed(s, now, tid, unitId, fc, exception, exception === 0x0a ? 'GLM_ERR_MODBUS_UPSTREAM_UNAVAILABLE' : 'GLM_ERR_MODBUS_UPSTREAM_TIMEOUT');
        this.write(s, exceptionAdu(tid, unitId, fc, exception));
      }
      s.settled(now, this.hooks);
    });
  }

  private write(s: ClientSession, bytes: Buffer): void {
    if (s.closed) return;
    const socket = s.transport as net.Socket;
    // Answers that complete in the same tick (a pipelining client, a burst of refusals) leave in one write.
    if (!s.corked) { s.corked = true; socket.cork(); process.nextTick(uncork, s, socket); }
    socket.write(bytes);
    if (socket.writableLength > this.limits.maxWriteBufferBytes) s.fail(Date.now(), 'GLM_ERR_MODBUS_BUFFER_OVERFLOW', this.hooks);
  }

  private closeSession(s: ClientSession, code: ErrorCode): void {
    const socket = s.transport as net.Socket;
    const zone = s.zoneName;
    this.metrics?.gatewayConnectionsClosed.inc({ zone, reason: CLOSE_REASON[code] ?? 'other' });
    this.logger?.debug({ zone, connection: s.id, code }, 'modbus client connection closed');
    socket.destroy();
  }

  /** One timer for all connections: slow partial frames and idle connections. */
  private sweep(): void {
    const now = Date.now();
    for (const { sockets } of this.servers) {
      for (const socket of sockets) {
        const session = this.sessionOf(socket);
        if (!session || session.closed) continue;
        if (session.hasPartialFrame() && now - session.partialSince > this.limits.frameTimeoutMs) session.fail(now, 'GLM_ERR_MODBUS_CLIENT_TIMEOUT', this.hooks);
        else if (!session.spoke && now - session.openedAt > this.limits.firstFrameTimeoutMs) session.fail(now, 'GLM_ERR_MODBUS_CLIENT_TIMEOUT', this.hooks);
        else if (session.inflight === 0 && now - session.lastActivity > this.limits.idleTimeoutMs) session.fail(now, 'GLM_ERR_MODBUS_CLIENT_TIMEOUT', this.hooks);
      }
    }
  }

  private readonly sessions = new WeakMap<net.Socket, ClientSession>();
  private sessionOf(socket: net.Socket): ClientSession | undefined { return this.sessions.get(socket); }

  /** Ports the listeners are bound to, by zone. */
  ports(): Record<string, number> {
    return Object.fromEntries(this.servers.map((s) => [s.zone, (s.server.address() as net.AddressInfo).port]));
  }

  upstreamStates(): Record<string, boolean> {
    return Object.fromEntries(this.upstreams.filter((u): u is Upstream => u !== undefined).map((u) => [u.name, u.isConnected]));
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const { server, sockets } of this.servers) {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.servers.length = 0;
    await Promise.all(this.upstreams.map((u) => u?.stop()));
    this.inspector.dispose();
  }
}

function uncork(s: ClientSession, socket: net.Socket): void {
  s.corked = false;
  socket.uncork();
}

/** Creates and starts a gateway; the returned object has the bound ports. */
export async function startModbusGateway(options: GatewayOptions): Promise<{ gateway: ModbusGateway; ports: Record<string, number> }> {
  const gateway = new ModbusGateway(options);
  const ports = await gateway.start();
  return { gateway, ports };
}
