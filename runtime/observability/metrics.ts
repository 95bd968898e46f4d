/**
 * The Prometheus registry of the runtime. Naming follows Prometheus conventions: `glimmer_` prefix, base units in the
 * name, `_total` for counters, label values from bounded sets only (agent ids, zones, states, reasons; never client
 * addresses). The seed's `safety_integrity_level` and `required_safety_level` keep their exact names so the seed's
 * alert expression works as written.
 */
import client from 'prom-client';

export const LIFECYCLE_STATES = ['INIT', 'BOOTSTRAPPING', 'ACTIVE', 'PAUSED', 'TERMINATED'] as const;

export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'glimmer_process_' });
  const r = [registry];
  return {
    registry,
    agentState: new client.Gauge({ name: 'glimmer_agent_state', help: '1 for the lifecycle state the agent is in, 0 for the others', labelNames: ['agent', 'kind', 'zone', 'state'], registers: r }),
    agentTransitions: new client.Counter({ name: 'glimmer_agent_transitions_total', help: 'Lifecycle transitions by agent, source and target state', labelNames: ['agent', 'from', 'to'], registers: r }),
    agentRestarts: new client.Counter({ name: 'glimmer_agent_restarts_total', help: 'Agent process restarts by the supervisor', labelNames: ['agent'], registers: r }),
    bootRefusals: new client.Counter({ name: 'glimmer_boot_refusals_total', help: 'Boots refused by certificate validation or measured boot, by error code', labelNames: ['agent', 'code'], registers: r }),
    safetyIntegrityLevel: new client.Gauge({ name: 'safety_integrity_level', help: 'Safety integrity level the agent currently operates at (its zone\'s level)', labelNames: ['agent', 'zone'], registers: r }),
    requiredSafetyLevel: new client.Gauge({ name: 'required_safety_level', help: 'Safety integrity level the agent requires', labelNames: ['agent', 'zone'], registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
