/**
 * Agent process entry (bundled to dist/agent.js). The supervisor forks one process per agent and sends `boot`; the
 * agent validates its identity and measures its artifacts (into BOOTSTRAPPING), allocates its resources (into ACTIVE),
 * and reports every transition back over IPC. It never holds the audit log: records go to the supervisor.
 * Messages to other agents go over A2A on mTLS (trust/a2a/messenger.ts); the supervisor only tells it where peers listen.
 */
import { Worker } from 'node:worker_threads';
import { GlimmerError, asGlimmerError, quote } from '../errors';
import { createLogger } from '../observability/logger';
import { StateMachine } from '../lifecycle/state-machine';
import { bootHooks } from '../lifecycle/boot';
import { requestHold, type HoldOptions } from '../lifecycle/hold';
import type { AgentIdentity } from '../trust/svid';
import { EXIT_BOOT_REFUSED, EXIT_ORPHANED, SUPERVISOR_PID_ENV, type AgentToSupervisor, type BootCommand, type SupervisorToAgent } from '../lifecycle/ipc';
import type { AgentBehaviour, AgentContext } from './behaviour';
import type { AgentMessage } from '../model/messages';
import type { AgentMessenger } from '../trust/a2a/messenger';
import { loadBehaviour } from './registry';
import { TOPIC_SHUTDOWN } from '../trust/a2a/messenger';
import { parseShutdownBody } from './safety-orders';
import { decisionKey } from '../trust/metrics';
import { RevocationList, verifyRevocationFeed, type SignedRevocationFeed } from '../trust/revocation';

const SEAL_TIMEOUT_MS = 3000;
/** How long an orphaned agent may close its PLC sessions before it exits anyway: no supervisor takes its records any more, and the 1 s orphan budget must hold on a loaded machine. */
const ORPHAN_EXIT_MS = 250;
/** How often the agent checks that its supervisor is still its parent (a kill -9 may not close the channel at once). */
const PARENT_WATCH_MS = 50;
/** How often the agent reports its PDP's decision counts to the supervisor (which alone serves /metrics). */
const DECISION_REPORT_MS = 1000;

function send(message: AgentToSupervisor): void {
  if (!process.connected) return;
  try {
    // The callback takes the error of a channel that closed meanwhile (EPIPE): the supervisor is gone, and the
    // parent-death watch ends this process; it must not crash on an unhandled 'error'.
    process.send?.(message, undefined, undefined, () => undefined);
  } catch {
    /* channel closed between the check and the send */
  }
}

class AgentProcess {
  private machine?: StateMachine;
  private cmd?: BootCommand;
  private behaviour?: AgentBehaviour;
  private readonly handlers: ((m: AgentMessage) => void)[] = [];
  private sealed?: () => void;
  private stopping = false;
  private messenger?: AgentMessenger;
  private peers: Readonly<Record<string, string>> = {};
  private renewal?: { resolve: (identity: AgentIdentity) => void; reject: (err: Error) => void };
  private holds?: HoldOptions;
  /** PDP decisions since the last report, by decisionKey. */
  private readonly decisions = new Map<string, number>();
  private decisionReports?: NodeJS.Timeout;
  /** The revocation list this agent's A2A server and client enforce: a follower of the supervisor's signed feed. */
  private revocation?: RevocationList;
  private feedRefused = false;

  /** The boot in progress (terminate waits for it, so a SIGTERM during boot drains instead of racing it). */
  private booting?: Promise<void>;

  boot(cmd: BootCommand): Promise<void> {
    this.booting = this.runBoot(cmd);
    return this.booting;
  }

