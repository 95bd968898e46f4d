/**
 * The stateless JSON POST transport of the MCP endpoint (runtime/api/mcp/transport.ts) with the SDK's own Server: the
 * answers of a single request and a batch, and every refusal the SDK's streamable HTTP transport makes (Accept,
 * Content-Type, batch size, malformed JSON-RPC, a second message beside initialize, an unsupported protocol version),
 * plus fuzzed bodies and headers: always one of the documented statuses, never a throw.
 */
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { test } from 'node:test';
import fc from 'fast-check';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { handleJsonPost } from '../../runtime/api/mcp/transport';

const HEADERS: IncomingHttpHeaders = { accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': LATEST_PROTOCOL_VERSION };

let servers = 0;
const connect = async (transport: Parameters<Server['connect']>[0]) => {
  const server = new Server({ name: 'test', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(CallToolRequestSchema, (r) => ({ content: [{ type: 'text', text: `called ${r.params.name}` }] }));
  servers += 1;
  await server.connect(transport);
  return server;
};

const call = (id: number | string, name = 'x') => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
const errorOf = (body: unknown) => (body as { error: { code: number; message: string } }).error;

test('GIVEN one tools/call WHEN posted THEN 200 with its JSON-RPC response from a fresh server', async () => {
  const before = servers;
  const r = await handleJsonPost(HEADERS, call(7, 'read_plant'), connect);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'called read_plant' }] } });
  assert.equal(servers, before + 1);
});

test('GIVEN a server that cannot take the POST WHEN posted THEN the error propagates (the API answers 500) and nothing is answered half', async () => {
  const failing = async () => {
    throw new Error('no server');
  };
  await assert.rejects(handleJsonPost(HEADERS, call(1), failing), /no server/);
});

test('GIVEN a batch of two calls and a notification WHEN posted THEN 200 with an array of the two responses in request order', async () => {
  const r = await handleJsonPost(HEADERS, [call('a', 'one'), { jsonrpc: '2.0', method: 'notifications/initialized' }, call(2, 'two')], connect);
  assert.equal(r.status, 200);
  const answers = r.body as { id: unknown; result: { content: { text: string }[] } }[];
  assert.deepEqual(answers.map((a) => [a.id, a.result.content[0]?.text]), [['a', 'called one'], [2, 'called two']]);
});

test('GIVEN initialize WHEN posted without a protocol version header THEN the server answers with its capabilities', async () => {
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'c', version: '1' } } };
  const r = await handleJsonPost({ ...HEADERS, 'mcp-protocol-version': undefined }, init, connect);
  assert.equal(r.status, 200);
  const result = (r.body as { result: { protocolVersion: string; capabilities: unknown } }).result;
  assert.equal(result.protocolVersion, LATEST_PROTOCOL_VERSION);
  assert.deepEqual(result.capabilities, { tools: {} });
});

test('GIVEN a request and its cancellation in one POST (either order) WHEN posted THEN the POST is answered, not held: 202, or 200 with the other requests\' responses', async () => {
  const cancel = (id: number) => ({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'changed my mind' } });
  assert.deepEqual(await handleJsonPost(HEADERS, [call(1), cancel(1)], connect), { status: 202, body: undefined });
  assert.deepEqual(await handleJsonPost(HEADERS, [cancel(1), call(1)], connect), { status: 202, body: undefined });
  const r = await handleJsonPost(HEADERS, [call(1), cancel(1), call(2, 'kept')], connect);
  assert.equal(r.status, 200);
  assert.deepEqual((r.body as { id: unknown }[]).map((a) => a.id), [2]);
});

