/**
 * The swarm supervisor: one isolated process per agent (child_process.fork), restarts with exponential backoff after a
 * crash, gives up after a crash loop, records every transition (audit, metric, log), and on stop drives every agent to
 * TERMINATED within a bounded grace period (stragglers are killed and recorded). Agents message each other directly
 * over A2A on mTLS; the supervisor tells each where the others listen and, holding the CA, renews their SVIDs.
 *
 * Safety holds: a safety order for one of its agents (from the agent's own rules, or received by the agent over A2A
 * and passed up over IPC) adds a holder; the configuration adds one when the agent's required level exceeds its zone's.
 * While any holder remains the agent is kept PAUSED (re-paused after a restart, resume commands refused); the last
 * release resumes it. Every hold, release and failure to enforce one is audited with the decision id.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentMessage, AuditAppender, AuditRecordInput } from '../model/messages';
import type { AgentKind, AgentSpec, RuntimeConfig } from '../config/types';
import { CONFIGURATION_HOLDER, safetyLevelShortfall, shortfallMessage } from '../model/zones';
import { GlimmerError, asGlimmerError, quote, type ErrorCode } from '../errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { agentBundle } from './release';
import type { ConfigPins } from './config-pins';
import type { AgentIdentity } from '../trust/svid';
import type { SignedRevocationFeed } from '../trust/revocation';
import { EXIT_BOOT_REFUSED, SUPERVISOR_PID_ENV, type AgentToSupervisor, type SafetyOrder, type SupervisorToAgent } from './ipc';
import { SafetyOrderReadiness, type TargetKind } from './safety-orders';
import { reportedDecisions } from '../trust/metrics';
import { STATES, type LifecycleState } from './states';
import type { Transition } from './state-machine';

export interface AgentView {
  readonly id: string;
  readonly kind: string;
  readonly zone: string;
  readonly state: LifecycleState;
  readonly since: string;
  readonly restarts: number;
  readonly last_error?: { code: string; message: string };
  readonly status?: Record<string, unknown>;
  /** Safety holds in force (ordering agent or `configuration`), while any keeps the agent PAUSED. */
  readonly holds?: readonly SafetyHold[];
}

export interface SafetyHold {
  readonly by: string;
  readonly decision_id: string | null;
  readonly codes: readonly string[];
  readonly since: string;
}

/** How long an agent may take to reach PAUSED after a hold before the supervisor calls the hold not enforced. */
const HOLD_ENFORCE_MS = 3000;
/** Send errors meaning the agent's end of the control channel is gone (the process exited or is exiting). */
const CLOSED_CHANNEL = new Set(['EPIPE', 'ECONNRESET', 'ERR_IPC_CHANNEL_CLOSED']);

export interface SupervisorOptions {
  /** The whole swarm's configuration: every agent boots with it, so it knows its peers and their zones. */
  readonly config: RuntimeConfig;
  /** The agents this process supervises (one per pod). @default every agent of config */
  readonly agents?: readonly AgentSpec[];
  readonly stateDir: string;
  readonly root: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly audit: AuditAppender;
  readonly releaseKeyPem: string;
  /** Pins of deployment configuration outside the release (GLIMMER_CONFIG_SHA256). @default {} */
  readonly configPins?: ConfigPins;
  readonly endpoints: Readonly<Record<string, string>>;
  /** Issues the agent's X.509-SVID (at each start, so restarts get a fresh identity, and at each rotation). */
  readonly identityFor: (spec: AgentSpec) => Promise<AgentIdentity>;
  /** Receives the agents' stderr (the terminal log of `glimmer run`). @default - agents write to this process's stderr */
  readonly agentStderr?: (chunk: Buffer, agent: string) => void;
  /** @default dist/agent.js under root, or the TypeScript entry through tsx when no bundle exists */
  readonly agentEntry?: string;
}