  private async runBoot(cmd: BootCommand): Promise<void> {
    const logger = createLogger({ name: `agent:${cmd.spec.name}` });
    this.cmd = cmd;
    const machine = new StateMachine(cmd.spec.name);
    this.machine = machine;
    machine.onTransition((transition) => send({ type: 'transition', transition }));
    this.holds = { machine, logger, audit: (record) => send({ type: 'audit', record }), escalate: (why) => this.terminate(why) };
    this.revocation = RevocationList.inMemory({ maxAgeMs: cmd.config.revocation.maxAgeMs, point: cmd.spec.name, audit: (record) => send({ type: 'audit', record }) });
    const behaviour = loadBehaviour(cmd.spec.kind)(cmd.spec, cmd.config);
    this.behaviour = behaviour;
    for (const [state, hook] of bootHooks(cmd, behaviour.artifacts, (record) => send({ type: 'audit', record }))) machine.onEnter(state, hook);

    const ctx: AgentContext = {
      spec: cmd.spec,
      config: cmd.config,
      stateDir: cmd.stateDir,
      logger,
      endpoints: cmd.endpoints,
      audit: (record) => send({ type: 'audit', record }),
      send: (to, topic, body, done) => {
        if (this.messenger) this.messenger.send(to, topic, body, done);
        else done?.(new GlimmerError('GLM_ERR_SAFETY_ORDER_UNDELIVERED', `agent ${cmd.spec.name} has no A2A messenger to reach ${to}`));
      },
      order: (order) => send({ type: 'safety-order', order }),
      onMessage: (handler) => this.handlers.push(handler),
      publish: (status) => send({ type: 'publish', status }),
      identity: () => this.messenger?.credentials() ?? cmd.identity,
      hold: (reason) => void this.pause(reason),
      clear: () => void this.resume('clearance'),
    };
    machine.onEnter('ACTIVE', async ({ from }) => {
      if (from !== 'BOOTSTRAPPING') return behaviour.resume?.();
      if (behaviour.messaging) await this.startMessenger(cmd, behaviour.messaging, ctx);
      await behaviour.start(ctx);
    });
    machine.onEnter('PAUSED', async ({ reason }) => behaviour.pause?.(reason));
    machine.onEnter('TERMINATED', async ({ from }) => {
      await behaviour.stop();
      await this.messenger?.close();
      if (from === 'PAUSED') await this.sealFinalRecord(cmd);
    });

    try {
      await machine.transition('BOOTSTRAPPING', 'boot');
    } catch (err) {
      const e = asGlimmerError(err);
      send({ type: 'refused', code: e.code, message: e.message });
      await machine.transition('TERMINATED', `boot refused: ${e.code}`).catch(() => undefined);
      this.exit(EXIT_BOOT_REFUSED);
      return;
    }
    // A terminate that arrived during BOOTSTRAPPING: allocate nothing; terminate() retires the agent.
    if (this.stopping) return;
    try {
      await machine.transition('ACTIVE', 'resources allocated');
    } catch (err) {
      const e = asGlimmerError(err);
      logger.error({ code: e.code, msg: e.message }, 'resource allocation failed');
      send({ type: 'refused', code: e.code, message: e.message });
      await machine.transition('TERMINATED', `resource allocation failed: ${e.code}`).catch(() => undefined);
      this.exit(1);
    }
  }

