/**
 * The HTTP API app factory (separate from the process entry so tests start the real server on port 0 in-process).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { GlimmerError, asGlimmerError, quote } from '../errors';
import type { Logger } from '../observability/logger';
import { authenticate } from './auth';
import { Router, type Principal, type RequestContext, type Route } from './router';

export interface ApiServerOptions {
  readonly adminToken: string;
  readonly routes: readonly Route[];
  readonly logger: Logger;
  /** @default 1 MiB */
  readonly maxBodyBytes?: number;
  /**
   * The policy enforcement point for authenticated routes, called after authentication and before the handler;
   * throws (GLM_ERR_API_FORBIDDEN) to refuse. @default - authentication only
   */
  readonly authorize?: (principal: Principal, route: Route, pathname: string) => void;
  /**
   * Host names requests may carry besides IP addresses: a DNS-rebinding page reaches the API under its own name and
   * is refused (421) even on public routes. @default ['localhost']
   */
  readonly allowedHosts?: readonly string[];
  /** Deepest nesting of arrays and objects a JSON body may have. @default 64 */
  readonly maxJsonDepth?: number;
}

export interface ApiServer {
  readonly server: http.Server;
  /** The request handler, for other listeners (the mTLS listener of machine clients). */
  readonly handler: http.RequestListener;
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop buffering but keep draining, so the client still receives the 413.
        chunks.length = 0;
        reject(new GlimmerError('GLM_ERR_API_BODY_TOO_LARGE', `request body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The host part of a Host header (no port; IPv6 without brackets), lower case. */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/** Nesting depth of a JSON text (brackets outside strings), stopping once it passes `max`: linear, no recursion. */
function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

export function createApiServer(options: ApiServerOptions): ApiServer {
  const router = new Router().add(...options.routes);
  const limit = options.maxBodyBytes ?? 1024 * 1024;
  const maxDepth = options.maxJsonDepth ?? 64;
  const allowedHosts = new Set((options.allowedHosts ?? ['localhost']).map((h) => h.toLowerCase()));
  const log = options.logger;

  // checkHost: on the plain HTTP listener only. A browser page cannot present an SVID, so DNS rebinding cannot reach
  // the mTLS listener, where machine clients may use any service name.
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, checkHost: boolean): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      const host = hostName(req.headers.host ?? '');
      if (checkHost && net.isIP(host) === 0 && !allowedHosts.has(host)) throw new GlimmerError('GLM_ERR_API_HOST_REFUSED', `host ${quote(host)} is not an IP address or one of api.allowed_hosts`);
      // Authentication comes before routing: an unauthenticated client learns nothing of which routes exist.
      let route: Route;
      try {
        route = router.match(req.method ?? 'GET', url.pathname);
      } catch (err) {
        authenticate(req, options.adminToken);
        throw err;
      }
      const principal = route.public ? undefined : authenticate(req, options.adminToken);
      if (principal) options.authorize?.(principal, route, url.pathname);
      const ctx: RequestContext = {
        req,
        res,
        url,
        principal,
        async json() {
          const raw = await readBody(req, limit);
          const text = raw.toString('utf8');
          if (jsonDepthExceeds(text, maxDepth)) throw new GlimmerError('GLM_ERR_API_BODY_INVALID', `request body nests deeper than ${maxDepth} levels`);
          try {
            return JSON.parse(text) as unknown;
          } catch {
            throw new GlimmerError('GLM_ERR_API_BODY_INVALID', 'request body is not valid JSON');
          }
        },
      };
      const reply = await route.handle(ctx);
      if (reply === 'handled') return;
      const type = reply.type ?? 'application/json';
      const payload = type === 'application/json' ? JSON.stringify(reply.body) : (reply.body as string | Buffer);
      res.writeHead(reply.status ?? 200, { ...SECURITY_HEADERS, 'content-type': type, ...(reply.headers ?? {}) });
      res.end(payload);
    } catch (err) {
      const e = asGlimmerError(err);
      if (e.code === 'GLM_ERR_INTERNAL') log.error({ err, path: url.pathname }, 'api request failed');
      if (!res.headersSent) {
        res.writeHead(e.status, {
          ...SECURITY_HEADERS,
          ...(e.status === 413 ? { connection: 'close' } : {}),
          'content-type': 'application/json',
          ...(e.status === 401 ? { 'www-authenticate': 'Bearer realm="glimmer"' } : {}),
        });
      }
      res.end(JSON.stringify(e.toJSON()));
    }
  };
  const handler: http.RequestListener = (req, res) => void handle(req, res, false);
  const server = http.createServer((req, res) => void handle(req, res, true));
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;
  server.requestTimeout = 30000;

  return {
    server,
    handler,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      });
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
