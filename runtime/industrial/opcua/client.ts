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
}

export interface PlantOpcuaClient {
  /** Writes an engineering value to a command signal (`safety_1.emergency_stop`). */
  write(signal: string, value: number | boolean): Promise<void>;
  /** Latest values received from the subscription. */
  readonly values: ReadonlyMap<string, number | boolean>;
  close(): Promise<void>;
}

/** Explicit trust provisioning: the plant server trusts this client's certificate and the client the server's. */
export async function provisionOpcuaTrust(stateDir: string, clientName: string, network?: OpcuaNetwork): Promise<void> {
  const server = identityFor(stateDir, 'plant-server');
  const client = identityFor(stateDir, clientName);
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
export function externalOpcuaSession(config: RuntimeConfig, agentName: string): Pick<PlantOpcuaClientOptions, 'endpointUrl' | 'user' | 'password' | 'serverCertificate'> | undefined {
  const o = config.plant.mode === 'external' ? config.plant.external?.opcua : undefined;
  if (o === undefined) return undefined;
  return {
    endpointUrl: o.endpointUrl,
    user: o.user ?? agentName,
    password: fs.readFileSync(o.passwordFile, 'utf8').trim(),
    serverCertificate: readCertificate(config.file, '/plant/external/opcua/server_certificate', o.serverCertificate),
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
    requestedSessionTimeout: 30_000,
    connectionStrategy: { initialDelay: 200, maxDelay: 2000, maxRetry: 0 },
  });
  const fail = (err: unknown): never => {
    const text = (err as Error)?.message ?? String(err);
    const untrusted = /Untrusted|BadCertificate|BadSecurityChecksFailed/i.test(text);
    throw new GlimmerError(untrusted ? 'GLM_ERR_OPCUA_CERT_UNTRUSTED' : 'GLM_ERR_OPCUA_CONNECT_FAILED', `cannot open an OPC UA session to ${quote(options.endpointUrl)}: ${text.split('\n')[0]}`, { cause: err });
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

  return {
    values,
    async write(signal, value) {
      const e = entries.find((x) => x.id === signal);
      if (!e) throw new GlimmerError('GLM_ERR_PLANT_ASSET_UNKNOWN', `no signal ${quote(signal)} in the plant map`);
      const status = await session.write({ nodeId: e.opcua_node_id, attributeId: o.AttributeIds.Value, value: { value: new o.Variant({ dataType: e.type === 'bool' ? o.DataType.Boolean : o.DataType.Double, value }) } });
      if (status.value !== 0) throw new GlimmerError('GLM_ERR_INDUSTRIAL_COMMAND_FAILED', `OPC UA write of ${quote(signal)} refused: ${status.name}`);
    },
    async close() {
      await subscription.terminate().catch(() => undefined);
      await session.close().catch(() => undefined);
      await client.disconnect().catch(() => undefined);
      await cm.dispose().catch(() => undefined);
    },
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
