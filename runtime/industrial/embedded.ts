/**
 * The embedded plant of `make run` / `glimmer run`, started by the supervisor process: the simulated plant, its PLC on
 * a Unix socket only the gateway connects to, the plant OPC UA server, and the Modbus security gateway in front of the
 * PLC with one listener per client zone (operations on `modbusPort`, then control and safety on the next ports).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RuntimeConfig } from '../config/types';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { ModbusGateway } from './modbus/gateway';
import type { AuditRecordInput } from '../model/messages';
import type { GatewayAuditSink, WriteEvidence } from './modbus/inspector';
import { composeWriteDecision, type InterlockProfile, type WriteDecider } from './write-decision';
import type { ReadPolicy } from './read-decision';
import { provisionOpcuaTrust } from './opcua/client';
import { opcuaNetwork } from './opcua/network';
import { OpcuaCertificateLifecycle } from './opcua/lifecycle';
import { identityFor } from './opcua/pki';
import { opcuaSecurityFor } from './opcua/security';
import type { OpcuaUserStore } from './opcua/users';
import { PROCESS_UNIT_ID, SAFETY_UNIT_ID } from '../model/plant-map';
import { MAX_SOCKET_PATH_BYTES, startSimulatedPlc, type SimulatedPlc } from './plant/plc-modbus';
import { startPlantOpcuaServer, type PlantOpcuaServer } from './plant/plc-opcua';
import { PlantRuntime } from './plant/runtime';
import { PROCESS_ZONE, SIMULATED_PLANT_PROFILE } from '../model/plant';
import { consecutivePorts, startZoneGateway } from './zone-gateway';

/** What the runtime hands to the plant it starts, embedded or external. */
export interface PlantStartOptions {
  readonly config: RuntimeConfig;
  readonly stateDir: string;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Receives the gateway's decisions in batches (`type: 'modbus.decision'`), never one call per frame. */
  readonly audit: GatewayAuditSink;
  /** Write-ahead audit of allowed gateway writes (control follows evidence). @default - none: batched like reads */
  readonly evidence?: WriteEvidence;
  /**
   * Step 1 of the write decision (write-decision.ts): who may write what (the trust PDP's `gatewayDecide`).
   * The plant adds the interlock steps itself, from its own process image.
   * @default failSafeOnly: of the safety writes, only tripping the emergency stop
   */
  readonly policy?: WriteDecider;
  /** Who may read what at the gateway (the trust PDP's `gatewayReadPolicy`). @default - the zone rules only */
  readonly readPolicy?: ReadPolicy;
  /** The plant's interlock topology and limits. @default SIMULATED_PLANT_PROFILE */
  readonly profile?: InterlockProfile;
}

export interface EmbeddedPlantOptions extends PlantStartOptions {
  /** First gateway listener port (operations); control and safety listen on the next two. @default 5020 */
  readonly modbusPort?: number;
  /** @default config opcua.port (4840) */
  readonly opcuaPort?: number;
  /** Receives the OPC UA server's records (writes, certificate and session events), apart from the gateway's decisions. */
  readonly opcuaAudit?: (records: AuditRecordInput[]) => void;
  /** OPC UA role accounts (viewer, operator, engineer) the plant server accepts besides the agents. */
  readonly opcuaAccounts?: OpcuaUserStore;
  /** @default '127.0.0.1' */
  readonly host?: string;
}