  private sealFinalRecord(cmd: BootCommand): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('final audit record was not sealed in time')), SEAL_TIMEOUT_MS);
      this.sealed = () => {
        clearTimeout(timer);
        resolve();
      };
      send({ type: 'final-audit', record: { type: 'agent.final', agent: cmd.spec.name, zone: cmd.spec.zone } });
    });
  }

  /** A safety hold (the agent's own, or the supervisor's): refused transitions are logged, audited, retried, escalated. */
  async pause(reason: string): Promise<void> {
    if (this.holds) await requestHold(this.holds, 'ACTIVE', 'PAUSED', reason, () => this.stopping);
  }

  async resume(reason: string): Promise<void> {
    if (this.holds) await requestHold(this.holds, 'PAUSED', 'ACTIVE', reason, () => this.stopping);
  }

  async terminate(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // Draining starts from a settled state: a boot step in progress finishes (or fails) first.
    await this.booting?.catch(() => undefined);
    const machine = this.machine;
    try {
      if (machine?.state === 'ACTIVE') await machine.transition('PAUSED', `draining: ${reason}`);
      if (machine && machine.state !== 'TERMINATED') await machine.transition('TERMINATED', reason);
      this.exit(0);
    } catch {
      this.exit(1);
    }
  }

  /** Throws for a safety order it cannot take, so the A2A caller hears of it (and audits it) too. */
  deliver(message: AgentMessage): void {
    if (message.topic === TOPIC_SHUTDOWN) {
      this.deliverOrder(message);
      return;
    }
    if (this.machine?.state !== 'ACTIVE' && this.machine?.state !== 'PAUSED') return;
    for (const handler of this.handlers) handler(message);
  }

  /**
   * A safety order about this agent goes up to its supervisor, whatever the kind (the supervisor holds the agent, not
   * the behaviour); one about a plant unit goes to the Industrial behaviour, the only kind that executes those.
   */
  private deliverOrder(message: AgentMessage): void {
    const spec = this.cmd?.spec;
    const state = this.machine?.state;
    let target: unknown = (message.body as { target?: unknown } | null)?.target;
    try {
      const order = parseShutdownBody(message.body);
      target = order.target;
      if (spec === undefined || (state !== 'ACTIVE' && state !== 'PAUSED')) throw new GlimmerError('GLM_ERR_SAFETY_ORDER_UNDELIVERED', `agent ${spec?.name ?? '?'} is ${state ?? 'not booted'}`);
      if (order.target === spec.name) {
        send({ type: 'safety-order', order: { action: order.action, target: order.target, decision_id: order.decision_id, codes: order.codes, from: message.from } });
        return;
      }
      if (spec.kind !== 'industrial') throw new GlimmerError('GLM_ERR_SAFETY_TARGET_UNKNOWN', `agent ${spec.name} (${spec.kind}) executes no order for ${quote(order.target)}`);
      for (const handler of this.handlers) handler(message);
    } catch (err) {
      const e = asGlimmerError(err);
      send({ type: 'audit', record: { type: 'safety.order_refused', target: String(target ?? '').slice(0, 64), from: message.from, code: e.code, message: e.message.slice(0, 200) } });
      throw e;
    }
  }

  levels(zones: Parameters<NonNullable<AgentBehaviour['levels']>>[0], agents: Parameters<NonNullable<AgentBehaviour['levels']>>[1]): void {
    this.behaviour?.levels?.(zones, agents);
  }

  onSealed(): void {
    this.sealed?.();
  }

  /** The identity was validated on the way into BOOTSTRAPPING; the A2A endpoint serves under it. */
  private async startMessenger(cmd: BootCommand, messaging: NonNullable<AgentBehaviour['messaging']>, ctx: AgentContext): Promise<void> {
    const messenger = await messaging.start({
      spec: cmd.spec,
      config: cmd.config,
      stateDir: cmd.stateDir,
      identity: cmd.identity,
      renew: () => this.renew(),
      revocation: this.revocation,
      onDecision: (decision, action, protocol) => {
        const key = decisionKey(decision, action, protocol);
        this.decisions.set(key, (this.decisions.get(key) ?? 0) + 1);
      },
      accepts: messaging.accepts,
      audit: ctx.audit,
      logger: ctx.logger,
      deliver: (message) => this.deliver(message),
    });
    this.messenger = messenger;
    this.decisionReports ??= setInterval(() => this.reportDecisions(), DECISION_REPORT_MS).unref();
    messenger.setPeers(this.peers);
    if (messenger.url !== undefined) send({ type: 'a2a-endpoint', url: messenger.url });
  }

  reportDecisions(): void {
    if (this.decisions.size === 0) return;
    send({ type: 'policy-decisions', counts: Object.fromEntries(this.decisions) });
    this.decisions.clear();
  }

  setPeers(peers: Readonly<Record<string, string>>): void {
    this.peers = peers;
    this.messenger?.setPeers(peers);
  }

  /** A feed pushed by the supervisor: applied only when its signature verifies against this agent's trust bundle. */
  onRevocationFeed(feed: SignedRevocationFeed): void {
    const cmd = this.cmd;
    if (cmd === undefined || this.revocation === undefined) return;
    try {
      this.revocation.apply(verifyRevocationFeed(feed, { bundlePem: cmd.identity.bundlePem, trustDomain: cmd.config.topology.trust_domain }));
      this.feedRefused = false;
    } catch (err) {
      const e = asGlimmerError(err);
      // Once per run of refusals: a feed arrives every refresh.
      if (!this.feedRefused) send({ type: 'audit', record: { type: 'trust.revocation_feed', point: cmd.spec.name, state: 'refused', code: e.code, reason: e.message.slice(0, 300) } });
      this.feedRefused = true;
    }
  }

  /** The next SVID, issued by the supervisor (one request at a time: rotation is rare). */
  private renew(): Promise<AgentIdentity> {
    return new Promise((resolve, reject) => {
      this.renewal?.reject(new Error('superseded by a newer SVID request'));
      this.renewal = { resolve, reject };
      send({ type: 'svid-request' });
    });
  }

  onSvid(answer: { identity: AgentIdentity } | { code: string; message: string }): void {
    const pending = this.renewal;
    this.renewal = undefined;
    if ('identity' in answer) pending?.resolve(answer.identity);
    else pending?.reject(new GlimmerError('GLM_ERR_CERT_RENEWAL_FAILED', `the supervisor issued no SVID: ${answer.code}: ${answer.message}`));
  }

  private exit(code: number): void {
    clearInterval(this.decisionReports);
    this.revocation?.close();
    this.reportDecisions();
    // Let the IPC channel flush the last messages before leaving.
    setImmediate(() => process.exit(code));
  }
}