test('GIVEN a tool that never answers WHEN the client goes away THEN the POST ends and its server is closed (its handler aborted)', async () => {
  let aborted = false;
  const hanging = async (transport: Parameters<Server['connect']>[0]) => {
    const server = new Server({ name: 'test', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(CallToolRequestSchema, (_r, extra) => new Promise<never>(() => extra.signal.addEventListener('abort', () => (aborted = true))));
    await server.connect(transport);
    return server;
  };
  let leave: () => void = () => undefined;
  const pending = handleJsonPost(HEADERS, call(1), hanging, (gone) => (leave = gone));
  await new Promise((resolve) => setImmediate(resolve));
  leave();
  const r = await pending;
  assert.equal(r.status, 499);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(aborted, true);
});

test('GIVEN only notifications WHEN posted THEN 202 without a body', async () => {
  const r = await handleJsonPost(HEADERS, { jsonrpc: '2.0', method: 'notifications/initialized' }, connect);
  assert.deepEqual(r, { status: 202, body: undefined });
});

test('GIVEN a POST the SDK transport refuses WHEN posted THEN the same status and JSON-RPC error, and no server is built', async () => {
  const before = servers;
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'c', version: '1' } } };
  const cases: [IncomingHttpHeaders, unknown, number, number, RegExp][] = [
    [{ ...HEADERS, accept: 'application/json' }, call(1), 406, -32000, /Not Acceptable/],
    [{ ...HEADERS, accept: undefined }, call(1), 406, -32000, /Not Acceptable/],
    [{ ...HEADERS, 'content-type': 'text/plain; a=application/json' }, call(1), 415, -32000, /Unsupported Media Type/],
    [{ ...HEADERS, 'content-type': undefined }, call(1), 415, -32000, /Unsupported Media Type/],
    [HEADERS, Array.from({ length: 101 }, (_, i) => call(i)), 400, -32600, /Batch must not exceed 100/],
    [HEADERS, { jsonrpc: '1.0', id: 1, method: 'tools/call' }, 400, -32700, /Invalid JSON-RPC message/],
    [HEADERS, 'tools/call', 400, -32700, /Invalid JSON-RPC message/],
    [HEADERS, [init, call(2)], 400, -32600, /Only one initialization request/],
    [{ ...HEADERS, 'mcp-protocol-version': '1999-01-01' }, call(1), 400, -32000, /Unsupported protocol version: 1999-01-01/],
    [HEADERS, [call(1), call(1)], 400, -32600, /duplicate request id/],
  ];
  for (const [headers, body, status, code, message] of cases) {
    const r = await handleJsonPost(headers, body, connect);
    assert.equal(r.status, status, JSON.stringify(body).slice(0, 80));
    assert.equal(errorOf(r.body).code, code);
    assert.match(errorOf(r.body).message, message);
  }
  assert.equal(servers, before);
});

test('GIVEN random bodies and headers, cancellations among them (fuzz) WHEN posted THEN a documented status every time, 200 only with JSON-RPC responses, never a throw or a held POST', async () => {
  const message = fc.oneof(
    fc.record({ jsonrpc: fc.constant('2.0'), id: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer(), fc.string({ maxLength: 8 })), method: fc.constantFrom('tools/call', 'tools/list', 'ping', 'nope', 'initialize'), params: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), { nil: undefined }) }, { requiredKeys: ['jsonrpc', 'id', 'method'] }),
    fc.record({ jsonrpc: fc.constant('2.0'), method: fc.constantFrom('notifications/initialized', 'notifications/cancelled') }),
    fc.record({ jsonrpc: fc.constant('2.0'), method: fc.constant('notifications/cancelled'), params: fc.record({ requestId: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.string({ maxLength: 2 })) }) }),
    fc.jsonValue({ maxDepth: 3 }),
  );
  const body = fc.oneof(message, fc.array(message, { maxLength: 6 }));
  const headers = fc.record({
    accept: fc.constantFrom('application/json, text/event-stream', 'text/event-stream', '*/*', undefined),
    'content-type': fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/json', undefined),
    'mcp-protocol-version': fc.constantFrom(LATEST_PROTOCOL_VERSION, '2025-03-26', 'x', undefined),
  });
  await fc.assert(fc.asyncProperty(headers, body, async (h, b) => {
    const r = await handleJsonPost(h, b, connect);
    assert.ok([200, 202, 400, 406, 415].includes(r.status), `status ${r.status}`);
    if (r.status === 200) for (const a of [r.body].flat() as Record<string, unknown>[]) assert.ok(a.jsonrpc === '2.0' && 'id' in a && ('result' in a || 'error' in a));
  }), { numRuns: 300 });
});
