/**
 * Wires the trust layer's callbacks to the Prometheus metrics of runtime/observability/metrics.ts (trust block).
 * Pass the returned functions as the `onRefusal`, `onHandshake`, `onExpiry`, `onDecision`, `onLookup` options.
 */
import type { ErrorCode } from '../errors';
import type { Metrics } from '../observability/metrics';
import type { Decision, PolicyAction, PolicyDecisionPoint, RequestContext } from './policy/pdp';
import type { TlsPqMode } from './pq-tls';
import type { SvidSource } from './rotation';

export type TrustMetrics = Pick<Metrics, 'certificateExpiry' | 'tlsRefusals' | 'tlsHandshakes' | 'svidRotations' | 'policyDecisions' | 'policyCacheLookups' | 'policyDecisionCacheLookups' | 'heldDecisionCacheLookups' | 'policyGeneration'>;

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
    onDecision: (decision: Decision, action: PolicyAction, protocol: RequestContext['protocol']) =>
      metrics.policyDecisions.inc({ function: `${protocol}_${action}`, decision: decision.allow ? 'allow' : 'deny' }),
    /** FrameDeciderOptions.onDecision */
    onFrameDecision: (decision: Decision, action: string) =>
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
