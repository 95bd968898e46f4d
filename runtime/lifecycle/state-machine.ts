/**
 * The agent lifecycle state machine. A transition runs the hooks registered for its target state, in order; if one
 * throws, the transition is refused and the state is unchanged (the caller decides whether to abort to TERMINATED).
 * Every completed transition is reported to the listeners (audit, metrics, log are attached by the agent process).
 */
import { GlimmerError, asGlimmerError } from '../errors';
import { isLegal, type LifecycleState } from './states';

export interface Transition {
  readonly agent: string;
  readonly from: LifecycleState;
  readonly to: LifecycleState;
  readonly at: string;
  readonly reason: string;
}

export type TransitionHook = (transition: Omit<Transition, 'at'>) => Promise<void> | void;
export type TransitionListener = (transition: Transition) => void;

export class StateMachine {
  private current: LifecycleState = 'INIT';
  private sinceIso = new Date().toISOString();
  private busy = false;
  private readonly hooks = new Map<LifecycleState, TransitionHook[]>();
  private readonly listeners: TransitionListener[] = [];

  constructor(readonly agent: string) {}

  get state(): LifecycleState {
    return this.current;
  }

  get since(): string {
    return this.sinceIso;
  }

  /** A transition's hooks are running (the state changes, or not, when they finish). */
  get inTransition(): boolean {
    return this.busy;
  }

  /** Registers a guard run before entering `state` (the seed's TRANSITION_HOOKS). */
  onEnter(state: LifecycleState, hook: TransitionHook): this {
    this.hooks.set(state, [...(this.hooks.get(state) ?? []), hook]);
    return this;
  }

  onTransition(listener: TransitionListener): this {
    this.listeners.push(listener);
    return this;
  }

  async transition(to: LifecycleState, reason: string): Promise<Transition> {
    const from = this.current;
    if (!isLegal(from, to)) {
      throw new GlimmerError('GLM_ERR_LIFECYCLE_ILLEGAL_TRANSITION', `agent ${this.agent}: ${from} -> ${to} is not a lifecycle transition`, {
        details: { agent: this.agent, from, to },
      });
    }
    if (this.busy) {
      throw new GlimmerError('GLM_ERR_LIFECYCLE_ILLEGAL_TRANSITION', `agent ${this.agent}: a transition out of ${from} is already in progress`, {
        details: { agent: this.agent, from, to },
      });
    }
    this.busy = true;
    try {
      for (const hook of this.hooks.get(to) ?? []) {
        try {
          await hook({ agent: this.agent, from, to, reason });
        } catch (err) {
          const cause = asGlimmerError(err);
          // Keep the hook's own code (GLM_ERR_BOOT_*, GLM_ERR_CERT_*): it names what failed.
          throw cause.code === 'GLM_ERR_INTERNAL'
            ? new GlimmerError('GLM_ERR_LIFECYCLE_HOOK_FAILED', `agent ${this.agent}: hook for ${from} -> ${to} failed`, { cause: err })
            : cause;
        }
      }
      this.current = to;
      this.sinceIso = new Date().toISOString();
      const done: Transition = { agent: this.agent, from, to, at: this.sinceIso, reason };
      for (const listener of this.listeners) listener(done);
      return done;
    } finally {
      this.busy = false;
    }
  }
}
