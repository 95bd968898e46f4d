/**
 * The simulated plant's OPC UA face (node-opcua server): Objects/Plant/<asset>/<signal> with engineering units
 * (AnalogItem EURange and EngineeringUnits), node ids from the address map (`ns=1;s=<asset>.<signal>`), and
 * Objects/Agents/<agent>/{State, LastDecision} for the agents' own state and decisions.
 *
 * Every node-opcua default that is unsafe is set explicitly: SignAndEncrypt only (Basic256Sha256, Aes256_Sha256_RsaPss),
 * no anonymous login, no discovery on the secure channel, its own certificate manager under the state dir that never
 * auto-accepts. Security None / anonymous only where the zone model allows it (security.ts).
 * Writes to command signals go through the same write decision as the gateway (zone: the writing user's zone), with
 * the writer's OPC UA identity (user, role, application URI) in the audit record; viewers never write.
 *
 * Accounts: the industrial agents' own (password file per agent) and the role accounts of people and SCADA clients
 * (users.ts, scrypt hashes). Only user name tokens are offered: an X509 user token policy is not advertised.
 * Security events (refused certificates and channels, failed activations) are counted in metrics and aggregated into
 * the audit log (events.ts). The session gauge counts activated sessions only.
 */
import type * as Opcua from 'node-opcua';
import { GlimmerError, quote } from '../../errors';
import type { AuditRecordInput } from '../../model/messages';
import type { Logger } from '../../observability/logger';
import type { Metrics } from '../../observability/metrics';
import { type WriteDecider, failSafeOnly } from '../write-decision';
import { SecurityEventAggregator } from '../opcua/events';
import { certificateDer, certificateManager, describeCertificate, splitChain, ensureOwnCertificate, identityFor, loadOpcua, routeLibraryLogs, sameSecret, userPassword, type OpcuaIdentity } from '../opcua/pki';
import type { OpcuaSecurity } from '../opcua/security';
import { trustIssuer } from '../opcua/issuer';
import type { OpcuaCertificateLifecycle } from '../opcua/lifecycle';
import type { OpcuaCertificateRenewer } from '../opcua/renewal';
import { OpcuaTrustStore } from '../opcua/trust';
import { defaultOpcuaNetwork, type OpcuaNetwork } from '../opcua/network';
import { operatorName, type OpcuaUserStore, type OpcuaRole } from '../opcua/users';
import { OPCUA_NAMESPACE_INDEX, OPCUA_NAMESPACE_URI, type PlantMapEntry, plantMap, toRaw } from '../../model/plant-map';
import { signalValue } from './map';
import type { PlantRuntime } from './runtime';

export interface PlantOpcuaUser { readonly name: string; readonly zone: string }

export interface PlantOpcuaServerOptions {
  readonly plant: PlantRuntime;
  readonly stateDir: string;
  readonly port: number;
  /** Bind address, advertised host names and certificate SANs. @default loopback, advertised as localhost */
  readonly network?: OpcuaNetwork;
  /**
   * The fastest sampling the signals allow. 0: the read-only signals are exception-based (their values are pushed to
   * subscribers as the plant changes, no polling) and the writable ones sampled at 10 ms, and subscriptions may publish
   * every 10 ms (node-opcua's own floor is 50 ms), as a fast PLC's server does.
   * @default 100
   */
  readonly minimumSamplingIntervalMs?: number;
  readonly security: OpcuaSecurity;
  /**
   * Glimmer's OPC UA issuer and renewal: the server's certificate is issued by it and renewed ahead of expiry, and
   * client certificates it signed are trusted through it. @default a self-signed certificate, never renewed
   */
  readonly certificates?: OpcuaCertificateLifecycle;
  /** Role accounts (viewer, operator, engineer) besides the agents' own. */
  readonly accounts?: OpcuaUserStore;
  /** Receives write decisions and aggregated security events. */
  readonly audit?: (records: AuditRecordInput[]) => void;
  /** Trust domain of the writers' SPIFFE IDs in policy requests. @default 'glimmer.local' */
  readonly trustDomain?: string;
  /** Aggregation window of security events in the audit log. @default 10000 */
  readonly securityEventWindowMs?: number;
  /** Users allowed to open sessions (password under <stateDir>/opcua/users/<name>.password, created if missing). */
  readonly users: readonly PlantOpcuaUser[];
  /** Agents shown under Objects/Agents. */
  readonly agents?: readonly string[];
  readonly decide?: WriteDecider;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
}

