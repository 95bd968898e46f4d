/** Shared setup for the industrial tests: a running plant, its simulated PLC and a gateway in front, on loopback. */
import { PlantRuntime } from '../../runtime/industrial/plant/runtime';
import { startSimulatedPlc, type SimulatedPlc } from '../../runtime/industrial/plant/plc-modbus';
import { ModbusGateway, type GatewayLimits } from '../../runtime/industrial/modbus/gateway';
import { compileRules, defaultZoneRules } from '../../runtime/industrial/modbus/rules';
import type { WriteEvidence, GatewayAuditRecord } from '../../runtime/industrial/modbus/inspector';
import type { WriteDecider } from '../../runtime/industrial/write-decision';
import type { ReadPolicy } from '../../runtime/industrial/read-decision';
import type { Zone, Conduit } from '../../runtime/config/types';
import type { Metrics } from '../../runtime/observability/metrics';
import { restartablePort } from '../helpers/ports';

export const ZONES: Zone[] = [
  { name: 'enterprise', isa95_level: 4, security_level: 1 },
  { name: 'dmz', isa95_level: 3.5, security_level: 2 },
  { name: 'operations', isa95_level: 3, security_level: 2 },
  { name: 'control', isa95_level: 2, security_level: 3 },
  { name: 'safety', isa95_level: 1, security_level: 3 },
];
export const CONDUITS: Required<Conduit>[] = [
  { from: 'enterprise', to: 'dmz', protocols: ['https'], allow_insecure_opcua: false },
  { from: 'dmz', to: 'operations', protocols: ['https', 'a2a'], allow_insecure_opcua: false },
  { from: 'operations', to: 'control', protocols: ['a2a', 'opcua', 'modbus'], allow_insecure_opcua: false },
  { from: 'control', to: 'safety', protocols: ['opcua', 'modbus'], allow_insecure_opcua: false },
];

export interface Rig {
  plant: PlantRuntime;
  plc: SimulatedPlc;
  gateway: ModbusGateway;
  ports: Record<string, number>;
  audit: GatewayAuditRecord[];
  restartPlc(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRig(options: { decide?: WriteDecider; readPolicy?: ReadPolicy; limits?: Partial<GatewayLimits>; metrics?: Metrics; evidence?: WriteEvidence; onAudit?: (batch: GatewayAuditRecord[]) => void } = {}): Promise<Rig> {
  const plant = new PlantRuntime({ seed: 42, tickMs: 100 });
  // restartPlc brings the PLC back on this port: one no outgoing connection can be given meanwhile.
  let plc = await startSimulatedPlc({ plant, port: await restartablePort() });
  const plcPort = plc.port;
  const audit: GatewayAuditRecord[] = [];
  const rules = compileRules(defaultZoneRules({ zones: ZONES, conduits: CONDUITS }));
  const gateway = new ModbusGateway({
    listeners: [{ zone: 'operations', port: 0 }, { zone: 'control', port: 0 }, { zone: 'safety', port: 0 }],
    routes: [{ unitId: 1, host: '127.0.0.1', port: plcPort, backoff: { initialMs: 20, maxMs: 200 } }, { unitId: 2, host: '127.0.0.1', port: plcPort, backoff: { initialMs: 20, maxMs: 200 } }],
    rules, decide: options.decide, readPolicy: options.readPolicy, audit: (batch) => { audit.push(...batch); options.onAudit?.(batch); }, limits: options.limits, metrics: options.metrics, evidence: options.evidence,
  });
  const ports = await gateway.start();
  await gateway.ready(5000);
  const rig: Rig = {
    plant, get plc() { return plc; }, gateway, ports, audit,
    async restartPlc() { plc = await startSimulatedPlc({ plant, port: plcPort }); },
    async stop() { await gateway.stop(); await plc.close(); plant.stop(); },
  } as Rig;
  return rig;
}

/** Drops every audit record so far (buffered ones included): a test that starts with it sees only its own records. */
export function resetAudit(rig: Rig): void {
  rig.gateway.inspector.audit.flush();
  rig.audit.length = 0;
}

/** The records since the last resetAudit, the inspector's buffer flushed first. */
export function flushAudit(rig: Rig): GatewayAuditRecord[] {
  rig.gateway.inspector.audit.flush();
  return rig.audit;
}

export { freePort } from '../helpers/ports';

/** Polls `check` every 50 ms until it holds or `ms` passed; returns its last value. */
export async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (check()) return true; await new Promise((r) => setTimeout(r, 50)); }
  return check();
}
