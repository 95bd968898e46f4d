/** Agent kinds and their behaviours, loaded only when an agent of that kind boots (cold start stays small). */
import type { AgentKind } from '../config/types';
import type { BehaviourFactory } from './behaviour';

export function loadBehaviour(kind: AgentKind): BehaviourFactory {
  switch (kind) {
    case 'industrial':
      return (require('./industrial') as { default: BehaviourFactory }).default;
    case 'cognitive':
      return (require('./cognitive') as { default: BehaviourFactory }).default;
    case 'data':
      return (require('./data') as { default: BehaviourFactory }).default;
  }
}