/** Who wrote over OPC UA: the session's user and the client application's URI. */
export interface OpcuaWriter {
  /** SPIFFE ID the policy decides for: the agent's, or the account's operator (opcua-<name>). */
  readonly principal: string;
  readonly user: string;
  readonly role: OpcuaRole | 'agent' | 'unknown';
  readonly zone: string;
  readonly applicationUri: string;
}

export interface PlantOpcuaServer {
  readonly endpointUrl: string;
  /** Every advertised endpoint URL (one per advertised host name). */
  readonly endpointUrls: readonly string[];
  readonly identity: OpcuaIdentity;
  readonly certificateManager: Opcua.OPCUACertificateManager;
  /** The client certificate trust list (add, revoke: revoking closes the certificate's sessions). */
  readonly trust: OpcuaTrustStore;
  /** Thumbprints (SHA-1 hex) of the client certificates of the open secure channels. */
  peerThumbprints(): string[];
  /** Shows an agent's lifecycle state and latest decision under Objects/Agents/<agent>. */
  publishAgent(agent: string, state: string, decision?: unknown): void;
  /** Closes every live session and secure channel of the client certificate with this SHA-1 thumbprint (hex). */
  dropPeer(thumbprint: string): number;
  /** Activated sessions now. */
  readonly activatedSessions: number;
  stop(): Promise<void>;
}

const EU: Record<string, keyof typeof Opcua.standardUnits> = {
  'm3/h': 'cubic_metre_per_hour', bar: 'bar', 'mm/s': 'metre_per_second', degC: 'degree_celsius', m: 'metre', '%': 'percent',
};
const EU_RANGE: Record<string, [number, number]> = { 'm3/h': [0, 20], bar: [0, 10], 'mm/s': [0, 50], degC: [-20, 150], m: [0, 4], '%': [0, 100] };

