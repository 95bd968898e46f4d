/**
 * The swarm supervisor: one isolated process per agent (child_process.fork), restarts with exponential backoff after a
 * crash, gives up after a crash loop, records every transition (audit, metric, log), and on stop drives every agent to
 * TERMINATED within a bounded grace period (stragglers are killed and recorded). Agents message each other directly
 * over A2A on mTLS; the supervisor tells each where the others listen and, holding the CA, renews their SVIDs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentMessage, AuditRecordInput } from '../model/messages';
import type { AgentKind, AgentSpec, RuntimeConfig } from '../config/types';
import { GlimmerError } from '../errors';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { agentBundle } from './release';
import type { ConfigPins } from './config-pins';
import { EXIT_BOOT_REFUSED, type AgentIdentity, type AgentToSupervisor, type SupervisorToAgent } from './ipc';
import { STATES, type LifecycleState } from './states';
import type { Transition } from './state-machine';

export interface AuditSink {
  append(record: AuditRecordInput): Promise<unknown>;
}

export interface AgentView {
  readonly id: string;
  readonly kind: string;
  readonly zone: string;
  readonly state: LifecycleState;
  readonly since: string;
  readonly restarts: number;
  readonly last_error?: { code: string; message: string };
  readonly status?: Record<string, unknown>;
}

export interface SupervisorOptions {
  /** The whole swarm's configuration: every agent boots with it, so it knows its peers and their zones. */
  readonly config: RuntimeConfig;
  /** The agents this process supervises (one per pod). @default every agent of config */
  readonly agents?: readonly AgentSpec[];
  readonly stateDir: string;
  readonly root: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly audit: AuditSink;
  readonly releaseKeyPem: string;
  /** Pins of deployment configuration outside the release (GLIMMER_CONFIG_SHA256). @default {} */
  readonly configPins?: ConfigPins;
  readonly endpoints: Readonly<Record<string, string>>;
  /** Issues the agent's X.509-SVID (at each start, so restarts get a fresh identity, and at each rotation). */
  readonly identityFor: (spec: AgentSpec) => Promise<AgentIdentity>;
  /** @default dist/agent.js under root, or the TypeScript entry through tsx when no bundle exists */
  readonly agentEntry?: string;
}

interface Slot {
  readonly spec: AgentSpec;
  child?: ChildProcess;
  state: LifecycleState;
  since: string;
  restarts: number;
  crashTimes: number[];
  lastError?: { code: string; message: string };
  status?: Record<string, unknown>;
  refused: boolean;
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