interface Slot {
  spec: AgentSpec;
  readonly holds: Map<string, SafetyHold>;
  /** PAUSED by a hold (so the last release resumes it; other pauses are not ours to undo). */
  safetyPaused: boolean;
  /** The process the hold's pause was sent to: one pause per process (the agent retries a refused one itself, and a
   *  pause queued behind a frozen process must not land after the release). */
  pauseSentTo?: ChildProcess;
  holdCheck?: NodeJS.Timeout;
  child?: ChildProcess;
  state: LifecycleState;
  since: string;
  restarts: number;
  crashTimes: number[];
  lastError?: { code: string; message: string };
  status?: Record<string, unknown>;
  refused: boolean;
  /** Given up on after a crash loop (until this process restarts). */
  crashLooped: boolean;
  /** Where its A2A endpoint listens, while its process runs. */
  a2aUrl?: string;
  timer?: NodeJS.Timeout;
  exited?: Promise<void>;
}

/**
 * The environment of an agent process: the supervisor's, plus V8's compile cache in the state dir (Node's
 * NODE_COMPILE_CACHE). Agents are forked many times from the same bundle and node_modules (node-opcua alone is
 * hundreds of files): reusing the compiled code cuts their start. V8 checks each entry against the source's hash, so
 * a changed file is compiled afresh; the cache holds only code the release already ships.
 */
export function agentProcessEnv(stateDir: string, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, NODE_COMPILE_CACHE: env.NODE_COMPILE_CACHE ?? path.join(stateDir, 'cache', 'v8-compile') };
}

export class Supervisor extends EventEmitter {
  private readonly slots = new Map<string, Slot>();
  private stopping = false;
  /** The swarm configuration in force (reloads change the safety levels only). */
  private config: RuntimeConfig;
  private configPins: ConfigPins;
  /** Undelivered or unenforced safety orders: a readiness condition of this process. */
  readonly safetyOrders = new SafetyOrderReadiness();
  /** The latest signed revocation feed, pushed to every agent (and to each one as it starts). */
  private revocationFeed: SignedRevocationFeed | undefined;

  constructor(private readonly options: SupervisorOptions) {
    super();
    this.config = options.config;
    this.configPins = options.configPins ?? {};
    for (const spec of options.agents ?? options.config.agents) {
      this.slots.set(spec.name, { spec, holds: new Map(), safetyPaused: false, crashLooped: false, state: 'INIT', since: new Date().toISOString(), restarts: 0, crashTimes: [], refused: false });
    }
  }

  /** Calls back on every lifecycle transition and every published status; returns the unsubscribe function. */
  watchAgents(onTransition: (t: Transition) => void, onStatus: (agent: string, status: Record<string, unknown>) => void): () => void {
    this.on('transition', onTransition);
    this.on('status', onStatus);
    return () => {
      this.off('transition', onTransition);
      this.off('status', onStatus);
    };
  }

  agents(): AgentView[] {
    return [...this.slots.values()].map((s) => ({
      id: s.spec.name,
      kind: s.spec.kind,
      zone: s.spec.zone,
      state: s.state,
      since: s.since,
      restarts: s.restarts,
      ...(s.lastError ? { last_error: s.lastError } : {}),
      ...(s.status ? { status: s.status } : {}),
      ...(s.holds.size > 0 ? { holds: [...s.holds.values()] } : {}),
    }));
  }

  async start(): Promise<void> {
    for (const slot of this.slots.values()) {
      this.configurationHold(slot);
      this.updateGauges(slot);
    }
    await Promise.all([...this.slots.values()].map((slot) => this.spawn(slot)));
  }

