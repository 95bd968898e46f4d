/**
 * A small route table for the HTTP API: exact paths, per-route authentication, bounded JSON bodies,
 * typed errors rendered without stacks. Domains add their routes in `runtime/api/routes/<domain>.ts`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GlimmerError } from '../errors';
import type { PolicyAction, PolicyResource } from '../trust/policy/pdp';

export interface Principal {
  /** `admin` for the admin token, or the SPIFFE ID of an mTLS client certificate. */
  readonly id: string;
  readonly kind: 'admin' | 'agent' | 'operator';
}

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** Set for authenticated routes. */
  readonly principal?: Principal;
  /** Reads and parses the JSON body (bounded); throws GLM_ERR_API_BODY_INVALID / _TOO_LARGE. */
  json(): Promise<unknown>;
}

export type Reply = { status?: number; body: unknown; type?: string; headers?: Record<string, string> } | 'handled';

/** The policy question a state-changing route asks of the PDP, declared on the route itself. */
export interface RoutePolicy {
  readonly action: PolicyAction;
  readonly resource: PolicyResource;
}

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  /** Required on every state-changing route (reads need only authentication): without it the route is refused. */
  readonly policy?: RoutePolicy;
  /** Unauthenticated routes are the exception (only /healthz and /metrics, for probes and Prometheus, and the console shell, which holds no data). */
  readonly public?: boolean;
  handle(ctx: RequestContext): Promise<Reply> | Reply;
}

export class Router {
  private readonly routes = new Map<string, Map<string, Route>>();

  add(...routes: Route[]): this {
    for (const route of routes) {
      const byMethod = this.routes.get(route.path) ?? new Map<string, Route>();
      byMethod.set(route.method, route);
      this.routes.set(route.path, byMethod);
    }
    return this;
  }

  match(method: string, pathname: string): Route {
    const byMethod = this.routes.get(pathname);
    if (!byMethod) throw new GlimmerError('GLM_ERR_API_NOT_FOUND', `no route ${pathname}`);
    const route = byMethod.get(method);
    if (!route) throw new GlimmerError('GLM_ERR_API_METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}`);
    return route;
  }
}
