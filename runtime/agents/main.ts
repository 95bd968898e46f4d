/**
 * Agent process entry (bundled to dist/agent.js). The supervisor forks one process per agent and sends `boot`; the
 * agent validates its identity and measures its artifacts (into BOOTSTRAPPING), allocates its resources (into ACTIVE),
 * and reports every transition back over IPC. It never holds the audit log: records go to the supervisor.
 */
import { asGlimmerError } from '../errors';
import { createLogger } from '../observability/logger';
import { StateMachine } from '../lifecycle/state-machine';
import { bootHooks } from '../lifecycle/boot';
import { EXIT_BOOT_REFUSED, type AgentToSupervisor, type BootCommand, type SupervisorToAgent } from '../lifecycle/ipc';
import type { AgentBehaviour, AgentContext, AgentMessage } from './behaviour';
import { loadBehaviour } from './registry';

const SEAL_TIMEOUT_MS = 3000;

function send(message: AgentToSupervisor): void {
  if (process.connected) process.send?.(message);
}

class AgentProcess {
  private machine?: StateMachine;
  private behaviour?: AgentBehaviour;
  private readonly handlers: ((m: AgentMessage) => void)[] = [];
  private sealed?: () => void;
  private stopping = false;

  async boot(cmd: BootCommand): Promise<void> {
    const logger = createLogger({ name: `agent:${cmd.spec.name}` });
    const machine = new StateMachine(cmd.spec.name);
    this.machine = machine;
    machine.onTransition((transition) => send({ type: 'transition', transition }));
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
      send: (to, topic, body) => send({ type: 'send', to, topic, body }),
      onMessage: (handler) => this.handlers.push(handler),
      publish: (status) => send({ type: 'publish', status }),
      hold: (reason) => void this.pause(reason),
      clear: () => void this.resume('clearance'),
    };
    machine.onEnter('ACTIVE', async ({ from }) => {
      if (from === 'BOOTSTRAPPING') await behaviour.start(ctx);
      else await behaviour.resume?.();
    });
    machine.onEnter('PAUSED', async ({ reason }) => behaviour.pause?.(reason));
    machine.onEnter('TERMINATED', async ({ from }) => {
      await behaviour.stop();
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

  async pause(reason: string): Promise<void> {
    if (this.machine?.state === 'ACTIVE') await this.machine.transition('PAUSED', reason).catch(() => undefined);
  }

  async resume(reason: string): Promise<void> {
    if (this.machine?.state === 'PAUSED' && !this.stopping) await this.machine.transition('ACTIVE', reason).catch(() => undefined);
  }

  async terminate(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const machine = this.machine;
    try {
      if (machine?.state === 'ACTIVE') await machine.transition('PAUSED', `draining: ${reason}`);
      if (machine && machine.state !== 'TERMINATED') await machine.transition('TERMINATED', reason);
      this.exit(0);
    } catch {
      this.exit(1);
    }
  }

  deliver(message: AgentMessage): void {
    if (this.machine?.state !== 'ACTIVE' && this.machine?.state !== 'PAUSED') return;
    for (const handler of this.handlers) handler(message);
  }

  onSealed(): void {
    this.sealed?.();
  }

  private exit(code: number): void {
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
    case 'message': agent.deliver(raw.message); break;
    case 'sealed': agent.onSealed(); break;
  }
});
// The supervisor is gone: do not linger as an orphan holding PLC sessions.
process.on('disconnect', () => void agent.terminate('supervisor disconnected'));
process.on('SIGTERM', () => void agent.terminate('SIGTERM'));
