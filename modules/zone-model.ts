/**
 * The zone model as the constructs receive it (IEC 62443 zones and conduits on ISA-95 levels). The stacks build it from
 * the runtime's `config/glimmer.yml`, so the NetworkPolicies, the Istio AuthorizationPolicies and the runtime enforce
 * one model. Modules never read the file themselves.
 */
import { GlimmerError, quote } from '../runtime/errors';
import { bypassesDmz, dmzBypassReason } from '../runtime/model/zones';

export type Protocol = 'https' | 'a2a' | 'opcua' | 'modbus';
export type AgentKind = 'industrial' | 'cognitive' | 'data';

export interface ZoneSpec {
  /** Zone name; also the Kubernetes namespace of the zone. */
  readonly name: string;
  /** ISA-95 level: 0, 1, 2, 3, 3.5 (the DMZ) or 4. */
  readonly isa95Level: number;
  /** IEC 62443 security level 1..4, or a Terraform token (the safety zone takes `var.safety_zone_level`). */
  readonly securityLevel: number | string;
}

export interface ConduitSpec {
  readonly from: string;
  readonly to: string;
  readonly protocols: readonly Protocol[];
}

export interface AgentSpec {
  readonly name: string;
  readonly kind: AgentKind;
  readonly zone: string;
}

export interface ZoneModel {
  readonly zones: readonly ZoneSpec[];
  readonly conduits: readonly ConduitSpec[];
  readonly agents: readonly AgentSpec[];
  /** SPIFFE / Istio trust domain of every workload identity. */
  readonly trustDomain: string;
}

/** The runtime API: bearer token on API_PORT, TLS 1.3 with client X.509-SVIDs on API_MTLS_PORT (config api.mtls_port). */
export const API_PORT = 8080;
export const API_MTLS_PORT = 8443;
/** Agent-to-agent A2A endpoints of the agents that accept messages (config a2a.port in the pods). */
export const A2A_PORT = 9443;
export const MODBUS_PORT = 5020;
export const OPCUA_PORT = 4840;
/** The ports each conduit protocol opens (the runtime listens on these inside the pod). */
export const PROTOCOL_PORTS: Readonly<Record<Protocol, readonly number[]>> = {
  https: [API_PORT, API_MTLS_PORT],
  a2a: [A2A_PORT],
  opcua: [OPCUA_PORT],
  modbus: [MODBUS_PORT],
};
/** Istio's merged Prometheus endpoint on every sidecar (outside mTLS interception, scraped by Prometheus). */
export const ISTIO_METRICS_PORT = 15020;

export const LABELS = {
  zone: 'glimmer.io/zone',
  isa95Level: 'glimmer.io/isa95-level',
  securityLevel: 'glimmer.io/iec62443-sl',
  agent: 'glimmer.io/agent',
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
  instance: 'app.kubernetes.io/instance',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

/** The ports a set of protocols opens, unique and sorted. */
export function portsOf(protocols: readonly Protocol[]): number[] {
  return [...new Set(protocols.flatMap((p) => PROTOCOL_PORTS[p]))].sort((a, b) => a - b);
}

function zoneError(message: string): never {
  throw new GlimmerError('GLM_ERR_INFRA_ZONE_MODEL_INVALID', message);
}

/**
 * The rules the stacks enforce: every conduit and agent names a known zone, and no conduit bypasses the DMZ (the one
 * DMZ rule of runtime/model/zones.ts, which `glimmer run` and the threat model apply too).
 */
export function checkZoneModel(model: ZoneModel): void {
  const byName = new Map(model.zones.map((z) => [z.name, z]));
  if (byName.size !== model.zones.length) zoneError('zone model: zone names must be unique');
  const known = [...byName.keys()].join(', ');
  for (const c of model.conduits) {
    const from = byName.get(c.from);
    const to = byName.get(c.to);
    if (!from || !to) zoneError(`zone model: conduit ${quote(`${c.from}->${c.to}`)} names an unknown zone; allowed zones: ${known}`);
    if (bypassesDmz(from.isa95Level, to.isa95Level)) {
      zoneError(`zone model: ${dmzBypassReason({ name: from.name, isa95_level: from.isa95Level }, { name: to.name, isa95_level: to.isa95Level })}`);
    }
  }
  for (const a of model.agents) {
    if (!byName.has(a.zone)) zoneError(`zone model: agent ${quote(a.name)} is in unknown zone ${quote(a.zone)}; allowed zones: ${known}`);
  }
}
