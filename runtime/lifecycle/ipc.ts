/** Messages between the supervisor and an agent process (Node IPC channel, structured clone). */
import type { AgentMessage, AuditRecordInput } from '../model/messages';
import type { AgentSpec, RuntimeConfig, Zone } from '../config/types';
import type { ConfigPins } from './config-pins';
import type { AgentIdentity } from '../trust/svid';
import type { SignedRevocationFeed } from '../trust/revocation';
import type { Transition } from './state-machine';

/**
 * A safety order about one agent: `hold` when a rule (enforce_safety_shutdown/1) names it, `release` when that rule
 * stops naming it. It reaches the supervisor of the target, which pauses the agent while any holder remains.
 */
export interface SafetyOrder {
  readonly action: 'hold' | 'release';
  readonly target: string;
  /** The decision (cognitive.decision record) that caused it. */
  readonly decision_id: string | null;
  readonly codes: readonly string[];
  /** The agent whose rules ordered it (one hold per ordering agent). */
  readonly from: string;
}

export interface BootCommand {
  readonly type: 'boot';
  readonly spec: AgentSpec;
  readonly config: RuntimeConfig;
  readonly stateDir: string;
  /** Directory release artifacts are measured relative to. */
  readonly root: string;
  readonly identity: AgentIdentity;
  readonly releaseKeyPem: string;
  /** Pins of deployment configuration outside the release (GLIMMER_CONFIG_SHA256). */
  readonly configPins: ConfigPins;
  readonly endpoints: Readonly<Record<string, string>>;
}

export type SupervisorToAgent =
  | BootCommand
  | { readonly type: 'pause'; readonly reason: string }
  | { readonly type: 'resume'; readonly reason: string }
  | { readonly type: 'terminate'; readonly reason: string }
  | { readonly type: 'message'; readonly message: AgentMessage }
  | { readonly type: 'sealed' }
  /** Where the other agents' A2A endpoints listen (agent name -> https URL). */
  | { readonly type: 'peers'; readonly peers: Readonly<Record<string, string>> }
  /** The answer to `svid-request`: the agent's next SVID, or why none was issued. */
  | { readonly type: 'svid'; readonly identity: AgentIdentity }
  | { readonly type: 'svid-refused'; readonly code: string; readonly message: string }
  /** The signed revocation feed: on every change and every revocation.refresh_ms (its age is the agent's freshness). */
  | { readonly type: 'revocation'; readonly feed: SignedRevocationFeed }
  /** The configuration was reloaded: zone security levels and required safety levels now in force. */
  | { readonly type: 'levels'; readonly zones: readonly Zone[]; readonly agents: readonly AgentSpec[] };

export type AgentToSupervisor =
  | { readonly type: 'transition'; readonly transition: Transition }
  | { readonly type: 'refused'; readonly code: string; readonly message: string }
  | { readonly type: 'audit'; readonly record: AuditRecordInput }
  | { readonly type: 'final-audit'; readonly record: AuditRecordInput }
  /** The agent's A2A endpoint listens here. */
  | { readonly type: 'a2a-endpoint'; readonly url: string }
  /** Rotation at half-life: the supervisor holds the CA. */
  | { readonly type: 'svid-request' }
  | { readonly type: 'publish'; readonly status: Record<string, unknown> }
  | { readonly type: 'hold'; readonly reason: string }
  | { readonly type: 'clear' }
  /** Decisions of the agent's own PDP since the last report, by `<protocol>_<action>|allow|deny` (for /metrics). */
  | { readonly type: 'policy-decisions'; readonly counts: Readonly<Record<string, number>> }
  /** A safety order for this agent (from its own rules, or received over A2A): the supervisor enforces it. */
  | { readonly type: 'safety-order'; readonly order: SafetyOrder };

/** Exit code of an agent process whose boot was refused (bad identity, tampered artifact): never restarted. */
export const EXIT_BOOT_REFUSED = 3;

/** Exit code of an agent process that outlived its supervisor (drained briefly, then left). */
export const EXIT_ORPHANED = 4;

/** Environment variable carrying the supervisor's pid to each agent (its parent-death watch compares against it). */
export const SUPERVISOR_PID_ENV = 'GLIMMER_SUPERVISOR_PID';
