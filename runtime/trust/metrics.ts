/**
 * Wires the trust layer's callbacks to the Prometheus metrics of runtime/observability/metrics.ts (trust block).
 * Pass the returned functions as the `onRefusal`, `onHandshake`, `onExpiry`, `onDecision`, `onLookup` options.
 */
import type { ErrorCode } from '../errors';
import type { Metrics } from '../observability/metrics';
import { POLICY_ACTIONS, type PolicyDecision, type PolicyAction, type PolicyDecisionPoint, type RequestContext } from './policy/pdp';
import type { TlsPqMode } from './pq-tls';
import type { SvidSource } from './rotation';

export type TrustMetrics = Pick<Metrics, 'certificateExpiry' | 'tlsRefusals' | 'tlsHandshakes' | 'svidRotations' | 'policyDecisions' | 'policyCacheLookups' | 'policyDecisionCacheLookups' | 'heldDecisionCacheLookups' | 'policyGeneration'>;

const PROTOCOLS: readonly RequestContext['protocol'][] = ['modbus', 'opcua', 'https', 'a2a'];
/** Every `function` label value a PDP decision can have: bounded by the protocols and actions. */
export const DECISION_FUNCTIONS: ReadonlySet<string> = new Set(PROTOCOLS.flatMap((p) => POLICY_ACTIONS.map((a) => `${p}_${a}`)));
/** Largest count one report may add (an agent reports about once a second). */
const MAX_REPORTED = 1_000_000;

/** The key an agent process counts a decision under (its report to the supervisor). */
export function decisionKey(decision: PolicyDecision, action: PolicyAction, protocol: RequestContext['protocol']): string {
  return `${protocol}_${action}|${decision.allow ? 'allow' : 'deny'}`;
}

/**
 * An agent process's decision counts, as the supervisor takes them (IPC from a process it does not trust to keep labels
 * bounded): only known functions and outcomes with whole, bounded counts; anything else is returned as rejected.
 */
export function reportedDecisions(counts: unknown): { accepted: { function: string; decision: 'allow' | 'deny'; n: number }[]; rejected: number } {
  const accepted: { function: string; decision: 'allow' | 'deny'; n: number }[] = [];
  let rejected = 0;
  if (counts === null || typeof counts !== 'object' || Array.isArray(counts)) return { accepted, rejected: 1 };
  for (const [key, n] of Object.entries(counts)) {
    const [fn, decision, extra] = key.split('|');
    if (extra !== undefined || !DECISION_FUNCTIONS.has(fn as string) || (decision !== 'allow' && decision !== 'deny') || !Number.isInteger(n) || (n as number) < 1 || (n as number) > MAX_REPORTED) {
      rejected++;
      continue;
    }
    accepted.push({ function: fn as string, decision, n: n as number });
  }
  return { accepted, rejected };
}

export function trustMetricHooks(metrics: TrustMetrics) {
  return {
    /** MtlsOptions.onRefusal */
    onRefusal: (code: ErrorCode, side: 'server' | 'client') => metrics.tlsRefusals.inc({ side, code }),
    /** MtlsOptions.onHandshake */
    onHandshake: (side: 'server' | 'client', group: string, mode: TlsPqMode, _peer: string | null) => metrics.tlsHandshakes.inc({ side, group, mode }),
    /** SvidSourceOptions.onExpiry for one agent. */
    onExpiry: (agent: string) => (notAfter: Date) => metrics.certificateExpiry.set({ agent }, notAfter.getTime() / 1000),
    /** Counts rotations of a source (call once per SvidSource). */
    watchRotations: (agent: string, source: SvidSource) => source.onRotate(() => metrics.svidRotations.inc({ agent })),
    /** PdpOptions.onDecision */
    onDecision: (decision: PolicyDecision, action: PolicyAction, protocol: RequestContext['protocol']) =>
      metrics.policyDecisions.inc({ function: `${protocol}_${action}`, decision: decision.allow ? 'allow' : 'deny' }),
    /** FrameDeciderOptions.onDecision */
    onFrameDecision: (decision: PolicyDecision, action: string) =>
      metrics.policyDecisions.inc({ function: `modbus_${action.startsWith('modbus:') ? 'invalid' : action}`, decision: decision.allow ? 'allow' : 'deny' }),
    /** FrameDeciderOptions.onLookup */
    onLookup: (hit: boolean) => metrics.policyCacheLookups.inc({ outcome: hit ? 'hit' : 'miss' }),
    /** Counts the PDP's decision cache lookups into glimmer_policy_decision_cache_lookups_total at each scrape. */
    watchDecisionCache: (pdp: PolicyDecisionPoint) => {
      let seen = { hits: 0, misses: 0 };
      const take = () => {
        const now = pdp.decisionCache;
        metrics.policyDecisionCacheLookups.inc({ outcome: 'hit' }, now.hits - seen.hits);
        metrics.policyDecisionCacheLookups.inc({ outcome: 'miss' }, now.misses - seen.misses);
        seen = now;
      };
      take();
      metrics.heldDecisionCacheLookups.add(take);
      return () => {
        take();
        metrics.heldDecisionCacheLookups.delete(take);
      };
    },
    /** Keeps glimmer_policy_generation in step with the PDP. */
    watchPolicy: (pdp: PolicyDecisionPoint) => {
      metrics.policyGeneration.set(pdp.generation);
      return pdp.onChange((g) => metrics.policyGeneration.set(g));
    },
  };
}
