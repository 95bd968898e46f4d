/**
 * Agent kinds and their behaviours, loaded only when an agent of that kind boots (cold start stays small).
 * `make build` also writes one bundle per kind (dist/agent-<kind>.js) with GLIMMER_BUNDLE_KIND defined, so the other
 * kinds' code is dropped at build time and a fresh agent process compiles only what it runs.
 */
import type { AgentKind } from '../config/types';
import { GlimmerError } from '../errors';
import type { BehaviourFactory } from './behaviour';

// Replaced by a string literal in the per-kind bundles; undeclared (typeof 'undefined') everywhere else. The checks
// name it directly so esbuild can fold them and drop the other kinds' requires.
declare const GLIMMER_BUNDLE_KIND: string;

export function loadBehaviour(kind: AgentKind): BehaviourFactory {
  switch (kind) {
    case 'industrial':
      if (typeof GLIMMER_BUNDLE_KIND === 'undefined' || GLIMMER_BUNDLE_KIND === 'industrial') return (require('./industrial') as { default: BehaviourFactory }).default;
      break;
    case 'cognitive':
      if (typeof GLIMMER_BUNDLE_KIND === 'undefined' || GLIMMER_BUNDLE_KIND === 'cognitive') return (require('./cognitive') as { default: BehaviourFactory }).default;
      break;
    case 'data':
      if (typeof GLIMMER_BUNDLE_KIND === 'undefined' || GLIMMER_BUNDLE_KIND === 'data') return (require('./data') as { default: BehaviourFactory }).default;
      break;
  }
  throw new GlimmerError('GLM_ERR_INTERNAL', `this agent bundle has no behaviour for agent kind ${kind}`);
}