  /** Resolves once every agent is in one of the given states (or the timeout passes). */
  waitFor(states: readonly LifecycleState[], timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => [...this.slots.values()].every((s) => states.includes(s.state));
      if (check()) return resolve(true);
      const onChange = () => {
        if (check()) {
          clearTimeout(timer);
          this.off('transition', onChange);
          resolve(true);
        }
      };
      const timer = setTimeout(() => {
        this.off('transition', onChange);
        resolve(false);
      }, timeoutMs);
      this.on('transition', onChange);
    });
  }

  /** Sends a lifecycle command (pause/resume) to one agent. */
  command(agent: string, type: 'pause' | 'resume', reason: string): void {
    const slot = this.slots.get(agent);
    if (!slot) throw new GlimmerError('GLM_ERR_AGENT_UNKNOWN', `no agent named ${JSON.stringify(agent)}`);
    if (type === 'resume' && slot.holds.size > 0) {
      throw new GlimmerError('GLM_ERR_SAFETY_HELD', `agent ${quote(agent)} is under a safety hold by ${[...slot.holds.keys()].join(', ')}; it resumes when the condition clears`);
    }
    this.post(slot, { type, reason });
  }

  /**
   * Enforces a safety order for an agent of this process: `hold` adds the ordering agent as a holder (the agent is
   * paused), `release` removes it (the agent resumes once no holder remains). An order for an agent not supervised
   * here is a loud failure (audit, error log, metric, readiness).
   */
  safetyOrder(order: SafetyOrder): void {
    // Only a reload of the configuration places or lifts the configuration's own hold, never an order.
    if (order.from === CONFIGURATION_HOLDER) {
      this.orderFailed(order, 'agent', 'GLM_ERR_SAFETY_ORDER_INVALID', `an order may not come from ${quote(CONFIGURATION_HOLDER)}`);
      return;
    }
    const slot = this.slots.get(order.target);
    if (!slot) {
      this.orderFailed(order, this.config.agents.some((a) => a.name === order.target) ? 'agent' : 'unknown', 'GLM_ERR_SAFETY_TARGET_UNKNOWN', `no agent named ${quote(order.target)} is supervised by this process`);
      return;
    }
    if (order.action === 'hold') {
      const held = slot.holds.get(order.from);
      if (held === undefined) this.addHold(slot, { by: order.from, decision_id: order.decision_id, codes: order.codes, since: new Date().toISOString() });
    } else if (slot.holds.has(order.from)) {
      this.removeHold(slot, order.from, order.decision_id);
    }
    this.enforce(slot);
  }

  /**
   * A reloaded configuration: only zone security levels and required safety levels may differ (the caller checks).
   * Recomputes the configuration holds, the level gauges, and tells every agent (the Cognitive agents' rules read them).
   * `configPins` pin the reloaded file, so an agent restarted later measures it against what was applied.
   */
  applyLevels(config: RuntimeConfig, configPins: ConfigPins = this.configPins): void {
    this.config = config;
    this.configPins = configPins;
    for (const slot of this.slots.values()) {
      const spec = config.agents.find((a) => a.name === slot.spec.name);
      if (spec) slot.spec = spec;
      this.configurationHold(slot);
      this.updateGauges(slot);
      this.post(slot, { type: 'levels', zones: config.zones, agents: config.agents });
      this.enforce(slot);
    }
  }

  /** Pushes a signed revocation feed to every agent over the control channel (the agents verify its signature). */
  pushRevocation(feed: SignedRevocationFeed): void {
    this.revocationFeed = feed;
    for (const slot of this.slots.values()) this.post(slot, { type: 'revocation', feed });
  }

  /** Delivers a message to an agent as if another agent (or the runtime) sent it. */
  deliver(message: AgentMessage): void {
    const slot = this.slots.get(message.to);
    if (slot) this.post(slot, { type: 'message', message });
  }

  /** Drives every agent to TERMINATED; kills those that do not make it within the grace period. */
  async stop(reason = 'shutdown'): Promise<void> {
    this.stopping = true;
    const grace = this.config.supervisor.shutdownGraceMs;
    const slots = [...this.slots.values()];
    for (const slot of slots) {
      clearTimeout(slot.timer);
      clearTimeout(slot.holdCheck);
      if (slot.child && slot.child.exitCode === null) this.post(slot, { type: 'terminate', reason });
    }
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, grace).unref());
    await Promise.race([Promise.all(slots.map((s) => s.exited ?? Promise.resolve())), deadline]);
    for (const slot of slots) {
      if (slot.child && slot.child.exitCode === null && slot.child.signalCode === null) {
        this.options.logger.warn({ agent: slot.spec.name }, 'agent did not terminate within the grace period; killing it');
        slot.child.kill('SIGKILL');
        await slot.exited;
      }
      if (slot.state !== 'TERMINATED') this.record(slot, { agent: slot.spec.name, from: slot.state, to: 'TERMINATED', at: new Date().toISOString(), reason: `${reason} (forced)` });
    }
  }

  private entry(kind: AgentKind): { file: string; execArgv: string[] } {
    if (this.options.agentEntry) return { file: this.options.agentEntry, execArgv: [] };
    const bundle = path.join(this.options.root, agentBundle(this.options.root, kind));
    if (fs.existsSync(bundle)) return { file: bundle, execArgv: [] };
    return { file: path.join(__dirname, '..', 'agents', 'main.ts'), execArgv: ['--import', 'tsx'] };
  }

  private async spawn(slot: Slot): Promise<void> {
    if (this.stopping) return;
    const { file, execArgv } = this.entry(slot.spec.kind);
    let identity: AgentIdentity;
    try {
      identity = await this.options.identityFor(slot.spec);
    } catch (err) {
      // No identity (attestation refused, TPM unreachable): the agent is refused like a failed measured boot.
      const e = asGlimmerError(err);
      this.refuse(slot, e.code, e.message);
      return;
    }
    // stop() may have run while the identity was issued: never fork an agent nobody will terminate.
    if (this.stopping) return;
    // The agent compares its parent with this pid as soon as its code runs: re-parented (this process died while it
    // loaded), it exits at once.
    // Agents log JSON lines; relayed, this process formats them with its own.
    const relay = this.options.agentStderr;
    const env = { ...agentProcessEnv(this.options.stateDir), [SUPERVISOR_PID_ENV]: String(process.pid) };
    const child = fork(file, [], { execArgv, env, stdio: ['ignore', 'inherit', relay ? 'pipe' : 'inherit', 'ipc'], serialization: 'advanced' });
    if (relay) child.stderr?.on('data', (chunk: Buffer) => relay(chunk, slot.spec.name));
    slot.child = child;
    slot.state = 'INIT';
    slot.since = new Date().toISOString();
    this.updateGauges(slot);
    slot.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (msg: AgentToSupervisor) => this.onMessage(slot, msg));
    child.once('exit', (code, signal) => this.onExit(slot, child, code, signal));
    child.on('error', (err) => this.options.logger.error({ agent: slot.spec.name, err: err.message }, 'agent process error'));
    this.post(slot, {
      type: 'boot',
      spec: slot.spec,
      config: this.config,
      stateDir: this.options.stateDir,
      root: this.options.root,
      identity,
      releaseKeyPem: this.options.releaseKeyPem,
      configPins: this.configPins,
      endpoints: this.options.endpoints,
    });
    this.post(slot, { type: 'peers', peers: this.peerUrls() });
    if (this.revocationFeed !== undefined) this.post(slot, { type: 'revocation', feed: this.revocationFeed });
  }

  /** Agent name -> A2A URL of every running agent endpoint, here or elsewhere. */
  a2aEndpoints(): Readonly<Record<string, string>> {
    return this.peerUrls();
  }

  private peerUrls(): Record<string, string> {
    // Agents supervised elsewhere (other pods) are reached where the configuration says.
    const peers: Record<string, string> = { ...this.config.a2a.peers };
    for (const s of this.slots.values()) if (s.a2aUrl !== undefined) peers[s.spec.name] = s.a2aUrl;
    return peers;
  }

  private announcePeers(): void {
    const peers = this.peerUrls();
    for (const slot of this.slots.values()) this.post(slot, { type: 'peers', peers });
  }

  private post(slot: Slot, message: SupervisorToAgent): void {
    const child = slot.child;
    if (!child?.connected) return;
    // An agent that died before its exit was processed closes the channel under the message (EPIPE): its exit handler
    // reports that as a crash, so only a send failing for another reason is logged here.
    child.send(message, (err) => {
      if (err && !CLOSED_CHANNEL.has((err as NodeJS.ErrnoException).code ?? '')) this.options.logger.error({ agent: slot.spec.name, message: message.type, err: err.message }, 'agent process error');
    });
  }

  private onMessage(slot: Slot, msg: AgentToSupervisor): void {
    switch (msg.type) {
      case 'transition': this.record(slot, msg.transition); break;
      case 'refused': this.refuse(slot, msg.code, msg.message); break;
      case 'audit': {
        void this.append({ ...msg.record, agent: slot.spec.name });
        const failed = this.safetyOrders.observe(msg.record);
        if (failed) {
          this.options.metrics.safetyOrderFailures.inc({ target_kind: failed.target_kind, code: failed.code });
          this.options.logger.error({ agent: slot.spec.name, target: failed.target, code: failed.code, decision_id: failed.decision_id }, 'safety order not delivered');
        }
        this.emit('audit', slot.spec.name, msg.record);
        break;
      }
      case 'final-audit':
        void this.append({ ...msg.record, agent: slot.spec.name }).then(() => this.post(slot, { type: 'sealed' }));
        break;
      case 'a2a-endpoint':
        // The URL only says where to connect: callers trust the SVID the endpoint presents, never the URL.
        if (typeof msg.url === 'string' && /^https:\/\/[^/\s]{1,253}$/.test(msg.url)) {
          slot.a2aUrl = msg.url;
          this.announcePeers();
        }
        break;
      case 'svid-request':
        this.options.identityFor(slot.spec).then(
          (identity) => this.post(slot, { type: 'svid', identity }),
          (err: Error) => this.post(slot, { type: 'svid-refused', code: (err as { code?: string }).code ?? 'GLM_ERR_INTERNAL', message: err.message }),
        );
        break;
      case 'publish':
        slot.status = msg.status;
        this.emit('status', slot.spec.name, msg.status);
        break;
      case 'hold': this.post(slot, { type: 'pause', reason: msg.reason }); break;
      case 'clear':
        if (slot.holds.size === 0) this.post(slot, { type: 'resume', reason: 'clearance' });
        else this.options.logger.warn({ agent: slot.spec.name, holds: [...slot.holds.keys()] }, 'clearance refused: the agent is under a safety hold');
        break;
      case 'policy-decisions': {
        const { accepted, rejected } = reportedDecisions(msg.counts);
        for (const d of accepted) {
          this.options.metrics.agentPolicyDecisions.inc({ agent: slot.spec.name, function: d.function, decision: d.decision }, d.n);
        }
        if (rejected > 0) this.options.logger.warn({ agent: slot.spec.name, rejected }, 'agent reported policy decision counts outside the known labels; ignored');
        break;
      }
      case 'safety-order':
        // An agent passes up only orders about itself; anything else is misrouted and must not vanish.
        if (msg.order?.target === slot.spec.name) this.safetyOrder(msg.order);
        else this.orderFailed(msg.order, 'unknown', 'GLM_ERR_SAFETY_TARGET_UNKNOWN', `agent ${quote(slot.spec.name)} passed up an order for ${quote(msg.order?.target)}`);
        break;
    }
  }

  private configurationHold(slot: Slot): void {
    const shortfall = safetyLevelShortfall(slot.spec, this.config.zones);
    if (shortfall && !slot.holds.has(CONFIGURATION_HOLDER)) {
      this.options.logger.warn({ agent: slot.spec.name }, shortfallMessage(shortfall));
      this.addHold(slot, { by: CONFIGURATION_HOLDER, decision_id: null, codes: [`SL-${shortfall.required}-ABOVE-ZONE-SL-${shortfall.zoneLevel}`], since: new Date().toISOString() });
    } else if (!shortfall && slot.holds.has(CONFIGURATION_HOLDER)) {
      this.removeHold(slot, CONFIGURATION_HOLDER, null);
    }
  }

  private addHold(slot: Slot, hold: SafetyHold): void {
    slot.holds.set(hold.by, hold);
    this.updateGauges(slot);
    this.options.logger.warn({ agent: slot.spec.name, by: hold.by, decision_id: hold.decision_id, codes: hold.codes, state: slot.state }, 'safety hold');
    void this.append({ type: 'safety.hold', agent: slot.spec.name, by: hold.by, decision_id: hold.decision_id, codes: hold.codes, state: slot.state });
  }

  private removeHold(slot: Slot, by: string, decisionId: string | null): void {
    slot.holds.delete(by);
    this.updateGauges(slot);
    const remaining = [...slot.holds.keys()];
    this.options.logger.info({ agent: slot.spec.name, by, decision_id: decisionId, remaining }, 'safety hold released');
    void this.append({ type: 'safety.release', agent: slot.spec.name, by, decision_id: decisionId, remaining });
  }

  /** Brings the agent's state in line with its holds: paused while held, resumed once released by us. */
  private enforce(slot: Slot): void {
    if (this.stopping) return;
    if (slot.holds.size > 0) {
      if (slot.state !== 'ACTIVE') return;
      const reason = `safety hold: ${[...slot.holds.values()].map((h) => `${h.by}${h.decision_id ? ` (decision ${h.decision_id})` : ''}`).join(', ')}`;
      slot.safetyPaused = true;
      if (slot.pauseSentTo !== slot.child) {
        slot.pauseSentTo = slot.child;
        this.post(slot, { type: 'pause', reason });
      }
      if (slot.holdCheck === undefined) {
        slot.holdCheck = setTimeout(() => {
          slot.holdCheck = undefined;
          if (slot.holds.size === 0 || slot.state !== 'ACTIVE' || this.stopping) return;
          this.holdNotEnforced(slot);
          this.enforce(slot);
        }, HOLD_ENFORCE_MS);
        slot.holdCheck.unref();
      }
      return;
    }
    if (slot.safetyPaused && slot.state === 'PAUSED') {
      slot.safetyPaused = false;
      slot.pauseSentTo = undefined;
      this.post(slot, { type: 'resume', reason: 'safety hold released' });
    }
  }

  private holdNotEnforced(slot: Slot): void {
    const hold = [...slot.holds.values()][0] as SafetyHold;
    this.orderFailed({ action: 'hold', target: slot.spec.name, decision_id: hold.decision_id, codes: hold.codes, from: hold.by }, 'agent', 'GLM_ERR_SAFETY_HOLD_NOT_ENFORCED', `agent ${quote(slot.spec.name)} is still ACTIVE ${HOLD_ENFORCE_MS} ms after its safety hold`);
  }

  private orderFailed(order: Partial<SafetyOrder> | undefined, kind: TargetKind, code: ErrorCode, message: string): void {
    const target = String(order?.target ?? '').slice(0, 64);
    const decisionId = typeof order?.decision_id === 'string' ? order.decision_id : null;
    this.safetyOrders.fail({ target, target_kind: kind, code, decision_id: decisionId });
    this.options.metrics.safetyOrderFailures.inc({ target_kind: kind, code });
    this.options.logger.error({ target, code, decision_id: decisionId, reason: message }, 'safety order not delivered');
    void this.append({ type: 'safety.order_failed', target, target_kind: kind, action: order?.action ?? null, from: order?.from ?? null, decision_id: decisionId, code, message });
  }

  /** A boot refused for its identity or measurement stays refused (never restarted); anything else may be retried. */
  private refuse(slot: Slot, code: string, message: string): void {
    slot.lastError = { code, message };
    if (code.startsWith('GLM_ERR_BOOT_') || code.startsWith('GLM_ERR_CERT_') || code.startsWith('GLM_ERR_ATTESTATION_')) {
      slot.refused = true;
      this.options.metrics.bootRefusals.inc({ agent: slot.spec.name, code });
    }
    this.options.logger.error({ agent: slot.spec.name, code, reason: message }, 'agent refused to start');
  }

  private append(record: AuditRecordInput): Promise<unknown> {
    return this.options.audit.append(record).catch((err: Error) => {
      this.options.logger.error({ err: err.message, type: record.type }, 'audit append failed');
    });
  }

  private record(slot: Slot, t: Transition): void {
    slot.state = t.to;
    slot.since = t.at;
    if (t.to === 'PAUSED' && slot.holds.size > 0) {
      clearTimeout(slot.holdCheck);
      slot.holdCheck = undefined;
      this.safetyOrders.ok(slot.spec.name);
    }
    this.options.metrics.agentTransitions.inc({ agent: t.agent, from: t.from, to: t.to });
    this.updateGauges(slot);
    void this.append({ type: 'agent.transition', agent: t.agent, from: t.from, to: t.to, reason: t.reason, at: t.at });
    this.options.logger.info({ agent: t.agent, from: t.from, to: t.to, reason: t.reason }, 'agent transition');
    this.emit('transition', t);
    // A restarted agent comes back ACTIVE: re-apply its holds; a release that arrived mid-pause resumes it now.
    if (t.to === 'ACTIVE' || t.to === 'PAUSED') this.enforce(slot);
  }

  private updateGauges(slot: Slot): void {
    const { name, kind, zone, required_safety_level } = slot.spec;
    for (const state of STATES) this.options.metrics.agentState.set({ agent: name, kind, zone, state }, state === slot.state ? 1 : 0);
    const zoneLevel = this.config.zones.find((z) => z.name === zone)?.security_level ?? 0;
    this.options.metrics.safetyIntegrityLevel.set({ agent: name, zone }, slot.state === 'ACTIVE' ? zoneLevel : 0);
    this.options.metrics.requiredSafetyLevel.set({ agent: name, zone }, required_safety_level);
    this.options.metrics.safetyHolds.set({ agent: name }, slot.holds.size);
    this.options.metrics.agentCrashLoop.set({ agent: name }, slot.crashLooped ? 1 : 0);
  }

  private onExit(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    slot.child = undefined;
    if (slot.a2aUrl !== undefined) {
      slot.a2aUrl = undefined;
      this.announcePeers();
    }
    const clean = code === 0 && slot.state === 'TERMINATED';
    if (this.stopping || clean) return;
    if (code === EXIT_BOOT_REFUSED || slot.refused) {
      if (slot.state !== 'TERMINATED') this.record(slot, { agent: slot.spec.name, from: slot.state, to: 'TERMINATED', at: new Date().toISOString(), reason: 'boot refused' });
      return;
    }
    // A crash: restart with exponential backoff unless the restart budget of the window is spent.
    const now = Date.now();
    const { restartBackoffMs, maxRestarts, restartWindowS } = this.config.supervisor;
    slot.crashTimes = [...slot.crashTimes.filter((t) => now - t < restartWindowS * 1000), now];
    const givesUp = slot.crashTimes.length > maxRestarts;
    const delay = Math.min(restartBackoffMs.max, restartBackoffMs.initial * 2 ** (slot.crashTimes.length - 1));
    this.options.logger.warn({ agent: slot.spec.name, code, signal }, 'agent process exited unexpectedly');
    // The backoff chosen is part of the record: how long the agent stays down is evidence too.
    void this.append({ type: 'agent.crash', agent: slot.spec.name, exit_code: code, signal, restart_in_ms: givesUp ? null : delay });
    if (slot.state !== 'TERMINATED') this.record(slot, { agent: slot.spec.name, from: slot.state, to: 'TERMINATED', at: new Date().toISOString(), reason: `crashed (${signal ?? `exit ${code}`})` });
    if (givesUp) {
      slot.crashLooped = true;
      this.updateGauges(slot);
      slot.lastError = { code: 'GLM_ERR_AGENT_CRASH_LOOP', message: `agent ${slot.spec.name} crashed ${slot.crashTimes.length} times within ${restartWindowS}s; not restarting` };
      this.options.logger.error({ agent: slot.spec.name, code: 'GLM_ERR_AGENT_CRASH_LOOP' }, slot.lastError.message);
      void this.append({ type: 'agent.crash_loop', agent: slot.spec.name, crashes: slot.crashTimes.length });
      this.emit('crash-loop', slot.spec.name);
      return;
    }
    slot.timer = setTimeout(() => {
      slot.restarts += 1;
      this.options.metrics.agentRestarts.inc({ agent: slot.spec.name });
      void this.spawn(slot);
    }, delay);
  }
}