export interface EmbeddedPlant {
  readonly plant: PlantRuntime;
  readonly gateway: ModbusGateway;
  readonly opcua: PlantOpcuaServer;
  /** Glimmer's OPC UA issuer and the renewal of the plant server's and the industrial agents' certificates. */
  readonly certificates: OpcuaCertificateLifecycle;
  readonly plc: SimulatedPlc;
  /**
   * Addresses for AgentContext.endpoints: `opcua` (opc.tcp URL), `modbus_<zone>` (host:port of the gateway listener
   * for that client zone), `plc_modbus` (`unix:<path>` of the PLC's socket, for diagnostics only: only the runtime's
   * user can connect to it).
   */
  readonly endpoints: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export async function startEmbeddedPlant(options: EmbeddedPlantOptions): Promise<EmbeddedPlant> {
  const { config, logger } = options;
  const host = options.host ?? '127.0.0.1';
  const plant = new PlantRuntime({ seed: config.plant.seed, tickMs: config.plant.tickMs });
  plant.start();
  const decide = composeWriteDecision({ policy: options.policy, profile: options.profile ?? SIMULATED_PLANT_PROFILE, image: () => plant.snapshot });
  const started: { stop(): Promise<void> }[] = [{ stop: async () => plant.stop() }];
  try {
    const socket = plcSocketPath(options.stateDir);
    const plc = await startSimulatedPlc({ plant, path: socket.path });
    started.push({ stop: async () => { await plc.close(); socket.remove(); } });

    const industrial = config.agents.filter((a) => a.kind === 'industrial');
    const network = opcuaNetwork(config.opcua);
    const certificates = await OpcuaCertificateLifecycle.open(options.stateDir, { lifetime: config.opcua.certificateLifetime, logger, ...(options.metrics ? { metrics: options.metrics } : {}), ...(options.opcuaAudit ? { audit: options.opcuaAudit } : {}) });
    started.push({ stop: async () => certificates.stop() });
    for (const a of industrial) {
      await provisionOpcuaTrust(options.stateDir, a.name, network, certificates.issuer);
      // The agent process notices its renewed certificate file itself (client.ts); the issuer's key stays here.
      await certificates.manage(identityFor(options.stateDir, a.name), 'client', { dns: ['localhost'], ips: [] });
    }
    const opcuaPort = options.opcuaPort ?? config.opcua.port;
    const opcua = await startPlantOpcuaServer({
      // Event-driven: a plant change reaches the Industrial agent's subscription as it happens, not at the next sample.
      plant, stateDir: options.stateDir, port: opcuaPort, network, security: opcuaSecurityFor(config, PROCESS_ZONE), minimumSamplingIntervalMs: 0,
      users: industrial.map((a) => ({ name: a.name, zone: a.zone })), agents: config.agents.map((a) => a.name),
      decide, logger, metrics: options.metrics, audit: options.opcuaAudit, certificates, trustDomain: config.topology.trust_domain, ...(options.opcuaAccounts ? { accounts: options.opcuaAccounts } : {}),
    });
    started.push(opcua);

    const { gateway, ports } = await startZoneGateway({
      config, logger, metrics: options.metrics, audit: options.audit, evidence: options.evidence, decide, readPolicy: options.readPolicy, host,
      ports: consecutivePorts(config, options.modbusPort ?? 5020),
      routes: [PROCESS_UNIT_ID, SAFETY_UNIT_ID].map((unitId) => ({ unitId, host, port: 0, path: socket.path })),
    });
    started.push(gateway);
    await gateway.ready(5000);

    const endpoints: Record<string, string> = { opcua: opcua.endpointUrl, plc_modbus: `unix:${socket.path}` };
    for (const [zone, port] of Object.entries(ports)) endpoints[`modbus_${zone}`] = `${host}:${port}`;
    logger.info({ endpoints }, 'embedded plant started');
    let stopped = false;
    return {
      plant, gateway, opcua, certificates, plc, endpoints,
      async stop() {
        if (stopped) return;
        stopped = true;
        for (const s of started.reverse()) await s.stop().catch((err: Error) => logger.warn({ err: err.message }, 'embedded plant: stop failed'));
      },
    };
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    throw err;
  }
}

/**
 * Where the simulated PLC listens: `<state-dir>/run/plc-modbus.sock` (the directory mode 0700). A state dir whose path
 * would make the socket path too long for Linux gets a private temporary directory instead (mode 0700 too), removed
 * when the plant stops.
 */
export function plcSocketPath(stateDir: string): { path: string; remove(): void } {
  const inState = path.join(path.resolve(stateDir), 'run', 'plc-modbus.sock');
  if (Buffer.byteLength(inState) <= MAX_SOCKET_PATH_BYTES) return { path: inState, remove: () => fs.rmSync(inState, { force: true }) };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-plc-'));
  return { path: path.join(dir, 'plc-modbus.sock'), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