export async function startPlantOpcuaServer(options: PlantOpcuaServerOptions): Promise<PlantOpcuaServer> {
  if (options.logger) routeLibraryLogs(options.logger);
  const o = loadOpcua();
  const network = options.network ?? defaultOpcuaNetwork();
  const identity = identityFor(options.stateDir, 'plant-server');
  const events = new SecurityEventAggregator({ emit: (records) => options.audit?.(records), ...(options.securityEventWindowMs !== undefined ? { windowMs: options.securityEventWindowMs } : {}) });
  const serverCm = await certificateManager(identity, {
    onRefused: (r) => {
      options.metrics?.opcuaCertificatesRejected.inc({ side: 'server', status: r.status });
      events.record({ kind: 'certificate_refused', status: r.status, subject: r.thumbprint, detail: { subject: r.subject } });
    },
    createOwn: options.certificates === undefined,
  });
  let renewer: OpcuaCertificateRenewer | undefined;
  // The server is created after its certificate: the renewal callback finds it here.
  const running: { server?: Opcua.OPCUAServer } = {};
  if (options.certificates !== undefined) {
    await trustIssuer(serverCm, options.certificates.issuer);
    // Open channels keep the certificate and key they were opened with (node-opcua pins them per channel), so
    // sessions continue; new channels and endpoint descriptions take the new one.
    renewer = await options.certificates.manage(identity, 'server', { dns: network.certificateDns, ips: network.certificateIps }, () => {
      if (running.server !== undefined) o.invalidateServerCertificateCache(running.server);
    });
  } else if (await ensureOwnCertificate(identity, serverCm, network) === 'reissued') {
    options.logger?.warn({ dns: network.certificateDns, ip: network.certificateIps }, 'OPC UA server certificate reissued: its host names or addresses changed; clients must trust the new one');
    options.audit?.([{ type: 'opcua.certificate_reissued', ...describeCertificate(certificateDer(identity)), dns: network.certificateDns.join(','), ip: network.certificateIps.join(',') }]);
  }
  const userCm = await certificateManager(identityFor(options.stateDir, 'plant-server-users'));
  const passwords = new Map(options.users.map((u) => [u.name, { secret: userPassword(options.stateDir, u.name, true), zone: u.zone }]));
  const roleOf = (username: string): OpcuaWriter['role'] => (passwords.has(username) ? 'agent' : options.accounts?.get(username)?.role ?? 'unknown');
  const decide = options.decide ?? failSafeOnly;
  const modes = options.security.modes.map((m) => (m === 'None' ? o.MessageSecurityMode.None : o.MessageSecurityMode.SignAndEncrypt));
  const policies = options.security.policies.map((p) => (o.SecurityPolicy as unknown as Record<string, Opcua.SecurityPolicy>)[p] as Opcua.SecurityPolicy);

  const [mainHost, ...otherHosts] = network.advertisedHosts;
  const server = new o.OPCUAServer({
    port: options.port,
    host: network.host,
    hostname: mainHost ?? 'localhost',
    alternateHostname: otherHosts,
    securityModes: modes,
    securityPolicies: policies,
    allowAnonymous: options.security.allowAnonymous,
    disableDiscovery: true,
    serverCertificateManager: serverCm,
    userCertificateManager: userCm,
    certificateFile: identity.certificateFile,
    privateKeyFile: identity.privateKeyFile,
    serverInfo: { applicationUri: identity.applicationUri, productUri: 'urn:glimmer:plant', applicationName: { text: 'Glimmer simulated plant' } },
    buildInfo: { productName: 'Glimmer simulated plant', manufacturerName: 'Glimmer', softwareVersion: '0.1.0' },
    maxConnectionsPerEndpoint: 32,
    isAuditing: false,
    userManager: {
      isValidUserAsync: (username: string, password: string, callback: (err: Error | null, ok?: boolean) => void) => {
        const u = passwords.get(username);
        if (u !== undefined) { callback(null, sameSecret(u.secret, password)); return; }
        if (options.accounts === undefined) { callback(null, false); return; }
        options.accounts.verify(username, password).then((a) => callback(null, a !== undefined), (err: Error) => callback(err));
      },
      getUserRoles: (username: string) => {
        const role = roleOf(username);
        const wk = o.WellKnownRoles;
        const mapped = role === 'agent' || role === 'operator' ? [wk.Operator] : role === 'engineer' ? [wk.Engineer] : role === 'viewer' ? [wk.Observer] : [];
        return mapped.length > 0 ? [...mapped, wk.AuthenticatedUser] : [];
      },
    } as unknown as Opcua.UserManagerOptions,
  });
  running.server = server;
  try {
    await server.initialize();
  } catch (err) {
    throw new GlimmerError('GLM_ERR_OPCUA_SERVER_START_FAILED', `OPC UA server cannot initialise: ${(err as Error).message}`, { cause: err });
  }
  // node-opcua offers an X509 user token policy it then refuses (no certificate-to-user mapping here): not advertised.
  for (const endpoint of server.endpoints) {
    for (const d of endpoint.endpointDescriptions()) {
      d.userIdentityTokens = (d.userIdentityTokens ?? []).filter((t) => t.tokenType !== o.UserTokenType.Certificate);
    }
  }
  const addressSpace = server.engine.addressSpace as Opcua.AddressSpace;
  const ns = addressSpace.registerNamespace(OPCUA_NAMESPACE_URI);
  if (ns.index !== OPCUA_NAMESPACE_INDEX) throw new GlimmerError('GLM_ERR_OPCUA_SERVER_START_FAILED', `plant namespace got index ${ns.index}, expected ${OPCUA_NAMESPACE_INDEX}`);
  const plantFolder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Plant', nodeId: 's=Plant' });
  const agentsFolder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Agents', nodeId: 's=Agents' });

  const assets = new Map<string, Opcua.UAObject>();
  const variables = new Map<string, { v: Opcua.UAVariable; e: PlantMapEntry; last: number | boolean | undefined; pushed: boolean }>();
  const eventDriven = options.minimumSamplingIntervalMs === 0;
  // Process-wide in node-opcua (a static): this process serves one plant.
  if (eventDriven) o.Subscription.minimumPublishingInterval = 10;
  const variant = (e: PlantMapEntry, value: number | boolean) => new o.Variant({ dataType: e.type === 'bool' ? o.DataType.Boolean : o.DataType.Double, value });
  const snap = () => options.plant.snapshot;
  for (const e of plantMap()) {
    let asset = assets.get(e.asset);
    if (!asset) { asset = ns.addObject({ organizedBy: plantFolder, browseName: e.asset, nodeId: `s=${e.asset}` }); assets.set(e.asset, asset); }
    const writable = e.writable_from.length > 0;
    const bool = e.type === 'bool';
    const common = {
      componentOf: asset, browseName: e.signal, nodeId: `s=${e.id}`, description: e.description,
      accessLevel: writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead', userAccessLevel: writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      minimumSamplingInterval: eventDriven ? (writable ? 10 : 0) : (options.minimumSamplingIntervalMs ?? 100),
    };
    // Exception-based signals hold their value (set on every change below); the others are read when sampled.
    const pushed = eventDriven && !writable;
    let v: Opcua.UAVariable;
    if (bool) {
      v = ns.addVariable({ ...common, dataType: 'Boolean', value: pushed ? variant(e, signalValue(snap(), e)) : { get: () => new o.Variant({ dataType: o.DataType.Boolean, value: signalValue(snap(), e) as boolean }) } } as Opcua.AddVariableOptions);
    } else {
      const unitKey = EU[e.unit];
      v = ns.addAnalogDataItem({
        ...common, dataType: 'Double',
        engineeringUnitsRange: { low: (EU_RANGE[e.unit] ?? [0, 100])[0], high: (EU_RANGE[e.unit] ?? [0, 100])[1] },
        ...(unitKey ? { engineeringUnits: o.standardUnits[unitKey] as Opcua.EUInformation } : {}),
        value: pushed ? variant(e, signalValue(snap(), e)) : { get: () => new o.Variant({ dataType: o.DataType.Double, value: signalValue(snap(), e) as number }) },
      } as unknown as Opcua.AddAnalogDataItemOptions);
    }
    // The write handler sees the session (a value setter does not): the writer's identity goes into the decision record.
    if (writable) {
      (v as unknown as { writeValue: unknown }).writeValue = (context: Opcua.ISessionContext, dataValue: Opcua.DataValue, ...rest: unknown[]) => {
        const status = write(e, dataValue.value, writerOf(context));
        const callback = rest[rest.length - 1];
        if (typeof callback === 'function') { (callback as (err: Error | null, s: Opcua.StatusCode) => void)(null, status); return undefined; }
        return Promise.resolve(status);
      };
    }
    variables.set(e.id, { v, e, last: undefined, pushed });
  }

  function writerOf(context: Opcua.ISessionContext | undefined): OpcuaWriter {
    const session = (context as { session?: { userIdentityToken?: { userName?: string }; clientDescription?: { applicationUri?: string | null } } } | undefined)?.session;
    const user = session?.userIdentityToken?.userName ?? 'anonymous';
    const role = roleOf(user);
    const zone = passwords.get(user)?.zone ?? options.accounts?.get(user)?.zone ?? 'unknown';
    const td = options.trustDomain ?? 'glimmer.local';
    const principal = role === 'agent' ? `spiffe://${td}/zone/${zone}/agent/${user}` : `spiffe://${td}/operator/${operatorName(user)}`;
    return { principal, user, role, zone, applicationUri: session?.clientDescription?.applicationUri ?? '' };
  }

  function write(e: PlantMapEntry, variant: Opcua.Variant, writer: OpcuaWriter): Opcua.StatusCode {
    const value = variant.value as unknown;
    if (typeof value !== (e.type === 'bool' ? 'boolean' : 'number')) return o.StatusCodes.BadTypeMismatch;
    const raw = toRaw(e, value as number | boolean);
    const decision = writer.role === 'viewer' || writer.role === 'unknown'
      ? { allow: false, reason: `OPC UA role ${writer.role} may not write` }
      // The policy sees the write as the Modbus write of one coil (5) or register (6) it is, by the session's user.
      : decide({
        zone: writer.zone, connectionId: 0, unitId: e.unit_id, functionCode: e.table === 'coil' ? 5 : 6, table: e.table as 'coil' | 'holding', address: e.address,
        quantity: 1, signals: [e], values: [raw], safety: e.safety, principal: writer.principal, protocol: 'opcua', applicationUri: writer.applicationUri,
      });
    options.audit?.([{
      type: 'opcua.write', signal: e.id, value: raw, allow: decision.allow, ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
      principal: writer.principal, user: writer.user, role: writer.role, zone: writer.zone, application_uri: writer.applicationUri,
    }]);
    if (!decision.allow) {
      options.logger?.warn({ signal: e.id, user: writer.user, application_uri: writer.applicationUri, reason: decision.reason ?? 'denied' }, 'OPC UA write refused');
      return o.StatusCodes.BadUserAccessDenied;
    }
    try { options.plant.writeRaw(e, raw); } catch { return o.StatusCodes.BadOutOfRange; }
    return o.StatusCodes.Good;
  }

  // Push changes to subscribers on every plant tick (not only when sampled).
  const unsubscribe = options.plant.onSnapshot((s) => {
    for (const item of variables.values()) {
      const value = signalValue(s, item.e);
      if (value === item.last) continue;
      item.last = value;
      if (item.pushed) item.v.setValueFromSource(variant(item.e, value));
      else item.v.touchValue();
    }
  });

  const agentNodes = new Map<string, { state: Opcua.UAVariable; decision: Opcua.UAVariable }>();
  for (const agent of options.agents ?? []) {
    const obj = ns.addObject({ organizedBy: agentsFolder, browseName: agent, nodeId: `s=Agents.${agent}` });
    const state = ns.addVariable({ componentOf: obj, browseName: 'State', nodeId: `s=Agents.${agent}.State`, dataType: 'String', value: new o.Variant({ dataType: o.DataType.String, value: 'INIT' }) });
    const decision = ns.addVariable({ componentOf: obj, browseName: 'LastDecision', nodeId: `s=Agents.${agent}.LastDecision`, dataType: 'String', value: new o.Variant({ dataType: o.DataType.String, value: '' }) });
    agentNodes.set(agent, { state, decision });
  }

  // Sessions count once activated; node-opcua's own count includes created sessions that never activate.
  const activated = new Set<string>();
  const sessionKey = (s: Opcua.ServerSession) => s.nodeId.toString();
  server.on('session_activated', (s: Opcua.ServerSession) => { activated.add(sessionKey(s)); options.metrics?.opcuaSessions.set(activated.size); });
  server.on('session_closed', (s: Opcua.ServerSession) => { activated.delete(sessionKey(s)); options.metrics?.opcuaSessions.set(activated.size); });
  type Channel = { remoteAddress?: string; clientCertificate?: Buffer | null; abruptlyInterrupt(): void };
  const channels = new Set<Channel>();
  // A client may send its certificate chain (leaf first): it is named by its leaf.
  const leafThumbprint = (chain: Buffer) => describeCertificate(splitChain(chain)[0] ?? chain).thumbprint;

  server.on('newChannel', (c: Channel & { on(event: string, fn: (status: Opcua.StatusCode) => void): void }) => {
    channels.add(c);
    // Emitted by the patched secure channel (patches/) with the status code of the ERR message the client gets.
    c.on('open_secure_channel_refused', (status) => {
      options.metrics?.opcuaChannelRefusals.inc({ status: status.name });
      events.record({ kind: 'channel_refused', status: status.name, source: c.remoteAddress ?? 'unknown', subject: c.clientCertificate ? leafThumbprint(c.clientCertificate) : '' });
    });
  });
  server.on('closeChannel', (c: Channel) => channels.delete(c));
  // Failed activations: the request says who tried, the response (matched by request handle) whether it failed.
  const activations = new Map<number, { user: string; token: string; source: string }>();
  server.on('request', (req: unknown, channel: unknown) => {
    if (!(req instanceof o.ActivateSessionRequest)) return;
    const request = req;
    if (activations.size > 1024) activations.clear();
    const token = request.userIdentityToken as unknown as { userName?: string; constructor: { name: string } } | null;
    activations.set(request.requestHeader.requestHandle, { user: token?.userName ?? '', token: token?.constructor.name ?? 'none', source: (channel as Channel).remoteAddress ?? 'unknown' });
  });
  server.on('response', (response: { responseHeader: { requestHandle: number; serviceResult: Opcua.StatusCode } }) => {
    const a = activations.get(response.responseHeader.requestHandle);
    if (a === undefined) return;
    activations.delete(response.responseHeader.requestHandle);
    const status = response.responseHeader.serviceResult;
    if (status.isGood()) return;
    options.metrics?.opcuaActivationFailures.inc({ status: status.name });
    events.record({ kind: 'activation_failed', status: status.name, source: a.source, subject: a.user, detail: { token: a.token } });
  });

  try {
    await server.start();
  } catch (err) {
    renewer?.stop();
    unsubscribe();
    events.stop();
    await server.shutdown(0).catch(() => undefined);
    throw new GlimmerError('GLM_ERR_OPCUA_SERVER_START_FAILED', `OPC UA server cannot listen on ${quote(network.host)} port ${quote(options.port)}: ${(err as Error).message}`, { cause: err });
  }
  function dropPeer(thumbprint: string): number {
    const want = thumbprint.toLowerCase();
    const matches = (cert: Buffer | null | undefined) => cert !== null && cert !== undefined && cert.length > 0 && leafThumbprint(cert) === want;
    let dropped = 0;
    const engine = server.engine as unknown as { closeSession(token: Opcua.NodeId, deleteSubscriptions: boolean, reason: string): void; _sessions: Record<string, Opcua.ServerSession & { authenticationToken: Opcua.NodeId; channel?: Channel }> };
    for (const session of Object.values(engine._sessions)) {
      if (!matches(session.channel?.clientCertificate)) continue;
      engine.closeSession(session.authenticationToken, true, 'Terminated');
      dropped += 1;
    }
    for (const c of [...channels]) if (matches(c.clientCertificate)) { c.abruptlyInterrupt(); channels.delete(c); }
    return dropped;
  }
  const trust = new OpcuaTrustStore(serverCm, options.certificates ? { issuer: options.certificates.issuer } : {});
  trust.onCloseSessions(dropPeer);

  const port = options.port === 0 ? (server.endpoints[0]?.port ?? 0) : options.port;
  const endpointUrls = network.advertisedHosts.map((h) => `opc.tcp://${h.includes(':') ? `[${h}]` : h}:${port}`);
  const endpointUrl = endpointUrls[0] ?? `opc.tcp://localhost:${port}`;
  options.logger?.info({ endpoints: endpointUrls, bind: network.host, modes: options.security.modes, policies: options.security.policies }, 'plant OPC UA server listening');
  return {
    endpointUrl,
    endpointUrls,
    identity,
    get activatedSessions() { return activated.size; },
    dropPeer,
    trust,
    peerThumbprints: () => [...channels].flatMap((c) => (c.clientCertificate ? [leafThumbprint(c.clientCertificate)] : [])),
    certificateManager: serverCm,
    publishAgent(agent, state, decision) {
      const n = agentNodes.get(agent);
      if (!n) return;
      n.state.setValueFromSource(new o.Variant({ dataType: o.DataType.String, value: String(state).slice(0, 32) }));
      if (decision !== undefined) n.decision.setValueFromSource(new o.Variant({ dataType: o.DataType.String, value: JSON.stringify(decision).slice(0, 4096) }));
    },
    async stop() {
      renewer?.stop();
      unsubscribe();
      events.stop();
      await server.shutdown(0);
    },
  };
}
