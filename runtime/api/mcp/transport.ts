/**
 * The streamable HTTP POST of a stateless MCP server in JSON-response mode, answered as an API route reply. The SDK's
 * StreamableHTTPServerTransport turns every Node request into a web Request and its answer back from a web Response
 * through @hono/node-server; on a read call that conversion was the largest share of the server's allocations and so
 * of its garbage-collection pauses. This transport implements the SDK's Transport interface for one POST and keeps
 * the SDK transport's checks, with the SDK's own schemas and helpers: Accept must list application/json and
 * text/event-stream (406), the Content-Type media type must be application/json (415), at most MAX_BATCH_SIZE
 * messages, each a JSON-RPC message (400, -32700), an initialize request alone in its POST (400), a supported
 * MCP-Protocol-Version on every other POST (400); a POST of notifications or responses only (or whose requests it
 * also cancels) is accepted with 202.
 * Messages the server sends that answer no request of the POST (progress, logging) are dropped, as in the SDK's JSON
 * mode. There is no session and no SSE stream (GET and DELETE are 405 on the route).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { MAX_BATCH_SIZE } from '@modelcontextprotocol/sdk/server/requestBody.js';
import { isJsonContentType } from '@modelcontextprotocol/sdk/shared/mediaType.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  isInitializeRequest, isJSONRPCRequest, JSONRPCMessageSchema, SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage, type RequestId,
} from '@modelcontextprotocol/sdk/types.js';

export interface JsonPostReply {
  readonly status: number;
  readonly body: unknown;
}

/** A transport the server answers one POST through; `answered` settles once every request of it has its response. */
class PostTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];
  readonly #answers = new Map<RequestId, JSONRPCMessage | undefined>();
  #left: number;
  #resolve: () => void = () => undefined;
  readonly answered: Promise<void>;

  constructor(requestIds: readonly RequestId[]) {
    for (const id of requestIds) this.#answers.set(id, undefined);
    this.#left = this.#answers.size;
    this.answered = new Promise((resolve) => (this.#resolve = resolve));
  }

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    // Only responses (result or error) to this POST's requests are delivered; the Protocol made them, so the shape holds.
    if (!('id' in message) || !('result' in message || 'error' in message)) return;
    const id = message.id;
    if (id === undefined || !this.#answers.has(id) || this.#answers.get(id) !== undefined) return;
    this.#answers.set(id, message);
    if (--this.#left === 0) this.#resolve();
  }

  async close(): Promise<void> {
    this.onclose?.();
  }

  /** Every request of the POST has its response. */
  get complete(): boolean {
    return this.#left === 0;
  }

  responses(): JSONRPCMessage[] {
    return [...this.#answers.values()] as JSONRPCMessage[];
  }
}

function refuse(status: number, code: number, message: string): JsonPostReply {
  return { status, body: { jsonrpc: '2.0', error: { code, message }, id: null } };
}

/**
 * Serves one POST: `connect` attaches a fresh server to the transport (it must not be reused: JSON-RPC ids of
 * different clients collide). A server whose requests are all answered holds no timer, handler or pending request, so
 * it is dropped rather than closed (closing builds a 'Connection closed' error with its stack on every call); one that
 * failed before answering, or whose client went away first (`onGone`), is closed, which aborts its in-flight handlers.
 */
export async function handleJsonPost(
  headers: IncomingHttpHeaders,
  body: unknown,
  connect: (transport: Transport) => Promise<{ close(): Promise<void> }>,
  onGone?: (listener: () => void) => void,
): Promise<JsonPostReply> {
  const accept = headers.accept ?? '';
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
    return refuse(406, -32000, 'Not Acceptable: Client must accept both application/json and text/event-stream');
  }
  if (!isJsonContentType(headers['content-type'])) return refuse(415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
  const raw = Array.isArray(body) ? body : [body];
  if (raw.length > MAX_BATCH_SIZE) return refuse(400, -32600, `Invalid Request: Batch must not exceed ${MAX_BATCH_SIZE} messages`);
  let messages: JSONRPCMessage[];
  try {
    messages = raw.map((m) => JSONRPCMessageSchema.parse(m));
  } catch {
    return refuse(400, -32700, 'Parse error: Invalid JSON-RPC message');
  }
  // The method test first: a failed schema check allocates a whole ZodError, on every call that is not initialize.
  if (messages.some((m) => 'method' in m && m.method === 'initialize' && isInitializeRequest(m))) {
    if (messages.length > 1) return refuse(400, -32600, 'Invalid Request: Only one initialization request is allowed');
  } else {
    const version = headers['mcp-protocol-version'];
    if (version !== undefined && (typeof version !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(version))) {
      return refuse(400, -32000, `Bad Request: Unsupported protocol version: ${String(version)} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
    }
  }
  const requestIds = messages.filter((m) => isJSONRPCRequest(m)).map((m) => m.id);
  if (new Set(requestIds).size !== requestIds.length) return refuse(400, -32600, 'Invalid Request: duplicate request id in one POST');
  // A request cancelled in its own POST gets no response (the SDK drops the answer of an aborted handler): waiting for
  // one would hold the POST, and its server, forever.
  const cancelled = new Set(messages.flatMap((m) => ('method' in m && m.method === 'notifications/cancelled' && !('id' in m) ? [(m.params as { requestId?: unknown } | undefined)?.requestId] : [])));
  const transport = new PostTransport(requestIds.filter((id) => !cancelled.has(id)));
  const server = await connect(transport);
  try {
    for (const m of messages) transport.onmessage?.(m);
    if (requestIds.every((id) => cancelled.has(id))) return { status: 202, body: undefined };
    await (onGone === undefined ? transport.answered : Promise.race([transport.answered, new Promise<void>((resolve) => onGone(resolve))]));
  } catch (err) {
    void server.close();
    throw err;
  }
  if (!transport.complete) {
    void server.close();
    return refuse(499, -32000, 'the client closed the connection before the answer');
  }
  const responses = transport.responses();
  return { status: 200, body: Array.isArray(body) ? responses : responses[0] };
}
