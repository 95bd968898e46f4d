/**
 * OPC UA client to the plant server: SignAndEncrypt (or what the zone model allows, checked before connecting), its
 * own certificate store that never auto-accepts the server's certificate, username login (no anonymous), one
 * subscription with a monitored item per signal (data changes pushed, not polled). After the first connection the
 * client reconnects forever with backoff; node-opcua re-creates the session and its subscriptions when the server
 * restarted (the `onRecovered` callback fires).
 */
import type * as Opcua from 'node-opcua';
import { GlimmerError, quote } from '../../errors';
import type { Logger } from '../../observability/logger';
import { type PlantMapEntry, plantMap } from '../../model/plant-map';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readCertificate } from '../../config/plant';
import type { ExternalPlant, RuntimeConfig } from '../../config/types';
import type { OpcuaNetwork } from './network';
import { certificateDer, certificateManager, ensureOwnCertificate, identityFor, loadOpcuaClient, routeLibraryLogs, trustPeer, userPassword } from './pki';
import { checkClientSecurity, type OpcuaSecurity } from './security';
import { trustIssuer, type OpcuaIssuer } from './issuer';

export interface PlantOpcuaClientOptions {
  readonly endpointUrl: string;
  readonly stateDir: string;
  /** Application (certificate store) name, e.g. the agent id. */
  readonly name: string;
  readonly user: string;
  /** The user's password. @default the one the embedded plant server created in the state dir */
  readonly password?: string;
  /** The trusted server certificate (DER). @default the embedded plant server's, from the state dir */
  readonly serverCertificate?: Buffer;
  /**
   * File of the server certificate, re-read when it changes (a renewed server certificate is used for the next
   * secure channel, no restart). @default the embedded plant server's certificate file when serverCertificate is not given
   */
  readonly serverCertificateFile?: string;
  /** How often the own and the server certificate files are checked for a renewal. @default 5000 */
  readonly certificatePollMs?: number;
  readonly security: OpcuaSecurity;
  /** @default { mode: 'SignAndEncrypt', policy: 'Basic256Sha256' } */
  readonly requested?: { readonly mode: 'SignAndEncrypt' | 'None'; readonly policy: string };
  /** Called with each changed value (signal id -> engineering value). */
  readonly onValue?: (signal: string, value: number | boolean) => void;
  readonly onRecovered?: () => void;
  readonly logger?: Logger;
  /** @default 100 */
  readonly samplingIntervalMs?: number;
  /** Publishing interval of the subscription. @default samplingIntervalMs, else 100 */
  readonly publishingIntervalMs?: number;
  /** Timeout of the first connection. @default 15000 */
  readonly connectTimeoutMs?: number;
  /** Lifetime of the secure channel's security tokens; the channel renews them at 75 %. @default 600000 */
  readonly secureTokenLifetimeMs?: number;
}

export interface PlantOpcuaClient {
  /** Writes an engineering value to a command signal (`safety_1.emergency_stop`). */
  write(signal: string, value: number | boolean): Promise<void>;
  /** Reads a signal's current engineering value from the server (not the subscription's latest). */
  read(signal: string): Promise<number | boolean>;
  /** Latest values received from the subscription. */
  readonly values: ReadonlyMap<string, number | boolean>;
  /** The OPC UA session id (kept across reconnections and certificate renewals while the server keeps the session). */
  readonly sessionId: string;
  close(): Promise<void>;
}

/**
 * Explicit trust provisioning. With Glimmer's OPC UA issuer: both stores trust the issuer (and load its CRL), so every
 * certificate it issues or renews for either side is accepted and nothing is trusted leaf by leaf; the certificates
 * themselves come from the renewer. Without: the plant server trusts this client's self-signed certificate and the
 * client the server's.
 */
