/**
 * A Sparkplug B 3.0 edge node over MQTT 5 (MQTT.js) with TLS 1.3 and a client certificate, in front of a durable
 * store-and-forward queue.
 *
 * Session (one MQTT connection): CONNECT with clean start and the NDEATH as will, carrying this connection's bdSeq
 * (a durable counter, +1 per connection, 0..255); subscribe to this node's NCMD and DCMD and, with a primary host
 * configured, to its STATE. Births wait for the primary host's STATE `online: true` (without a primary host: at
 * once): NBIRTH (seq 0, bdSeq, `Node Control/Rebirth`), then one DBIRTH per device with every metric, alias,
 * datatype, engineering unit and current value. Then data flows: DDATA by exception with aliases only, seq +1 per
 * message (mod 256). The session ends on a lost link (the broker sends the will), on STATE `online: false` (NDEATH
 * published, then a clean disconnect, as the specification asks) and on stop (the same); a new session follows after a
 * back-off with bdSeq + 1. An NCMD `Node Control/Rebirth` repeats the births (same bdSeq, seq from 0).
 *
 * While no session is born (broker gone, primary host offline) records go to the DurableQueue; once born, queued
 * records are replayed in queue order as historical DDATA at QoS 1 and acknowledged (removed) only on the broker's
 * PUBACK. Replay is paced (a window below the broker's Receive Maximum and a rate limit) and yields to the event loop
 * between batches, so live data published meanwhile is never held behind the backlog. Live births and data use QoS 0
 * as the specification requires; only the replay uses QoS 1, because only a PUBACK may delete a stored record.
 *
 * Commands from the broker are untrusted: decoded defensively and handed to `onCommand`, which decides (writes to
 * the plant go through the plant's write decision and are refused by default); only the rebirth request is executed
 * here.
 */
import { isIP } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { GlimmerError, asGlimmerError, quote } from '../../errors';
import type { DurableQueue, NewRecord } from '../store-forward';
import { DataType, decodePayload, encodePayload, metricValue, type Metric } from './payload';
import { birthMetric, dataMetric, ExceptionFilter, NODE_ALIAS_BDSEQ, NODE_ALIAS_REBIRTH, type DeviceMetric, type SignalValue, type SparkplugDevice } from './plant-devices';

export const NAMESPACE = 'spBv1.0';
export const REBIRTH_METRIC = 'Node Control/Rebirth';
const BDSEQ_COUNTER = 'sparkplug_bdseq';

export interface TlsCredentials {
  /** PEM of the CAs the broker's certificate must chain to. */
  readonly ca: string;
  /** This node's client certificate and key (PEM). */
  readonly cert: string;
  readonly key: string;
}

export interface ReceivedCommand {
  readonly kind: 'NCMD' | 'DCMD';
  readonly device?: string;
  /** Metrics that name a plant signal of the device, with the value asked for. */
  readonly writes: readonly { readonly entry: DeviceMetric['entry']; readonly value: number | boolean }[];
  /** Metric names or aliases that name nothing this node has. */
  readonly unknown: readonly string[];
  /** Set when the payload could not be decoded. */
  readonly error?: GlimmerError;
}

