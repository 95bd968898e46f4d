/** GET /healthz (liveness), GET /readyz (readiness), GET /metrics (public: probes and Prometheus carry no token) and GET /v1/agents (authenticated). */
import type { Registry } from 'prom-client';
import type { AgentView } from '../../lifecycle/supervisor';
import type { Readiness } from '../../observability/health';
import type { Route } from '../router';

export interface SystemView {
  agents(): AgentView[];
  readonly registry: Registry;
  /** The readiness conditions. @default - none (always ready) */
  readonly readiness?: Readiness;
}

export function systemRoutes(view: SystemView): Route[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      public: true,
      handle: () => {
        const agents = view.agents();
        const active = agents.filter((a) => a.state === 'ACTIVE').length;
        const report = view.readiness?.evaluate();
        const failing = report ? Object.entries(report.conditions).filter(([, c]) => !c.ok).map(([name]) => name) : [];
        // Liveness: the process answers, so 200 (a restart cures neither a full disk nor a refused agent); the body
        // still says what fails.
        return { status: 200, body: { status: failing.length === 0 ? 'ok' : 'degraded', agents: agents.length, active, failing } };
      },
    },
    {
      method: 'GET',
      path: '/readyz',
      public: true,
      handle: () => {
        const report = view.readiness?.evaluate() ?? { ready: true, conditions: {} };
        return { status: report.ready ? 200 : 503, body: { status: report.ready ? 'ready' : 'not_ready', conditions: report.conditions } };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      public: true,
      handle: async () => ({ status: 200, type: view.registry.contentType, body: await view.registry.metrics() }),
    },
    {
      method: 'GET',
      path: '/v1/agents',
      handle: () => ({
        status: 200,
        body: view.agents().map(({ id, kind, zone, state, since }) => ({ id, kind, zone, state, since })),
      }),
    },
  ];
}
