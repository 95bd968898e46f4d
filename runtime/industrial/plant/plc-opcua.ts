/**
 * The simulated plant's OPC UA face (node-opcua server): Objects/Plant/<asset>/<signal> with engineering units
 * (AnalogItem EURange and EngineeringUnits), node ids from the address map (`ns=1;s=<asset>.<signal>`), and
 * Objects/Agents/<agent>/{State, LastDecision} for the agents' own state and decisions.
 *
 * Every node-opcua default that is unsafe is set explicitly: SignAndEncrypt only (Basic256Sha256, Aes256_Sha256_RsaPss),
 * no anonymous login, no discovery on the secure channel, its own certificate manager under the state dir that never
 * auto-accepts. Security None / anonymous only where the zone model allows it (security.ts).
 * Writes to command signals go through the same write decision as the gateway (zone: the writing user's zone).
 */
import type * as Opcua from 'node-opcua';
import { GlimmerError, quote } from '../../errors';
import type { Logger } from '../../observability/logger';
import type { Metrics } from '../../observability/metrics';
import { type WriteDecider, failSafeOnly } from '../write-decision';
import { certificateManager, identityFor, loadOpcua, sameSecret, userPassword, type OpcuaIdentity } from '../opcua/pki';
import type { OpcuaSecurity } from '../opcua/security';
import { OPCUA_NAMESPACE_INDEX, OPCUA_NAMESPACE_URI, type PlantMapEntry, plantMap, toRaw } from '../../model/plant-map';
import { signalValue } from './map';
import type { PlantRuntime } from './runtime';

export interface PlantOpcuaUser { readonly name: string; readonly zone: string }

export interface PlantOpcuaServerOptions {
  readonly plant: PlantRuntime;
  readonly stateDir: string;
  readonly port: number;
  readonly host?: string;
  /** The host name the server advertises in its endpoints (a plant server on another host: its address). @default localhost */
  readonly hostname?: string;
  /**
   * The fastest sampling the signals allow. 0: the read-only signals are exception-based (their values are pushed to
   * subscribers as the plant changes, no polling) and the writable ones sampled at 10 ms, as a fast PLC's server does.
   * @default 100
   */
  readonly minimumSamplingIntervalMs?: number;
  readonly security: OpcuaSecurity;
  /** Users allowed to open sessions (password under <stateDir>/opcua/users/<name>.password, created if missing). */
  readonly users: readonly PlantOpcuaUser[];
  /** Agents shown under Objects/Agents. */
  readonly agents?: readonly string[];
  readonly decide?: WriteDecider;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
}

export interface PlantOpcuaServer {
  readonly endpointUrl: string;
  readonly identity: OpcuaIdentity;
  readonly certificateManager: Opcua.OPCUACertificateManager;
  /** Shows an agent's lifecycle state and latest decision under Objects/Agents/<agent>. */
  publishAgent(agent: string, state: string, decision?: unknown): void;
  stop(): Promise<void>;
}

const EU: Record<string, keyof typeof Opcua.standardUnits> = {
  'm3/h': 'cubic_metre_per_hour', bar: 'bar', 'mm/s': 'metre_per_second', degC: 'degree_celsius', m: 'metre', '%': 'percent',
};
const EU_RANGE: Record<string, [number, number]> = { 'm3/h': [0, 20], bar: [0, 10], 'mm/s': [0, 50], degC: [-20, 150], m: [0, 4], '%': [0, 100] };

