/** Typed configuration: `RuntimeConfigFile` is the file as written, `RuntimeConfig` the normalised result with defaults. */
import type { AGENT_KINDS, ATTESTATION_MODES, DEPLOYMENT_MODELS, PLANT_MODES } from './schema';

import type { CertificateLifetime } from './opcua-lifetime';

export type AgentKind = (typeof AGENT_KINDS)[number];
export type DeploymentModel = (typeof DEPLOYMENT_MODELS)[number];
export type PlantMode = (typeof PLANT_MODES)[number];
export type AttestationMode = (typeof ATTESTATION_MODES)[number];

export interface Topology {
  readonly deployment_model: DeploymentModel;
  readonly control_zone: string;
  readonly safety_zone_level: number;
  readonly trust_domain: string;
  /** Post-quantum key exchange on the runtime's TLS links (runtime/trust/pq-tls.ts). @default 'hybrid-preferred' */
  readonly tls_pq_mode?: 'pqc-only' | 'hybrid-preferred' | 'classical';
}
export interface Zone { readonly name: string; readonly isa95_level: number; readonly security_level: number }
export interface Conduit { readonly from: string; readonly to: string; readonly protocols: readonly string[]; readonly allow_insecure_opcua?: boolean }
/** A conduit as written: `allow_sparkplug_commands` lets Sparkplug commands from one end become plant writes. */
export type ConduitFile = Conduit & { readonly allow_sparkplug_commands?: boolean };
export interface AgentSpec { readonly name: string; readonly kind: AgentKind; readonly zone: string; readonly required_safety_level: number }

/** A fault the embedded plant injects at a time after start, so the demo shows detection and shutdown. */
/** A fault the embedded plant injects `at_s` after start, and clears at `clear_at_s` (the repair) when given. */
export interface FaultScheduleEntry { readonly at_s: number; readonly clear_at_s?: number; readonly asset: string; readonly fault: 'bearing_wear' | 'leak' | 'stuck_sensor' }

/** `plant.external` as written. */
export interface ExternalPlantFile {
  readonly plcs: { readonly control: PlcEndpointFile; readonly safety: PlcEndpointFile };
  readonly gateway?: { host?: string; ports?: Readonly<Record<string, number>> };
  readonly poll_interval_ms?: number;
  readonly stale_after_ms?: number;
  readonly opcua?: { endpoint_url: string; server_certificate: string; user?: string; password_file: string; client_certificate?: string; client_private_key?: string };
}
export interface PlcEndpointFile { readonly host: string; readonly port?: number; readonly unit_id?: number }

/** A real PLC the gateway forwards to and the process image is polled from. */
export interface PlcEndpoint {
  readonly host: string;
  /** @default 502 */
  readonly port: number;
  /** Unit id on the PLC side. @default the plant map's unit id of the zone (control 1, safety 2) */
  readonly unitId: number;
}

/** The real plant (plant.mode external), normalised: defaults applied, file paths absolute. */
export interface ExternalPlant {
  /** Per zone of the plant map (control: process PLC, unit 1; safety: safety PLC, unit 2). */
  readonly plcs: Readonly<Record<'control' | 'safety', PlcEndpoint>>;
  /** The zone gateway's listeners: one per client zone. @default host 127.0.0.1, ports 5020, 5021, ... in listener order */
  readonly gateway: { readonly host: string; readonly ports: Readonly<Record<string, number>> };
  /** @default 250 */
  readonly pollIntervalMs: number;
  /** A process image older than this is no image (interlocked writes fail closed). @default 1000 */
  readonly staleAfterMs: number;
  readonly opcua?: {
    readonly endpointUrl: string;
    readonly serverCertificate: string;
    /** @default the industrial agent's name */
    readonly user?: string;
    readonly passwordFile: string;
    readonly clientCertificate?: string;
    readonly clientPrivateKey?: string;
  };
}

export interface CognitiveConfig {
  readonly hybrid_reasoning: {
    readonly neural_components: readonly { type: 'transformer'; model: string; precision: 'int8' | 'fp32'; quantization: 'dynamic' | 'none'; path?: string; threshold?: number }[];
    readonly symbolic_components: readonly { type: 'prolog-engine'; version?: string; rulesets: readonly string[]; inference_limit?: number }[];
  };
}

export interface RuntimeConfigFile {
  readonly topology: Topology;
  readonly zones: readonly Zone[];
  readonly conduits: readonly ConduitFile[];
  readonly agents: readonly AgentSpec[];
  readonly supervisor?: { restart_backoff_ms?: { initial?: number; max?: number }; max_restarts?: number; restart_window_s?: number; shutdown_grace_ms?: number };
  readonly plant?: { mode?: PlantMode; external?: ExternalPlantFile; seed?: number; tick_ms?: number; fault_schedule?: readonly FaultScheduleEntry[] };
  readonly api?: { host?: string; port?: number; mtls_port?: number; allowed_hosts?: string[] };
  readonly opcua?: { host?: string; port?: number; advertised_hosts?: readonly string[]; certificate_dns?: readonly string[]; certificate_ips?: readonly string[]; certificate_lifetime_s?: number; certificate_renew_before_s?: number };
  readonly a2a?: { host?: string; port?: number; peers?: Readonly<Record<string, string>> };
  readonly mcp?: McpConfigFile;
  readonly northbound?: NorthboundConfigFile;
  readonly revocation?: { refresh_ms?: number; max_age_s?: number; feed_url?: string };
  readonly cognitive_config?: string;
  readonly attestation?: { mode: AttestationMode; tcti?: string; ek_ca_file?: string };
}

