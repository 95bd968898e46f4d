/**
 * What an agent kind does once its lifecycle lets it. The lifecycle (runtime/lifecycle) owns states and hooks; a
 * behaviour owns the work: it allocates its resources in `start` (BOOTSTRAPPING -> ACTIVE) and releases them in `stop`.
 * Each kind lives in `runtime/agents/<kind>.ts` and default-exports a `BehaviourFactory`.
 */
import type { Logger } from '../observability/logger';
import type { AgentSpec, RuntimeConfig, Zone } from '../config/types';
import type { GlimmerError } from '../errors';
import type { SafetyOrder } from '../lifecycle/ipc';
import type { AcceptedTopic, startAgentMessenger } from '../trust/a2a/messenger';
import type { AgentIdentity } from '../trust/svid';
import type { AgentMessage, AuditRecordInput } from '../model/messages';

export interface AgentContext {
  readonly spec: AgentSpec;
  readonly config: RuntimeConfig;
  readonly stateDir: string;
  readonly logger: Logger;
  /** Ports of the embedded plant and gateway, as the supervisor started them. */
  readonly endpoints: Readonly<Record<string, string>>;
  audit(record: AuditRecordInput): void;
  /** Sends to another agent over A2A (fire and forget; failures are logged and audited; `done` hears the outcome). */
  send(to: string, topic: string, body: unknown, done?: (err?: GlimmerError) => void): void;
  /** Passes a safety order about this agent to its supervisor, which holds or releases it. */
  order(order: SafetyOrder): void;
  onMessage(handler: (message: AgentMessage) => void): void;
  /** The agent's current X.509-SVID (the messenger renews it); absent outside an agent process (in-process tests). */
  identity?(): AgentIdentity;
  /** Publishes a small status object (scores, decisions) shown by the API and the console. */
  publish(status: Record<string, unknown>): void;
  /** Asks the lifecycle for ACTIVE -> PAUSED (safety hold / failed policy check) and back. */
  hold(reason: string): void;
  clear(): void;
}

export interface AgentBehaviour {
  /** Files this agent loads (paths relative to the repo root), measured at boot against the signed manifest. */
  readonly artifacts: readonly string[];
  /**
   * Agents that talk to other agents bring the A2A messenger (so the others' bundles stay without it) and the topics
   * they accept, which they then serve over A2A (policy-checked, audited). Without it, `send` drops messages.
   */
  readonly messaging?: { readonly start: typeof startAgentMessenger; readonly accepts: readonly AcceptedTopic[] };
  /** Allocates resources (connections, sessions, models). Must throw a GlimmerError on failure. */
  start(ctx: AgentContext): Promise<void>;
  pause?(reason: string): Promise<void>;
  resume?(): Promise<void>;
  /** The configuration was reloaded: the zone security levels and required safety levels now in force. */
  levels?(zones: readonly Zone[], agents: readonly AgentSpec[]): void;
  /** Releases everything; must be idempotent and finish quickly (the supervisor has a grace period). */
  stop(): Promise<void>;
}

export type BehaviourFactory = (spec: AgentSpec, config: RuntimeConfig) => AgentBehaviour;