export async function startPlantOpcuaServer(options: PlantOpcuaServerOptions): Promise<PlantOpcuaServer> {
  const o = loadOpcua();
  const identity = identityFor(options.stateDir, 'plant-server');
  const serverCm = await certificateManager(identity);
  const userCm = await certificateManager(identityFor(options.stateDir, 'plant-server-users'));
  const passwords = new Map(options.users.map((u) => [u.name, { secret: userPassword(options.stateDir, u.name, true), zone: u.zone }]));
  const decide = options.decide ?? failSafeOnly;
  const modes = options.security.modes.map((m) => (m === 'None' ? o.MessageSecurityMode.None : o.MessageSecurityMode.SignAndEncrypt));
  const policies = options.security.policies.map((p) => (o.SecurityPolicy as unknown as Record<string, Opcua.SecurityPolicy>)[p] as Opcua.SecurityPolicy);

  const server = new o.OPCUAServer({
    port: options.port,
    host: options.host ?? '127.0.0.1',
    hostname: options.hostname ?? 'localhost',
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
      isValidUser: (username: string, password: string) => {
        const u = passwords.get(username);
        return u !== undefined && sameSecret(u.secret, password);
      },
      getUserRoles: (username: string) => (passwords.has(username) ? [o.WellKnownRoles.Operator, o.WellKnownRoles.AuthenticatedUser] : []),
    } as unknown as Opcua.UserManagerOptions,
  });
  try {
    await server.initialize();
  } catch (err) {
    throw new GlimmerError('GLM_ERR_OPCUA_SERVER_START_FAILED', `OPC UA server cannot initialise: ${(err as Error).message}`, { cause: err });
  }
  const addressSpace = server.engine.addressSpace as Opcua.AddressSpace;
  const ns = addressSpace.registerNamespace(OPCUA_NAMESPACE_URI);
  if (ns.index !== OPCUA_NAMESPACE_INDEX) throw new GlimmerError('GLM_ERR_OPCUA_SERVER_START_FAILED', `plant namespace got index ${ns.index}, expected ${OPCUA_NAMESPACE_INDEX}`);
  const plantFolder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Plant', nodeId: 's=Plant' });
  const agentsFolder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Agents', nodeId: 's=Agents' });

  const assets = new Map<string, Opcua.UAObject>();
  const variables = new Map<string, { v: Opcua.UAVariable; e: PlantMapEntry; last: number | boolean | undefined; pushed: boolean }>();
  const eventDriven = options.minimumSamplingIntervalMs === 0;
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
    const set = writable ? (variant: Opcua.Variant): Opcua.StatusCode => write(e, variant) : undefined;
    let v: Opcua.UAVariable;
    if (bool) {
      v = ns.addVariable({ ...common, dataType: 'Boolean', value: pushed ? variant(e, signalValue(snap(), e)) : { get: () => new o.Variant({ dataType: o.DataType.Boolean, value: signalValue(snap(), e) as boolean }), ...(set ? { set } : {}) } } as Opcua.AddVariableOptions);
    } else {
      const unitKey = EU[e.unit];
      v = ns.addAnalogDataItem({
        ...common, dataType: 'Double',
        engineeringUnitsRange: { low: (EU_RANGE[e.unit] ?? [0, 100])[0], high: (EU_RANGE[e.unit] ?? [0, 100])[1] },
        ...(unitKey ? { engineeringUnits: o.standardUnits[unitKey] as Opcua.EUInformation } : {}),
        value: pushed ? variant(e, signalValue(snap(), e)) : { get: () => new o.Variant({ dataType: o.DataType.Double, value: signalValue(snap(), e) as number }), ...(set ? { set } : {}) },
      } as unknown as Opcua.AddAnalogDataItemOptions);
    }
    variables.set(e.id, { v, e, last: undefined, pushed });
  }

  function write(e: PlantMapEntry, variant: Opcua.Variant): Opcua.StatusCode {
    const value = variant.value as unknown;
    if (typeof value !== (e.type === 'bool' ? 'boolean' : 'number')) return o.StatusCodes.BadTypeMismatch;
    const raw = toRaw(e, value as number | boolean);
    const decision = decide({ zone: 'control', connectionId: 0, unitId: e.unit_id, functionCode: 0, table: e.table as 'coil' | 'holding', address: e.address, count: 1, signals: [e], values: [raw], safety: e.safety });
    if (!decision.allow) {
      options.logger?.warn({ signal: e.id, reason: decision.reason ?? 'denied' }, 'OPC UA write refused');
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

  server.on('session_activated', () => options.metrics?.opcuaSessions.set(server.currentSessionCount));
  server.on('session_closed', () => options.metrics?.opcuaSessions.set(server.currentSessionCount));
  serverCm.on?.('certificateRejected' as never, () => options.metrics?.opcuaCertificatesRejected.inc({ side: 'server' }));

  try {
    await server.start();
  } catch (err) {
    unsubscribe();
    await server.shutdown(0).catch(() => undefined);
    throw new GlimmerError('GLM_ERR_OPCUA_SERVER_START_FAILED', `OPC UA server cannot listen on port ${quote(options.port)}: ${(err as Error).message}`, { cause: err });
  }
  const endpointUrl = `opc.tcp://${options.hostname ?? 'localhost'}:${options.port === 0 ? (server.endpoints[0]?.port ?? 0) : options.port}`;
  options.logger?.info({ endpoint: endpointUrl, modes: options.security.modes, policies: options.security.policies }, 'plant OPC UA server listening');
  return {
    endpointUrl,
    identity,
    certificateManager: serverCm,
    publishAgent(agent, state, decision) {
      const n = agentNodes.get(agent);
      if (!n) return;
      n.state.setValueFromSource(new o.Variant({ dataType: o.DataType.String, value: String(state).slice(0, 32) }));
      if (decision !== undefined) n.decision.setValueFromSource(new o.Variant({ dataType: o.DataType.String, value: JSON.stringify(decision).slice(0, 4096) }));
    },
    async stop() {
      unsubscribe();
      await server.shutdown(0);
    },
  };
}
