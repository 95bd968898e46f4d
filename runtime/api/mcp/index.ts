/**
 * Builds the MCP endpoint from the runtime's parts (the composition root calls `mcpEndpoint` once): the token verifier,
 * the tool service over the same PDP, process image and write decision as the Modbus gateway, and its routes.
 */
import type { McpConfig } from '../../config/types';
import { GlimmerError } from '../../errors';
import { ModbusTcpClient } from '../../industrial/modbus/client';
import { composeWriteDecision, type WriteDecider, type WriteRequest } from '../../industrial/write-decision';
import type { AuditRecordInput } from '../../model/messages';
import { SIMULATED_PLANT_PROFILE, type PlantSnapshot } from '../../model/plant';
import type { AuditLog } from '../../audit/log';
import type { ConsoleView } from '../console/view-model';
import type { Route } from '../router';
import { mcpRoutes, type McpGate } from './routes';
import { McpService, type McpPdp } from './service';
import { createTokenVerifier } from './token';

export interface McpEndpointOptions {
  readonly config: McpConfig;
  readonly pdp: McpPdp;
  readonly audit: AuditLog;
  readonly image: () => PlantSnapshot | undefined;
  /** Step 1 of the write decision as the gateway runs it (gatewayDecide). */
  readonly gatewayPolicy: WriteDecider;
  readonly view: Pick<ConsoleView, 'alerts' | 'decisions'>;
  /** The plant's endpoints (`modbus_<zone>`: the gateway listener of each client zone). */
  readonly endpoints: Readonly<Record<string, string>>;
  /** Checked for every MCP request once its token is valid (the revocation gate). */
  readonly gate?: McpGate;
}

export interface McpEndpoint {
  readonly service: McpService;
  readonly routes: Route[];
}

/** Writes one coil or register through the gateway listener of the request's zone; rejects on a Modbus exception. */
export async function writeThroughGateway(endpoint: string | undefined, request: WriteRequest): Promise<void> {
  if (endpoint === undefined) throw new GlimmerError('GLM_ERR_MCP_WRITE_REFUSED', `no gateway listener for zone ${request.zone} in this process`);
  const colon = endpoint.lastIndexOf(':');
  const client = new ModbusTcpClient(endpoint.slice(0, colon), Number(endpoint.slice(colon + 1)));
  try {
    await client.connect();
    const value = request.values[0] as number;
    const r = request.table === 'coil' ? await client.writeCoil(request.unitId, request.address, value !== 0) : await client.writeRegister(request.unitId, request.address, value);
    if (r.exception !== 0) throw new GlimmerError('GLM_ERR_MCP_WRITE_REFUSED', `Modbus exception ${r.exception}`);
  } finally {
    client.close();
  }
}

export function mcpEndpoint(o: McpEndpointOptions): McpEndpoint {
  const profile = SIMULATED_PLANT_PROFILE;
  const decide = composeWriteDecision({ policy: o.gatewayPolicy, profile, image: o.image });
  const service = new McpService({
    config: o.config,
    pdp: o.pdp,
    append: (r: AuditRecordInput) => o.audit.append(r),
    image: o.image,
    writes: { decide, gatewayPolicy: o.gatewayPolicy, profile, image: o.image },
    alarms: (limit) => ({ alerts: o.view.alerts(), decisions: o.view.decisions(limit) }),
    auditLog: o.audit,
    execute: (request) => writeThroughGateway(o.endpoints[`modbus_${request.zone}`], request),
  });
  return { service, routes: mcpRoutes(o.config, service, createTokenVerifier(o.config), o.gate) };
}
