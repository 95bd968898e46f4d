/**
 * Safety holds and their clearance (ACTIVE <-> PAUSED) as an agent asks for them. A hold is a safety measure, so a
 * refused transition is never dropped: each refusal is logged and audited, the request is retried (the usual cause is
 * another transition still running, which ends within its hooks' time), and when the retries are spent the request is
 * escalated: a hold that cannot be applied terminates the agent (it acts on nothing; if even the drain fails the
 * process exits non-zero and the supervisor's restart policy takes over), a clearance that cannot be
 * applied leaves the agent PAUSED, the safe state, with an error for the operator.
 */
import { asGlimmerError } from '../errors';
import type { AuditRecordInput } from '../model/messages';
import type { Logger } from '../observability/logger';
import type { StateMachine } from './state-machine';

export interface HoldOptions {
  readonly machine: StateMachine;
  readonly logger: Logger;
  readonly audit: (record: AuditRecordInput) => void;
  /** Attempts in all, the first included. @default 4 */
  readonly attempts?: number;
  /** Wait before retry n is n times this. @default 100 */
  readonly retryMs?: number;
  /** Called when a hold could not be applied after every attempt (the agent process terminates). */
  readonly escalate: (reason: string) => Promise<void>;
}

export type HoldOutcome = 'applied' | 'not-needed' | 'escalated';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Moves the machine `from` -> `to` (ACTIVE -> PAUSED for a hold, PAUSED -> ACTIVE for a clearance). Not needed when the
 * machine is not in `from` and no transition is running, or `cancelled()` says so (the agent is stopping).
 */
export async function requestHold(options: HoldOptions, from: 'ACTIVE' | 'PAUSED', to: 'PAUSED' | 'ACTIVE', reason: string, cancelled: () => boolean = () => false): Promise<HoldOutcome> {
  const { machine, logger, audit } = options;
  const attempts = options.attempts ?? 4;
  const retryMs = options.retryMs ?? 100;
  const what = to === 'PAUSED' ? 'hold' : 'clearance';
  for (let attempt = 1; ; attempt++) {
    // A transition still running may end in `from`: try (and be refused) rather than drop the request.
    if ((machine.state !== from && !machine.inTransition) || cancelled()) return 'not-needed';
    try {
      await machine.transition(to, reason);
      return 'applied';
    } catch (err) {
      const e = asGlimmerError(err);
      const last = attempt >= attempts;
      const next = last ? (to === 'PAUSED' ? 'escalated: the agent terminates' : 'escalated: the agent stays PAUSED') : `retry in ${retryMs * attempt} ms`;
      logger[last ? 'error' : 'warn']({ agent: machine.agent, from, to, reason, code: e.code, err: e.message, attempt, attempts }, `${what} refused; ${next}`);
      audit({ type: 'agent.transition_refused', agent: machine.agent, from, to, reason, code: e.code, attempt, attempts, next: last ? 'escalated' : 'retry' });
      if (last) {
        if (to === 'PAUSED') await options.escalate(`safety hold could not be applied (${e.code}): ${reason}`);
        return 'escalated';
      }
      await sleep(retryMs * attempt);
    }
  }
}
