/**
 * The real plant (plant.mode external): no simulator, no simulated PLC, no OPC UA server of our own. The runtime still
 * runs the zone-enforcing Modbus gateway (it is the enforcement point) with the configured PLCs as its upstreams, and
 * polls the process image the interlocks need from those PLCs through the gateway's own upstream connections. The
 * Industrial Agent talks to the plant's OPC UA server directly (endpoints.opcua, certificates provisioned here).
 */
import type { ExternalPlant } from '../config/types';
import type { PlantStartOptions } from './embedded';
import type { ModbusGateway } from './modbus/gateway';
import { composeWriteDecision } from './write-decision';
import { SIMULATED_PLANT_PROFILE } from '../model/plant';
import { provisionExternalOpcuaTrust } from './opcua/client';
import { PROCESS_UNIT_ID, SAFETY_UNIT_ID } from '../model/plant-map';
import { PolledProcessImage, upstreamReader } from './process-image';
import { consecutivePorts, startZoneGateway } from './zone-gateway';

export interface ExternalPlantOptions extends PlantStartOptions {
  /** Run the gateway and the poller (false in a pod that supervises no Industrial Agent). @default true */
  readonly gateway?: boolean;
  /** Overrides the configured listener ports: operations on this one, the other zones on the next (0: any free). */
  readonly modbusPort?: number;
  /** How long to wait for the PLCs before serving anyway (writes fail closed until the image is fresh). @default 2000 */
  readonly connectWaitMs?: number;
}

export interface ExternalPlantConnection {
  readonly external: ExternalPlant;
  /** Undefined when this process runs no gateway (`gateway: false`). */
  readonly gateway: ModbusGateway | undefined;
  readonly image: PolledProcessImage | undefined;
  /** `modbus_<zone>` (gateway listeners, as local agents reach them), `opcua` (the plant's server), `plc_<zone>`. */
  readonly endpoints: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

/** Local agents reach a wildcard listener over loopback. */
function reachable(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startExternalPlant(options: ExternalPlantOptions): Promise<ExternalPlantConnection> {
  const { config, logger } = options;
  const external = config.plant.external;
  if (config.plant.mode !== 'external' || external === undefined) throw new TypeError('startExternalPlant needs plant.mode external');
  const endpoints: Record<string, string> = {};
  for (const [zone, plc] of Object.entries(external.plcs)) endpoints[`plc_${zone}`] = hostPort(plc.host, plc.port);
  if (external.opcua) {
    endpoints.opcua = external.opcua.endpointUrl;
    for (const a of config.agents.filter((x) => x.kind === 'industrial')) {
      const clientCert = await provisionExternalOpcuaTrust(options.stateDir, a.name, external.opcua);
      logger.info({ agent: a.name, client_certificate: clientCert, endpoint: external.opcua.endpointUrl }, 'OPC UA client certificate (the plant server must trust it)');
    }
  }
  if (options.gateway === false) {
    logger.info({ endpoints }, 'external plant: this process supervises no Industrial Agent, so it runs no gateway and polls no PLC');
    return { external, gateway: undefined, image: undefined, endpoints, stop: async () => undefined };
  }

  // The poller reads through the gateway's upstream connections, which exist once the gateway is built.
  const link: { gateway?: ModbusGateway } = {};
  const image = new PolledProcessImage({
    read: upstreamReader((unitId) => link.gateway?.upstream(unitId)),
    intervalMs: external.pollIntervalMs,
    staleAfterMs: external.staleAfterMs,
    seed: config.plant.seed,
    logger,
  });
  const routes = ([[PROCESS_UNIT_ID, 'control'], [SAFETY_UNIT_ID, 'safety']] as const).map(([unitId, zone]) => {
    const plc = external.plcs[zone];
    return { unitId, name: `plc-${zone}`, host: plc.host, port: plc.port, upstreamUnitId: plc.unitId };
  });
  const host = external.gateway.host;
  const started = await startZoneGateway({
    config, logger, metrics: options.metrics, audit: options.audit, evidence: options.evidence, readPolicy: options.readPolicy, host, routes,
    decide: composeWriteDecision({ policy: options.policy, profile: options.profile ?? SIMULATED_PLANT_PROFILE, image: () => image.snapshot }),
    ports: options.modbusPort === undefined ? external.gateway.ports : consecutivePorts(config, options.modbusPort),
  });
  const gateway = started.gateway;
  link.gateway = gateway;
  for (const [zone, port] of Object.entries(started.ports)) endpoints[`modbus_${zone}`] = hostPort(reachable(host), port);
  if (!(await gateway.ready(options.connectWaitMs ?? 2000))) {
    logger.warn({ plcs: gateway.upstreamStates() }, 'external plant: not every PLC answered yet; reconnecting in the background, writes fail closed meanwhile');
  }
  image.start();
  const age = options.metrics?.processImageAge;
  if (age) age.read = () => image.ageMs;
  logger.info({ endpoints }, 'external plant: gateway in front of the configured PLCs, process image polled from them');
  let stopped = false;
  return {
    external, gateway, image, endpoints,
    async stop() {
      if (stopped) return;
      stopped = true;
      image.stop();
      if (age) age.read = undefined;
      await gateway.stop();
    },
  };
}
