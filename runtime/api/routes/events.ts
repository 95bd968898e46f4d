/**
 * `GET /v1/events`: the console's live updates as Server-Sent Events (text/event-stream). Authenticated like every data
 * route: the console reads the stream with fetch() and an `Authorization: Bearer` header (EventSource cannot send
 * headers, and the token never goes into a URL). The first event is `hello` with the runtime's boot id; a heartbeat
 * follows every `heartbeatMs`, so a console notices a dead connection and marks its data stale.
 */
import type { ServerResponse } from 'node:http';
import { GlimmerError } from '../../errors';
import type { ConsoleEvent, ConsoleView } from '../console/view-model';
import type { Route } from '../router';

export interface EventRouteOptions {
  /** @default 5000 */
  readonly heartbeatMs?: number;
  /** A client whose unsent bytes exceed this is disconnected (a slow reader must not grow memory). @default 1 MiB */
  readonly maxBufferedBytes?: number;
  /** Reconnect delay suggested to clients (the SSE `retry` field). @default 2000 */
  readonly retryMs?: number;
}

/** One SSE frame. JSON never contains a raw newline, so `data:` stays one line. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function eventRoutes(view: ConsoleView, options: EventRouteOptions = {}): Route[] {
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
  const retryMs = options.retryMs ?? 2000;
  return [
    {
      method: 'GET',
      path: '/v1/events',
      handle: ({ req, res }) => {
        let unsubscribe: (() => void) | undefined;
        const send = (r: ServerResponse, frame: string) => {
          if (r.writableLength > maxBuffered) {
            r.destroy();
            return;
          }
          r.write(frame);
        };
        try {
          unsubscribe = view.subscribe((event: ConsoleEvent) => send(res, sseFrame(event.type, event)));
        } catch {
          throw new GlimmerError('GLM_ERR_API_TOO_MANY_STREAMS', 'too many live console connections; close one and retry');
        }
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          'x-accel-buffering': 'no',
          connection: 'keep-alive',
        });
        res.write(`retry: ${retryMs}\n\n`);
        res.write(sseFrame('hello', { boot_id: view.bootId, server_time: Date.now() }));
        const heartbeat = setInterval(() => send(res, sseFrame('heartbeat', { server_time: Date.now() })), heartbeatMs);
        const close = () => {
          clearInterval(heartbeat);
          unsubscribe?.();
          unsubscribe = undefined;
        };
        req.on('close', close);
        res.on('close', close);
        res.on('error', close);
        return 'handled';
      },
    },
  ];
}
