/** Typed configuration: `RuntimeConfigFile` is the file as written, `RuntimeConfig` the normalised result with defaults. */
import type { AGENT_KINDS, DEPLOYMENT_MODELS } from './schema';

export type AgentKind = (typeof AGENT_KINDS)[number];
export type DeploymentModel = (typeof DEPLOYMENT_MODELS)[number];

export interface Topology {
  readonly deployment_model: DeploymentModel;
  readonly control_zone: string;
  readonly safety_zone_level: number;
  readonly trust_domain: string;
}
export interface Zone { readonly name: string; readonly isa95_level: number; readonly security_level: number }
export interface Conduit { readonly from: string; readonly to: string; readonly protocols: readonly string[]; readonly allow_insecure_opcua?: boolean }
export interface AgentSpec { readonly name: string; readonly kind: AgentKind; readonly zone: string; readonly required_safety_level: number }

/** A fault the embedded plant injects at a time after start, so the demo shows detection and shutdown. */
export interface FaultScheduleEntry { readonly at_s: number; readonly asset: string; readonly fault: 'bearing_wear' | 'leak' | 'stuck_sensor' }

export interface CognitiveConfig {
  readonly hybrid_reasoning: {
    readonly neural_components: readonly { type: 'transformer'; model: string; precision: 'int8' | 'fp32'; quantization: 'dynamic' | 'none'; path?: string; threshold?: number }[];
    readonly symbolic_components: readonly { type: 'prolog-engine'; version?: string; rulesets: readonly string[]; inference_limit?: number }[];
  };
}

export interface RuntimeConfigFile {
  readonly topology: Topology;
  readonly zones: readonly Zone[];
  readonly conduits: readonly Conduit[];
  readonly agents: readonly AgentSpec[];
  readonly supervisor?: { restart_backoff_ms?: { initial?: number; max?: number }; max_restarts?: number; restart_window_s?: number; shutdown_grace_ms?: number };
  readonly plant?: { seed?: number; tick_ms?: number; fault_schedule?: readonly FaultScheduleEntry[] };
  readonly api?: { host?: string; port?: number; mtls_port?: number };
  readonly cognitive_config?: string;
}

export interface RuntimeConfig {
  readonly file: string;
  readonly topology: Topology;
  readonly zones: readonly Zone[];
  readonly conduits: readonly Required<Conduit>[];
  readonly agents: readonly AgentSpec[];
  readonly supervisor: { restartBackoffMs: { initial: number; max: number }; maxRestarts: number; restartWindowS: number; shutdownGraceMs: number };
  readonly plant: { seed: number; tickMs: number; faultSchedule: readonly FaultScheduleEntry[] };
  readonly api: { host: string; port: number; mtlsPort: number };
  readonly cognitive: CognitiveConfig & { readonly file: string };
}