const agent = new AgentProcess();
process.on('message', (raw: SupervisorToAgent) => {
  switch (raw.type) {
    case 'boot': void agent.boot(raw); break;
    case 'pause': void agent.pause(raw.reason); break;
    case 'resume': void agent.resume(raw.reason); break;
    case 'terminate': void agent.terminate(raw.reason); break;
    case 'message':
      try {
        agent.deliver(raw.message);
      } catch {
        // audited by deliver
      }
      break;
    case 'levels': agent.levels(raw.zones, raw.agents); break;
    case 'sealed': agent.onSealed(); break;
    case 'peers': agent.setPeers(raw.peers); break;
    case 'svid': agent.onSvid({ identity: raw.identity }); break;
    case 'svid-refused': agent.onSvid(raw); break;
    case 'revocation': agent.onRevocationFeed(raw.feed); break;
  }
});
// The supervisor is gone (its IPC channel closed, or this process was re-parented after a kill -9): do not linger as
// an orphan holding PLC sessions or attach to the next runtime's servers. Drain briefly, then exit whatever hangs.
let orphaned = false;
function supervisorGone(reason: string): void {
  if (orphaned) return;
  orphaned = true;
  setTimeout(() => process.exit(EXIT_ORPHANED), ORPHAN_EXIT_MS);
  void agent.terminate(reason);
}
const supervisorPid = Number(process.env[SUPERVISOR_PID_ENV]) || process.ppid;
// The supervisor may have died while this process was still loading its code.
if (process.ppid !== supervisorPid) supervisorGone('supervisor exited before the agent started');
setInterval(() => {
  if (process.ppid !== supervisorPid) supervisorGone('supervisor exited');
}, PARENT_WATCH_MS).unref();
// The same watch on its own thread: a main thread busy in synchronous work (key generation, a long OPC UA handshake
// under load) runs no timer, so only another thread can end the process in time. It waits for the graceful exit
// above and then kills the process outright.
const watchdog = new Worker(
  `const { workerData } = require('node:worker_threads');
   const check = setInterval(() => {
     if (process.ppid === workerData.parent) return;
     clearInterval(check);
     setTimeout(() => process.kill(workerData.self, 'SIGKILL'), workerData.graceMs);
   }, workerData.everyMs);`,
  { eval: true, workerData: { parent: supervisorPid, self: process.pid, everyMs: PARENT_WATCH_MS, graceMs: ORPHAN_EXIT_MS + 100 }, resourceLimits: { maxOldGenerationSizeMb: 8 } },
);
watchdog.unref();
process.on('disconnect', () => supervisorGone('supervisor disconnected'));
process.on('SIGTERM', () => void agent.terminate('SIGTERM'));
// Ctrl-C reaches the whole process group: the supervisor drives the shutdown, an agent must not die on its own.
process.on('SIGINT', () => undefined);
