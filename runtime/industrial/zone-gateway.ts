/**
 * The zone-enforcing Modbus gateway as the runtime starts it, for the embedded plant and for real PLCs alike: one
 * listener per client zone of the zone model, the zone rules compiled from the conduits, the upstream PLCs routed by
 * the plant map's unit ids.
 */
import type { RuntimeConfig } from '../config/types';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { ModbusGateway, type RouteOptions } from './modbus/gateway';
import type { GatewayAuditSink, WriteEvidence } from './modbus/inspector';
import type { WriteDecider } from './write-decision';
import type { ReadPolicy } from './read-decision';
import { compileRules, defaultZoneRules } from './modbus/rules';
import { gatewayListenerZones } from '../model/zones';

/** Listener ports from a first port: operations on `base`, the other zones on the next ones (0: any free port each). */
export function consecutivePorts(config: Pick<RuntimeConfig, 'zones' | 'conduits'>, base: number): Record<string, number> {
  return Object.fromEntries(gatewayListenerZones(config).map((zone, i) => [zone, base === 0 ? 0 : base + i]));
}

export interface ZoneGatewayOptions {
  readonly config: RuntimeConfig;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly audit: GatewayAuditSink;
  /** Write-ahead audit of allowed writes (control follows evidence). @default - none */
  readonly evidence?: WriteEvidence;
  /** The write decision (`composeWriteDecision`): policy, then the interlocks. */
  readonly decide: WriteDecider;
  /** The read policy (Cedar `register-read` per zone). @default - zone rules only */
  readonly readPolicy?: ReadPolicy;
  /** Client zone -> listen port. */
  readonly ports: Readonly<Record<string, number>>;
  readonly host: string;
  readonly routes: readonly RouteOptions[];
}

export interface ZoneGateway {
  readonly gateway: ModbusGateway;
  /** Client zone -> bound port. */
  readonly ports: Readonly<Record<string, number>>;
}

export async function startZoneGateway(options: ZoneGatewayOptions): Promise<ZoneGateway> {
  const gateway = new ModbusGateway({
    listeners: Object.entries(options.ports).map(([zone, port]) => ({ zone, host: options.host, port })),
    rules: compileRules(defaultZoneRules(options.config)),
    decide: options.decide,
    readPolicy: options.readPolicy,
    audit: options.audit,
    evidence: options.evidence,
    metrics: options.metrics,
    logger: options.logger,
    routes: options.routes,
  });
  try {
    return { gateway, ports: await gateway.start() };
  } catch (err) {
    await gateway.stop();
    throw err;
  }
}
