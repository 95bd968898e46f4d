/**
 * The HTTP API app factory (separate from the process entry so tests start the real server on port 0 in-process).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GlimmerError, asGlimmerError } from '../errors';
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
  readonly authorize?: (principal: Principal, method: string, pathname: string) => void;
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

export function createApiServer(options: ApiServerOptions): ApiServer {
  const router = new Router().add(...options.routes);
  const limit = options.maxBodyBytes ?? 1024 * 1024;
  const log = options.logger;

  const handler: http.RequestListener = async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      const route = router.match(req.method ?? 'GET', url.pathname);
      const principal = route.public ? undefined : authenticate(req, options.adminToken);
      if (principal) options.authorize?.(principal, route.method, url.pathname);
      const ctx: RequestContext = {
        req,
        res,
        url,
        principal,
        async json() {
          const raw = await readBody(req, limit);
          try {
            return JSON.parse(raw.toString('utf8')) as unknown;
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
  const server = http.createServer(handler);
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