export interface EdgeNodeOptions {
  /** mqtts://host:port */
  readonly brokerUrl: string;
  readonly groupId: string;
  readonly edgeNodeId: string;
  /** The primary host application's id: births wait for its STATE online. @default - no primary host */
  readonly primaryHostId?: string;
  /** Read at each connection, so a renewed certificate is used from the next session on. */
  readonly credentials: () => TlsCredentials;
  /** TLS server name to verify. @default the broker URL's host */
  readonly servername?: string;
  readonly devices: readonly SparkplugDevice[];
  readonly queue: DurableQueue;
  /** Whether a device's topics may be published (the Cedar topic policy); denied devices are left out. @default all */
  readonly allowDevice?: (device: SparkplugDevice) => boolean;
  readonly onCommand?: (command: ReceivedCommand) => void;
  readonly onStateChange?: (born: boolean) => void;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default { initial: 500, max: 10000 } */
  readonly reconnectMs?: { readonly initial: number; readonly max: number };
  /** Replay pacing: historical messages in flight and per second. @default { window: 64, perSecond: 5000 } */
  readonly replay?: { readonly window: number; readonly perSecond: number };
  readonly logger?: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

export interface EdgeNodeStats {
  readonly connected: boolean;
  readonly born: boolean;
  readonly bdSeq: number;
  readonly sessions: number;
  readonly messages: number;
  readonly metrics: number;
  readonly replayed: number;
  readonly queued: number;
  readonly deniedDevices: readonly string[];
  readonly badPayloads: number;
}

/** Appends protobuf field 3 (seq, varint) to an encoded Payload that has none: the stored record stays as written. */
export function withSeq(body: Uint8Array, seq: number): Buffer {
  const varint = seq < 0x80 ? [seq] : [(seq & 0x7f) + 0x80, seq >> 7];
  return Buffer.concat([body, Buffer.from([0x18, ...varint])]);
}

const SPARKPLUG_ID = /^[^+#/\s]{1,64}$/;

export class SparkplugEdgeNode {
  readonly #o: EdgeNodeOptions;
  readonly #devices: readonly SparkplugDevice[];
  readonly #denied: string[];
  readonly #rbe = new ExceptionFilter();
  readonly #current = new Map<string, SignalValue>();
  readonly #byAlias = new Map<number, { device: SparkplugDevice; metric: DeviceMetric }>();
  readonly #now: () => number;
  #client: MqttClient | undefined;
  #born = false;
  #stopped = false;
  #seq = 0;
  #bdSeq = 0;
  #sessions = 0;
  #messages = 0;
  #metrics = 0;
  #replayed = 0;
  #badPayloads = 0;
  #backoff: number;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #stateTs = -1;
  // replay
  readonly #inflight = new Set<number>();
  #acked: number[] = [];
  #pumpScheduled = false;
  #window = 1;
  #tokens = 0;
  #tokensAt = 0;

  constructor(options: EdgeNodeOptions) {
    for (const [field, value] of [['group_id', options.groupId], ['edge_node_id', options.edgeNodeId], ...(options.primaryHostId === undefined ? [] : [['primary_host_id', options.primaryHostId]])] as const) {
      if (!SPARKPLUG_ID.test(value)) throw new GlimmerError('GLM_ERR_NORTHBOUND_CONFIG_INVALID', `northbound.${field} must be 1-64 characters without + # / or spaces, received ${quote(value)}`);
    }
    if (!/^mqtts:\/\/[^/]+:\d{1,5}\/?$/.test(options.brokerUrl)) throw new GlimmerError('GLM_ERR_NORTHBOUND_CONFIG_INVALID', `northbound.broker must be mqtts://host:port (TLS only), received ${quote(options.brokerUrl)}`);
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#backoff = options.reconnectMs?.initial ?? 500;
    const allow = options.allowDevice ?? (() => true);
    this.#devices = options.devices.filter((d) => allow(d));
    this.#denied = options.devices.filter((d) => !this.#devices.includes(d)).map((d) => d.id);
    for (const device of this.#devices) for (const metric of device.metrics) this.#byAlias.set(metric.alias, { device, metric });
  }

  topic(kind: 'NBIRTH' | 'NDEATH' | 'NCMD' | 'NDATA'): string;
  topic(kind: 'DBIRTH' | 'DDATA' | 'DCMD' | 'DDEATH', device: string): string;
  topic(kind: string, device?: string): string {
    return `${NAMESPACE}/${this.#o.groupId}/${kind}/${this.#o.edgeNodeId}${device === undefined ? '' : `/${device}`}`;
  }

  get devices(): readonly SparkplugDevice[] {
    return this.#devices;
  }

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  /** Publishes NDEATH and disconnects cleanly; queued records stay for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    await this.#endSession(true);
    this.#flushAcks();
  }

  stats(): EdgeNodeStats {
    return {
      connected: this.#client?.connected === true, born: this.#born, bdSeq: this.#bdSeq, sessions: this.#sessions,
      messages: this.#messages, metrics: this.#metrics, replayed: this.#replayed, queued: this.#o.queue.depth,
      deniedDevices: this.#denied, badPayloads: this.#badPayloads,
    };
  }

  /**
   * New plant values (signal id -> engineering value) at `ts`: the changes past their deadbands go out as DDATA now,
   * or into the queue while no session is born. Returns the number of metrics reported.
   */
  update(values: ReadonlyMap<string, SignalValue>, ts: number = this.#now()): number {
    for (const [k, v] of values) this.#current.set(k, v);
    const records: NewRecord[] = [];
    let n = 0;
    for (const device of this.#devices) {
      const changes = this.#rbe.changes(device, values);
      if (changes.length === 0) continue;
      n += changes.length;
      if (this.#born) {
        this.#publish(this.topic('DDATA', device.id), { timestamp: ts, metrics: changes.map((c) => dataMetric(c.metric, c.value, ts, false)) }, changes.length);
      } else {
        records.push({ stream: device.safety ? 'safety' : 'trend', ts, key: device.id, body: encodePayload({ timestamp: ts, metrics: changes.map((c) => dataMetric(c.metric, c.value, ts, true)) }) });
      }
    }
    // Durable before this returns: the queue's acknowledgement.
    this.#o.queue.append(records);
    return n;
  }

  #connect(): void {
    if (this.#stopped) return;
    // The counter holds the next bdSeq, so a restarted process never reuses the last session's.
    this.#bdSeq = this.#o.queue.counter(BDSEQ_COUNTER) % 256;
    this.#o.queue.setCounter(BDSEQ_COUNTER, (this.#bdSeq + 1) % 256);
    let creds: TlsCredentials;
    try {
      creds = this.#o.credentials();
    } catch (err) {
      this.#o.logger?.warn({ code: asGlimmerError(err).code }, 'northbound: no client certificate; retrying');
      this.#scheduleReconnect();
      return;
    }
    const url = new URL(this.#o.brokerUrl);
    const will = { topic: this.topic('NDEATH'), payload: Buffer.from(this.#deathPayload()), qos: 1 as const, retain: false };
    const options: IClientOptions & Record<string, unknown> = {
      protocolVersion: 5, clean: true, reconnectPeriod: 0, connectTimeout: 5000, keepalive: 15,
      clientId: `${this.#o.groupId}-${this.#o.edgeNodeId}`.slice(0, 64), will,
      ca: creds.ca, cert: creds.cert, key: creds.key, minVersion: 'TLSv1.3', rejectUnauthorized: true,
      // SNI takes host names only; an IP address is still verified against the certificate's IP SANs.
      ...(isIP(this.#o.servername ?? url.hostname) === 0 ? { servername: this.#o.servername ?? url.hostname } : {}), properties: { sessionExpiryInterval: 0 },
    };
    // Host and port as options: MQTT.js would parse a URL string with the deprecated url.parse().
    const client = mqtt.connect({ ...options, protocol: 'mqtts', host: url.hostname, port: Number(url.port) });
    this.#client = client;
    this.#sessions += 1;
    client.on('connect', (connack) => {
      this.#backoff = this.#o.reconnectMs?.initial ?? 500;
      const receiveMaximum = connack.properties?.receiveMaximum ?? 65535;
      this.#window = Math.max(1, Math.min(this.#o.replay?.window ?? 64, receiveMaximum - 4));
      const subs = [this.topic('NCMD'), `${this.topic('NCMD').replace('/NCMD/', '/DCMD/')}/+`];
      if (this.#o.primaryHostId !== undefined) subs.push(`${NAMESPACE}/STATE/${this.#o.primaryHostId}`);
      client.subscribe(subs, { qos: 1 }, (err) => {
        if (err) {
          this.#o.logger?.warn({ err: err.message }, 'northbound: subscribe failed; reconnecting');
          client.end(true);
          return;
        }
        if (this.#o.primaryHostId === undefined) this.#birth();
      });
    });
    client.on('message', (topic, payload) => this.#onMessage(client, topic, payload));
    client.on('error', (err) => this.#o.logger?.warn({ err: err.message }, 'northbound: MQTT error'));
    client.on('close', () => {
      if (this.#client !== client) return;
      this.#lost();
      client.end(true);
      this.#client = undefined;
      this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    if (this.#stopped) return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => this.#connect(), this.#backoff);
    this.#backoff = Math.min(this.#backoff * 2, this.#o.reconnectMs?.max ?? 10_000);
  }

  #lost(): void {
    if (this.#born) this.#o.onStateChange?.(false);
    this.#born = false;
    // In-flight replay records were not confirmed: they stay queued and go again next session (at least once).
    this.#inflight.clear();
    this.#flushAcks();
  }

  /** NDEATH (explicit), then a clean DISCONNECT (the broker drops the will); the next session follows unless stopped. */
  async #endSession(final: boolean): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    // Not born first: data from now on goes to the queue, none to a session that is ending.
    this.#lost();
    this.#client = undefined;
    if (client.connected) await new Promise<void>((resolve) => client.publish(this.topic('NDEATH'), Buffer.from(this.#deathPayload()), { qos: 1 }, () => resolve()));
    await client.endAsync();
    if (!final) this.#scheduleReconnect();
  }

  #deathPayload(): Uint8Array {
    return encodePayload({ timestamp: this.#now(), metrics: [{ name: 'bdSeq', alias: NODE_ALIAS_BDSEQ, datatype: DataType.Int64, longValue: this.#bdSeq }] });
  }

  #nextSeq(): number {
    const s = this.#seq;
    this.#seq = (this.#seq + 1) % 256;
    return s;
  }

  #publish(topic: string, payload: { timestamp: number; metrics: Metric[] }, metricCount: number): void {
    const client = this.#client;
    if (client === undefined) return;
    client.publish(topic, Buffer.from(encodePayload({ ...payload, seq: this.#nextSeq() })), { qos: 0 });
    this.#messages += 1;
    this.#metrics += metricCount;
  }

  #birth(): void {
    if (this.#client === undefined) return;
    const ts = this.#now();
    this.#seq = 0;
    const node: Metric[] = [
      { name: 'bdSeq', alias: NODE_ALIAS_BDSEQ, timestamp: ts, datatype: DataType.Int64, longValue: this.#bdSeq },
      { name: REBIRTH_METRIC, alias: NODE_ALIAS_REBIRTH, timestamp: ts, datatype: DataType.Boolean, booleanValue: false },
    ];
    this.#publish(this.topic('NBIRTH'), { timestamp: ts, metrics: node }, node.length);
    for (const device of this.#devices) {
      const metrics = device.metrics.map((m) => birthMetric(m, this.#current.get(m.entry.id), ts));
      this.#publish(this.topic('DBIRTH', device.id), { timestamp: ts, metrics }, metrics.length);
      this.#rbe.born(device, this.#current);
    }
    const wasBorn = this.#born;
    this.#born = true;
    if (!wasBorn) this.#o.onStateChange?.(true);
    this.#schedulePump();
  }

  #onMessage(client: MqttClient, topic: string, payload: Buffer): void {
    if (this.#o.primaryHostId !== undefined && topic === `${NAMESPACE}/STATE/${this.#o.primaryHostId}`) {
      this.#onState(payload);
      return;
    }
    const parts = topic.split('/');
    const kind = parts[2];
    if (kind !== 'NCMD' && kind !== 'DCMD') return;
    let decoded;
    try {
      decoded = decodePayload(payload);
    } catch (err) {
      this.#badPayloads += 1;
      this.#o.onCommand?.({ kind, ...(kind === 'DCMD' ? { device: String(parts[4]).slice(0, 64) } : {}), writes: [], unknown: [], error: asGlimmerError(err) });
      return;
    }
    if (kind === 'NCMD') {
      const rest: Metric[] = [];
      let rebirth = false;
      for (const m of decoded.metrics) {
        if ((m.name === REBIRTH_METRIC || m.alias === NODE_ALIAS_REBIRTH) && metricValue(m) === true) rebirth = true;
        else rest.push(m);
      }
      if (rebirth && client === this.#client && this.#born) this.#birth();
      if (rest.length > 0) this.#o.onCommand?.({ kind, writes: [], unknown: rest.map((m) => String(m.name ?? m.alias).slice(0, 64)) });
      return;
    }
    const deviceId = String(parts[4]);
    const device = this.#devices.find((d) => d.id === deviceId);
    const writes: { entry: DeviceMetric['entry']; value: number | boolean }[] = [];
    const unknown: string[] = [];
    for (const m of decoded.metrics) {
      const metric = device?.metrics.find((x) => (m.name !== undefined && x.name === m.name) || (m.alias !== undefined && x.alias === m.alias));
      const value = metricValue(m);
      if (metric === undefined || (typeof value !== 'number' && typeof value !== 'boolean')) unknown.push(String(m.name ?? m.alias).slice(0, 64));
      else writes.push({ entry: metric.entry, value });
    }
    this.#o.onCommand?.({ kind, device: deviceId.slice(0, 64), writes, unknown });
  }

  #onState(payload: Buffer): void {
    let state: { online?: unknown; timestamp?: unknown };
    try {
      if (payload.length > 1024) throw new Error('oversized');
      state = JSON.parse(payload.toString('utf8')) as typeof state;
      if (typeof state.online !== 'boolean' || typeof state.timestamp !== 'number') throw new Error('no online/timestamp');
    } catch (err) {
      this.#badPayloads += 1;
      this.#o.logger?.warn({ code: 'GLM_ERR_NORTHBOUND_PAYLOAD_INVALID', reason: (err as Error).message }, 'northbound: STATE payload ignored');
      return;
    }
    // An older STATE (a retained one from before a newer live one) never overrides.
    if (state.timestamp < this.#stateTs) return;
    this.#stateTs = state.timestamp;
    if (state.online && !this.#born) this.#birth();
    else if (!state.online && this.#born) {
      this.#o.logger?.info({ host: this.#o.primaryHostId }, 'northbound: primary host offline; holding data');
      void this.#endSession(false);
    }
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Sends the next historical records within the window and the rate; runs again as acknowledgements come back. */
  #pump(): void {
    const client = this.#client;
    if (!this.#born || client === undefined) return;
    const perSecond = this.#o.replay?.perSecond ?? 5000;
    const now = performance.now();
    this.#tokens = Math.min(perSecond / 10 + this.#window, this.#tokens + ((now - this.#tokensAt) / 1000) * perSecond);
    this.#tokensAt = now;
    const room = Math.min(this.#window - this.#inflight.size, Math.floor(this.#tokens));
    if (room <= 0) {
      if (this.#inflight.size < this.#window) setTimeout(() => this.#schedulePump(), 5).unref();
      return;
    }
    // Confirmed records leave the queue before the next read, so none is read (and sent) twice.
    this.#flushAcks();
    const batch = this.#o.queue.peek(room, this.#inflight);
    if (batch.length === 0) return;
    this.#tokens -= batch.length;
    for (const r of batch) {
      this.#inflight.add(r.id);
      client.publish(this.topic('DDATA', r.key), withSeq(r.body, this.#nextSeq()), { qos: 1 }, (err) => {
        if (client !== this.#client) return;
        this.#inflight.delete(r.id);
        if (err) return;
        this.#acked.push(r.id);
        this.#replayed += 1;
        // Refill at half a window: the acknowledgements then leave the queue in one transaction (one fsync), not one each.
        if (this.#inflight.size <= this.#window >> 1) this.#schedulePump();
      });
      this.#messages += 1;
    }
  }

  #flushAcks(): void {
    if (this.#acked.length === 0) return;
    const ids = this.#acked;
    this.#acked = [];
    try {
      this.#o.queue.ack(ids);
    } catch (err) {
      // The records stay queued and go once more (at least once); the queue's own error says why (a full disk).
      this.#o.logger?.warn({ code: asGlimmerError(err).code, records: ids.length }, 'northbound: confirmed records not removed from the queue');
    }
  }
}
