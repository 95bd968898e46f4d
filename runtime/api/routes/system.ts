/** GET /healthz, GET /metrics (public: probes and Prometheus carry no token) and GET /v1/agents (authenticated). */
import type { Registry } from 'prom-client';
import type { AgentView } from '../../lifecycle/supervisor';
import type { Route } from '../router';

export interface SystemView {
  agents(): AgentView[];
  readonly registry: Registry;
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
        return { status: 200, body: { status: 'ok', agents: agents.length, active } };
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