/** The MCP server for AI copilots (docs/mcp.md); absent: no MCP endpoint on the API. */
export interface McpConfigFile {
  /** This server's resource identifier: the audience tokens must be bound to (RFC 8707), e.g. https://plant.example/mcp. */
  readonly resource: string;
  /** Authorization servers whose access tokens are accepted, each with its JWKS. */
  readonly issuers: readonly { readonly issuer: string; readonly jwks_uri: string; readonly jwks_refresh_min_s?: number }[];
  /** Tool calls per client per minute. @default 600 */
  readonly max_calls_per_minute?: number;
  /** The zone approved writes enter the gateway from. @default control */
  readonly write_zone?: string;
  /** Pending write requests kept for approval. @default 32 */
  readonly max_pending_writes?: number;
}

/** `northbound` as written: a Data Agent's Sparkplug B edge node (docs/northbound.md). */
export interface NorthboundConfigFile {
  readonly broker: string;
  readonly zone?: string;
  readonly agent?: string;
  readonly group_id: string;
  readonly edge_node_id?: string;
  readonly primary_host_id?: string;
  readonly ca_file: string;
  readonly server_name?: string;
  readonly publish_interval_ms?: number;
  readonly deadbands?: Readonly<Record<string, number>>;
  readonly replay_max_messages_per_s?: number;
  readonly command_zone?: string;
  readonly store?: { readonly safety_budget_mb?: number; readonly trend_budget_mb?: number };
}

/** The Sparkplug B edge node, normalised. */
export interface NorthboundConfig {
  /** mqtts://host:port */
  readonly broker: string;
  /** The zone the broker (and the enterprise's host applications) live in. @default enterprise */
  readonly zone: string;
  /** The Data Agent that runs the edge node. @default the first data agent */
  readonly agent: string;
  readonly groupId: string;
  /** @default the agent's name */
  readonly edgeNodeId: string;
  /** @default - none: births at once, no STATE awareness */
  readonly primaryHostId?: string;
  /** Absolute path of the CA bundle the broker's certificate must chain to. */
  readonly caFile: string;
  /** @default the broker URL's host */
  readonly serverName?: string;
  /** How often plant values are sampled for report by exception. @default 1000 */
  readonly publishIntervalMs: number;
  /** Per signal id, engineering units. @default half a raw count of the signal */
  readonly deadbands: Readonly<Record<string, number>>;
  /** @default 5000 */
  readonly replayMaxMessagesPerS: number;
  /** The gateway listener an allowed command's write enters the plant through. @default operations */
  readonly commandZone: string;
  /** Conduits that set allow_sparkplug_commands (none by default: every command is refused). */
  readonly commandConduits: readonly { readonly from: string; readonly to: string }[];
  /** Byte budgets of the store-and-forward streams. @default safety 64 MiB, trend 2 GiB */
  readonly store: { readonly safetyBudgetBytes: number; readonly trendBudgetBytes: number };
}

export interface McpConfig {
  readonly resource: string;
  readonly issuers: readonly { readonly issuer: string; readonly jwksUri: string; readonly jwksRefreshMinS: number }[];
  readonly maxCallsPerMinute: number;
  readonly writeZone: string;
  readonly maxPendingWrites: number;
}

export interface RuntimeConfig {
  readonly file: string;
  readonly topology: Topology;
  readonly zones: readonly Zone[];
  readonly conduits: readonly Required<Conduit>[];
  readonly agents: readonly AgentSpec[];
  readonly supervisor: { restartBackoffMs: { initial: number; max: number }; maxRestarts: number; restartWindowS: number; shutdownGraceMs: number };
  /** `mode: embedded` (default) runs the simulated plant in-process; `external` talks to the real PLCs of `external`. */
  readonly plant: { mode: PlantMode; seed: number; tickMs: number; faultSchedule: readonly FaultScheduleEntry[]; external?: ExternalPlant };
  /** allowedHosts: names the API answers under besides IP addresses (DNS rebinding defence). */
  readonly api: { host: string; port: number; mtlsPort: number; allowedHosts: readonly string[] };
  /** The plant OPC UA server's network settings as written (runtime/industrial/opcua/network.ts derives the rest). */
  readonly opcua: {
    host?: string; port: number; advertised_hosts?: readonly string[]; certificate_dns?: readonly string[]; certificate_ips?: readonly string[];
    /** Validity of the OPC UA application certificates Glimmer issues, and how long before expiry they are renewed. */
    certificateLifetime: CertificateLifetime;
  };
  /** Where agents serve A2A (port 0: any free port on loopback, the embedded default), and other pods' agents. */
  readonly a2a: { host: string; port: number; peers: Readonly<Record<string, string>> };
  readonly cognitive: CognitiveConfig & { readonly file: string };
  /** `tpm`: the supervisor attests each agent with the TPM at `tcti` before it issues the agent's SVID. */
  readonly attestation: { mode: 'none' } | { mode: 'tpm'; tcti: string; ekCaFile: string };
  /**
   * The revocation feed (runtime/trust/revocation.ts): re-signed and pushed every refreshMs; a follower whose feed is
   * older than maxAgeMs fails closed. feedUrl: this runtime follows the authority serving it (other pods of a cluster);
   * without it, this runtime is the authority. @default refreshMs 1000, maxAgeMs 30000
   */
  readonly revocation: { readonly refreshMs: number; readonly maxAgeMs: number; readonly feedUrl?: string };
  /** Undefined without an mcp section: the API then serves no MCP endpoint. */
  readonly mcp?: McpConfig;
  /** Undefined without a northbound section: no Sparkplug edge node. */
  readonly northbound?: NorthboundConfig;
}