export async function provisionOpcuaTrust(stateDir: string, clientName: string, network?: OpcuaNetwork, issuer?: OpcuaIssuer): Promise<void> {
  const server = identityFor(stateDir, 'plant-server');
  const client = identityFor(stateDir, clientName);
  if (issuer !== undefined) {
    for (const id of [server, client]) {
      const cm = await certificateManager(id, { createOwn: false });
      try { await trustIssuer(cm, issuer); } finally { await cm.dispose(); }
    }
    return;
  }
  const serverCm = await certificateManager(server);
  // The server certificate the client will trust is the one the server will present (reissued for new names first).
  if (network) await ensureOwnCertificate(server, serverCm, network);
  const clientCm = await certificateManager(client);
  await trustPeer(serverCm, client);
  await trustPeer(clientCm, server);
  await serverCm.dispose();
  await clientCm.dispose();
}

/**
 * A real plant's OPC UA server (plant.mode external): the Industrial Agent's certificate store gets the configured
 * client certificate and key (when given; else its own self-signed one, which the plant server must be told to trust)
 * and trusts the configured server certificate, explicitly. Returns the client certificate file the server must trust.
 */
export async function provisionExternalOpcuaTrust(stateDir: string, clientName: string, opcua: NonNullable<ExternalPlant['opcua']>): Promise<string> {
  const client = identityFor(stateDir, clientName);
  if (opcua.clientCertificate !== undefined && opcua.clientPrivateKey !== undefined) {
    fs.mkdirSync(path.dirname(client.certificateFile), { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.dirname(client.privateKeyFile), { recursive: true, mode: 0o700 });
    fs.writeFileSync(client.certificateFile, new crypto.X509Certificate(fs.readFileSync(opcua.clientCertificate)).toString());
    fs.writeFileSync(client.privateKeyFile, fs.readFileSync(opcua.clientPrivateKey), { mode: 0o600 });
  }
  const cm = await certificateManager(client);
  try {
    await cm.trustCertificate(Buffer.from(new crypto.X509Certificate(fs.readFileSync(opcua.serverCertificate)).raw));
  } finally {
    await cm.dispose();
  }
  return client.certificateFile;
}

/** Session options of the Industrial Agent towards a real plant's OPC UA server (plant.mode external). */
export function externalOpcuaSession(config: RuntimeConfig, agentName: string): Pick<PlantOpcuaClientOptions, 'endpointUrl' | 'user' | 'password' | 'serverCertificate' | 'serverCertificateFile'> | undefined {
  const o = config.plant.mode === 'external' ? config.plant.external?.opcua : undefined;
  if (o === undefined) return undefined;
  return {
    endpointUrl: o.endpointUrl,
    user: o.user ?? agentName,
    password: fs.readFileSync(o.passwordFile, 'utf8').trim(),
    serverCertificate: readCertificate(config.file, '/plant/external/opcua/server_certificate', o.serverCertificate),
    serverCertificateFile: o.serverCertificate,
  };
}

export async function connectPlantOpcua(options: PlantOpcuaClientOptions): Promise<PlantOpcuaClient> {
  const requested = options.requested ?? { mode: 'SignAndEncrypt', policy: 'Basic256Sha256' };
  checkClientSecurity(options.security, { mode: requested.mode, policy: requested.policy, anonymous: false });
  if (options.logger) routeLibraryLogs(options.logger);
  const o = loadOpcuaClient();
  const id = identityFor(options.stateDir, options.name);
  const cm = await certificateManager(id);
  const password = options.password ?? userPassword(options.stateDir, options.user, false);
  const client = o.OPCUAClient.create({
    applicationName: options.name,
    applicationUri: id.applicationUri,
    clientCertificateManager: cm,
    certificateFile: id.certificateFile,
    privateKeyFile: id.privateKeyFile,
    securityMode: requested.mode === 'None' ? o.MessageSecurityMode.None : o.MessageSecurityMode.SignAndEncrypt,
    securityPolicy: (o.SecurityPolicy as unknown as Record<string, Opcua.SecurityPolicy>)[requested.policy] as Opcua.SecurityPolicy,
    // The server certificate comes from the provisioned trust store, so the client never asks for it over an
    // unsecured GetEndpoints channel (which the server refuses anyway).
    serverCertificate: options.serverCertificate ?? serverCertificate(options.stateDir),
    endpointMustExist: false,
    keepSessionAlive: true,
    ...(options.secureTokenLifetimeMs !== undefined ? { defaultSecureTokenLifetime: options.secureTokenLifetimeMs } : {}),
    requestedSessionTimeout: 30_000,
    connectionStrategy: { initialDelay: 200, maxDelay: 2000, maxRetry: 0 },
  });
  const fail = (err: unknown): never => {
    const text = (err as Error)?.message ?? String(err);
    const untrusted = /Untrusted|BadCertificate|BadSecurityChecksFailed/i.test(text);
    // node-opcua's first line is often generic ("rejected by server"): the OPC UA status further down says why.
    const status = /\b(Bad[A-Za-z]+)\b/.exec(text)?.[1];
    const first = text.split('\n')[0] ?? '';
    throw new GlimmerError(untrusted ? 'GLM_ERR_OPCUA_CERT_UNTRUSTED' : 'GLM_ERR_OPCUA_CONNECT_FAILED', `cannot open an OPC UA session to ${quote(options.endpointUrl)}: ${first}${status !== undefined && !first.includes(status) ? ` (${status})` : ''}`, { cause: err });
  };
  let session: Opcua.ClientSession;
  try {
    await withTimeout(client.connect(options.endpointUrl), options.connectTimeoutMs ?? 15_000);
    session = await withTimeout(client.createSession({ type: o.UserTokenType.UserName, userName: options.user, password }), options.connectTimeoutMs ?? 15_000);
  } catch (err) {
    await client.disconnect().catch(() => undefined);
    await cm.dispose().catch(() => undefined);
    return fail(err);
  }
  const unwatch = watchCertificates(client, id.certificateFile, options.serverCertificateFile ?? (options.serverCertificate === undefined ? identityFor(options.stateDir, 'plant-server').certificateFile : undefined), options.certificatePollMs ?? 5000, options.logger);
  // From now on: reconnect forever (server restarts), with backoff.
  (client as unknown as { connectionStrategy: { maxRetry: number } }).connectionStrategy.maxRetry = Number.MAX_SAFE_INTEGER;
  client.on('connection_lost', () => options.logger?.warn({ endpoint: options.endpointUrl }, 'OPC UA connection lost; reconnecting'));
  client.on('after_reconnection', () => { options.logger?.info({ endpoint: options.endpointUrl }, 'OPC UA session recovered'); options.onRecovered?.(); });

  const values = new Map<string, number | boolean>();
  const subscription = await session.createSubscription2({ requestedPublishingInterval: options.publishingIntervalMs ?? (options.samplingIntervalMs || 100), requestedLifetimeCount: 600, requestedMaxKeepAliveCount: 20, maxNotificationsPerPublish: 1000, publishingEnabled: true, priority: 10 });
  const entries = plantMap();
  const items = entries.map((e) => ({ nodeId: e.opcua_node_id, attributeId: o.AttributeIds.Value }));
  const group = await subscription.monitorItems(items, { samplingInterval: options.samplingIntervalMs ?? 100, discardOldest: true, queueSize: 4 }, o.TimestampsToReturn.Both);
  group.on('changed', (item: Opcua.ClientMonitoredItemBase, dataValue: Opcua.DataValue) => {
    const nodeId = item.itemToMonitor.nodeId.toString();
    const e = entries.find((x) => x.opcua_node_id === nodeId) as PlantMapEntry | undefined;
    if (!e || dataValue.value.value === null || dataValue.value.value === undefined) return;
    const v = dataValue.value.value as number | boolean;
    values.set(e.id, v);
    options.onValue?.(e.id, v);
  });

  const entryOf = (signal: string): PlantMapEntry => {
    const e = entries.find((x) => x.id === signal);
    if (!e) throw new GlimmerError('GLM_ERR_PLANT_ASSET_UNKNOWN', `no signal ${quote(signal)} in the plant map`);
    return e;
  };
  return {
    values,
    get sessionId() { return session.sessionId.toString(); },
    async read(signal) {
      const e = entryOf(signal);
      const dv = await session.read({ nodeId: e.opcua_node_id, attributeId: o.AttributeIds.Value });
      if (dv.statusCode.isNotGood()) throw new GlimmerError('GLM_ERR_OPCUA_CONNECT_FAILED', `OPC UA read of ${quote(signal)} refused: ${dv.statusCode.name}`);
      return dv.value.value as number | boolean;
    },
    async write(signal, value) {
      const e = entryOf(signal);
      const status = await session.write({ nodeId: e.opcua_node_id, attributeId: o.AttributeIds.Value, value: { value: new o.Variant({ dataType: e.type === 'bool' ? o.DataType.Boolean : o.DataType.Double, value }) } });
      if (status.value !== 0) throw new GlimmerError('GLM_ERR_INDUSTRIAL_COMMAND_FAILED', `OPC UA write of ${quote(signal)} refused: ${status.name}`);
    },
    async close() {
      unwatch();
      // While reconnecting (a refused or revoked certificate, a dead server) these would wait for a channel forever.
      await withTimeout(subscription.terminate(), 2000).catch(() => undefined);
      await withTimeout(session.close(), 2000).catch(() => undefined);
      await client.disconnect().catch(() => undefined);
      await cm.dispose().catch(() => undefined);
    },
  };
}

/**
 * Picks up renewed certificates without a restart. Own certificate: the cached one is dropped, so the next token
 * renewal and every new secure channel present the renewed one (its key is the same: clients are re-certified, see
 * issuer.ts). Server certificate: the next secure channel is opened to the renewed one. Polled (stat), because the
 * renewer replaces files by rename, which inode watches lose.
 */
function watchCertificates(client: Opcua.OPCUAClient, ownFile: string, serverFile: string | undefined, intervalMs: number, logger: Logger | undefined): () => void {
  const onOwn = (cur: fs.Stats, prev: fs.Stats) => {
    if (cur.mtimeMs === prev.mtimeMs && cur.ino === prev.ino) return;
    (client as unknown as { invalidateCachedCertificates(): void }).invalidateCachedCertificates();
    logger?.info({ file: ownFile }, 'OPC UA client certificate renewed; used from the next token renewal');
  };
  const onServer = (cur: fs.Stats, prev: fs.Stats) => {
    if (serverFile === undefined || (cur.mtimeMs === prev.mtimeMs && cur.ino === prev.ino) || cur.size === 0) return;
    try {
      (client as unknown as { serverCertificate?: Buffer }).serverCertificate = Buffer.from(new crypto.X509Certificate(fs.readFileSync(serverFile)).raw);
      logger?.info({ file: serverFile }, 'OPC UA server certificate changed; used for the next secure channel');
    } catch (err) {
      logger?.warn({ file: serverFile, err: (err as Error).message }, 'OPC UA server certificate file unreadable; keeping the previous one');
    }
  };
  fs.watchFile(ownFile, { interval: intervalMs, persistent: false }, onOwn);
  if (serverFile !== undefined) fs.watchFile(serverFile, { interval: intervalMs, persistent: false }, onServer);
  return () => {
    fs.unwatchFile(ownFile, onOwn);
    if (serverFile !== undefined) fs.unwatchFile(serverFile, onServer);
  };
}

function serverCertificate(stateDir: string): Buffer {
  const id = identityFor(stateDir, 'plant-server');
  if (!fs.existsSync(id.certificateFile)) throw new GlimmerError('GLM_ERR_OPCUA_CONNECT_FAILED', 'the plant server certificate is not provisioned in the state dir');
  return certificateDer(id);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}