  constructor(private readonly options: SupervisorOptions) {
    super();
    for (const spec of options.agents ?? options.config.agents) {
      this.slots.set(spec.name, { spec, state: 'INIT', since: new Date().toISOString(), restarts: 0, crashTimes: [], refused: false });
    }
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
    }));
  }

  async start(): Promise<void> {
    for (const slot of this.slots.values()) this.updateGauges(slot);
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
    this.post(slot, { type, reason });
  }

  /** Delivers a message to an agent as if another agent (or the runtime) sent it. */
  deliver(message: AgentMessage): void {
    const slot = this.slots.get(message.to);
    if (slot) this.post(slot, { type: 'message', message });
  }

  /** Drives every agent to TERMINATED; kills those that do not make it within the grace period. */
  async stop(reason = 'shutdown'): Promise<void> {
    this.stopping = true;
    const grace = this.options.config.supervisor.shutdownGraceMs;
    const slots = [...this.slots.values()];
    for (const slot of slots) {
      clearTimeout(slot.timer);
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
    const identity = await this.options.identityFor(slot.spec);
    // stop() may have run while the identity was issued: never fork an agent nobody will terminate.
    if (this.stopping) return;
    const child = fork(file, [], { execArgv, env: agentProcessEnv(this.options.stateDir), stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
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
      config: this.options.config,
      stateDir: this.options.stateDir,
      root: this.options.root,
      identity,
      releaseKeyPem: this.options.releaseKeyPem,
      configPins: this.options.configPins ?? {},
      endpoints: this.options.endpoints,
    });
    this.post(slot, { type: 'peers', peers: this.peerUrls() });
  }

  /** Agent name -> A2A URL of every running agent endpoint, here or elsewhere. */
  private peerUrls(): Record<string, string> {
    // Agents supervised elsewhere (other pods) are reached where the configuration says.
    const peers: Record<string, string> = { ...this.options.config.a2a.peers };
    for (const s of this.slots.values()) if (s.a2aUrl !== undefined) peers[s.spec.name] = s.a2aUrl;
    return peers;
  }

  private announcePeers(): void {
    const peers = this.peerUrls();
    for (const slot of this.slots.values()) this.post(slot, { type: 'peers', peers });
  }

  private post(slot: Slot, message: SupervisorToAgent): void {
    if (slot.child?.connected) slot.child.send(message);
  }

  private onMessage(slot: Slot, msg: AgentToSupervisor): void {
    switch (msg.type) {
      case 'transition': this.record(slot, msg.transition); break;
      case 'refused':
        slot.lastError = { code: msg.code, message: msg.message };
        if (msg.code.startsWith('GLM_ERR_BOOT_') || msg.code.startsWith('GLM_ERR_CERT_')) {
          slot.refused = true;
          this.options.metrics.bootRefusals.inc({ agent: slot.spec.name, code: msg.code });
        }
        this.options.logger.error({ agent: slot.spec.name, code: msg.code, reason: msg.message }, 'agent refused to start');
        break;
      case 'audit':
        void this.append({ ...msg.record, agent: slot.spec.name });
        this.emit('audit', slot.spec.name, msg.record);
        break;
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
      case 'clear': this.post(slot, { type: 'resume', reason: 'clearance' }); break;
    }
  }

  private append(record: AuditRecordInput): Promise<unknown> {
    return this.options.audit.append(record).catch((err: Error) => {
      this.options.logger.error({ err: err.message, type: record.type }, 'audit append failed');
    });
  }

  private record(slot: Slot, t: Transition): void {
    slot.state = t.to;
    slot.since = t.at;
    this.options.metrics.agentTransitions.inc({ agent: t.agent, from: t.from, to: t.to });
    this.updateGauges(slot);
    void this.append({ type: 'agent.transition', agent: t.agent, from: t.from, to: t.to, reason: t.reason, at: t.at });
    this.options.logger.info({ agent: t.agent, from: t.from, to: t.to, reason: t.reason }, 'agent transition');
    this.emit('transition', t);
  }

  private updateGauges(slot: Slot): void {
    const { name, kind, zone, required_safety_level } = slot.spec;
    for (const state of STATES) this.options.metrics.agentState.set({ agent: name, kind, zone, state }, state === slot.state ? 1 : 0);
    const zoneLevel = this.options.config.zones.find((z) => z.name === zone)?.security_level ?? 0;
    this.options.metrics.safetyIntegrityLevel.set({ agent: name, zone }, slot.state === 'ACTIVE' ? zoneLevel : 0);
    this.options.metrics.requiredSafetyLevel.set({ agent: name, zone }, required_safety_level);
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
    const { restartBackoffMs, maxRestarts, restartWindowS } = this.options.config.supervisor;
    slot.crashTimes = [...slot.crashTimes.filter((t) => now - t < restartWindowS * 1000), now];
    this.options.logger.warn({ agent: slot.spec.name, code, signal }, 'agent process exited unexpectedly');
    void this.append({ type: 'agent.crash', agent: slot.spec.name, exit_code: code, signal });
    if (slot.state !== 'TERMINATED') this.record(slot, { agent: slot.spec.name, from: slot.state, to: 'TERMINATED', at: new Date().toISOString(), reason: `crashed (${signal ?? `exit ${code}`})` });
    if (slot.crashTimes.length > maxRestarts) {
      slot.lastError = { code: 'GLM_ERR_AGENT_CRASH_LOOP', message: `agent ${slot.spec.name} crashed ${slot.crashTimes.length} times within ${restartWindowS}s; not restarting` };
      this.options.logger.error({ agent: slot.spec.name, code: 'GLM_ERR_AGENT_CRASH_LOOP' }, slot.lastError.message);
      void this.append({ type: 'agent.crash_loop', agent: slot.spec.name, crashes: slot.crashTimes.length });
      this.emit('crash-loop', slot.spec.name);
      return;
    }
    const delay = Math.min(restartBackoffMs.max, restartBackoffMs.initial * 2 ** (slot.crashTimes.length - 1));
    slot.timer = setTimeout(() => {
      slot.restarts += 1;
      this.options.metrics.agentRestarts.inc({ agent: slot.spec.name });
      void this.spawn(slot);
    }, delay);
  }
}
