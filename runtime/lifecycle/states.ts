/**
 * The seed's agent lifecycle: INIT -> BOOTSTRAPPING -> ACTIVE <-> PAUSED -> TERMINATED.
 * Two edges beyond the seed's table keep "no agent left half-started" true: a refused boot ends in TERMINATED
 * (BOOTSTRAPPING -> TERMINATED), and an agent that never booted can be retired (INIT -> TERMINATED).
 * ACTIVE -> TERMINATED is deliberately absent: shutdown always drains through PAUSED, as the seed orders it.
 */
export const STATES = ['INIT', 'BOOTSTRAPPING', 'ACTIVE', 'PAUSED', 'TERMINATED'] as const;
export type LifecycleState = (typeof STATES)[number];

/** What each edge is guarded by (the seed's hook names). */
export const TRANSITIONS: Readonly<Record<LifecycleState, Readonly<Partial<Record<LifecycleState, string>>>>> = {
  INIT: { BOOTSTRAPPING: 'cert_validation', TERMINATED: 'abort' },
  BOOTSTRAPPING: { ACTIVE: 'resource_allocation', TERMINATED: 'boot_refused' },
  ACTIVE: { PAUSED: 'policy_check' },
  PAUSED: { ACTIVE: 'clearance', TERMINATED: 'audit_compliance' },
  TERMINATED: {},
};

export function isLegal(from: LifecycleState, to: LifecycleState): boolean {
  return TRANSITIONS[from][to] !== undefined;
}
