/**
 * The A2A client side (runtime/trust/a2a/client.ts, fetch.ts): our client against the stock @a2a-js/sdk express
 * server, and the mTLS fetch's buffered responses, event streams and limits. Real sockets on loopback.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AgentCard, Task } from '@a2a-js/sdk';
import type { AgentExecutor } from '@a2a-js/sdk/server';
import { ensureCa, type Ca } from '../../runtime/trust/ca';
import { issueSvid } from '../../runtime/trust/svid';
import { fixedIdentity, type IdentitySource } from '../../runtime/trust/rotation';
import { createMtlsClient, createMtlsHttpServer, peerIdentity, type MtlsClient } from '../../runtime/trust/mtls';
import { createA2aClient } from '../../runtime/trust/a2a/client';
import { isGlimmerError } from '../../runtime/errors';
import { signAgentCard } from '../../runtime/trust/a2a/card';
import { BufferedResponse, MAX_BUFFERED_BYTES, mtlsFetch } from '../../runtime/trust/a2a/fetch';

const sdk = require('@a2a-js/sdk') as typeof import('@a2a-js/sdk');
const sdkServer = require('@a2a-js/sdk/server') as typeof import('@a2a-js/sdk/server');
const sdkExpress = require('@a2a-js/sdk/server/express') as typeof import('@a2a-js/sdk/server/express');
const express = require('express') as typeof import('express');

const TD = 'plant.example';
let ca: Ca;
let serverId: IdentitySource;
let clientId: IdentitySource;
let stockUrl = '';
let rawUrl = '';
const closers: (() => unknown)[] = [];

before(async () => {
  ca = await ensureCa(await mkdtemp(path.join(os.tmpdir(), 'glimmer-a2a-client-')), TD);
  const trust = { bundlePem: ca.bundlePem, trustDomain: TD };
  serverId = fixedIdentity(await issueSvid(ca, { zone: 'operations', agent: 'stock-1' }), trust);
  clientId = fixedIdentity(await issueSvid(ca, { zone: 'dmz', agent: 'data-1' }), trust);

  // The stock SDK server: express, agentCardHandler and jsonRpcHandler, behind our mTLS listener.
  const card: AgentCard = {
    name: 'stock-1', description: 'stock SDK server',
    supportedInterfaces: [{ url: '', protocolBinding: 'JSONRPC', tenant: '', protocolVersion: sdk.A2A_PROTOCOL_VERSION }],
    provider: undefined, version: '1.0.0',
    capabilities: { streaming: false, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {}, securityRequirements: [], defaultInputModes: ['text/plain'], defaultOutputModes: ['text/plain'],
    skills: [{ id: 'echo', name: 'Echo', description: 'echo', tags: [], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }],
    signatures: [],
  };
  const executor: AgentExecutor = {
    execute: async (ctx, bus) => {
      const text = ctx.userMessage.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('');
      bus.publish(sdkServer.AgentEvent.task({
        id: ctx.taskId, contextId: ctx.contextId, history: [ctx.userMessage], metadata: {},
        status: { state: sdk.TaskState.TASK_STATE_COMPLETED, message: undefined, timestamp: new Date().toISOString() },
        artifacts: [{ artifactId: 'a1', name: 'result', description: '', metadata: undefined, extensions: [], parts: [{ content: { $case: 'text', value: `stock:${text}` }, metadata: undefined, filename: '', mediaType: 'text/plain' }] }],
      }));
      bus.finished();
    },
    cancelTask: async () => undefined,
  };
  const handler = new sdkServer.DefaultRequestHandler(card, new sdkServer.InMemoryTaskStore(), executor);
  const app = express();
  // The stock server serves what it is given: the card signed with the server's SVID (A2A 1.0 section 8.4).
  const served: { card?: unknown } = {};
  app.use(`/${sdk.AGENT_CARD_PATH}`, sdkExpress.agentCardHandler({ agentCardProvider: async () => served.card as AgentCard }));
  app.use('/a2a/jsonrpc', sdkExpress.jsonRpcHandler({ requestHandler: handler, userBuilder: async (req) => ({ isAuthenticated: true, userName: peerIdentity(req)?.spiffeId ?? '' }) }));
  const stock = createMtlsHttpServer({ source: serverId }, app);
  const port = (await stock.listen()).port;
  stockUrl = `https://127.0.0.1:${port}`;
  (card.supportedInterfaces[0] as { url: string }).url = `${stockUrl}/a2a/jsonrpc`;
  served.card = await signAgentCard(sdk, card, serverId.current);
  closers.push(() => stock.close());

  // A raw server for the fetch's edge cases.
  const raw = createMtlsHttpServer({ source: serverId }, (req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(1024 * 1024, 1);
      let sent = 0;
      const pump = (): void => {
        while (sent <= MAX_BUFFERED_BYTES && res.write(chunk)) sent += chunk.length;
        if (sent > MAX_BUFFERED_BYTES) res.end();
        else res.once('drain', pump);
      };
      pump();
    } else if (req.url === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      setTimeout(() => res.end('data: 2\n\n'), 20);
    } else if (req.url === '/empty') {
      res.writeHead(204);
      res.end();
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'x-two': ['a', 'b'] });
      res.end('{"ok":true}');
    }
  });
  rawUrl = `https://127.0.0.1:${(await raw.listen()).port}`;
  closers.push(() => raw.close());
});

after(async () => {
  for (const close of closers.reverse()) await close();
});

function mtls(): MtlsClient {
  const c = createMtlsClient({ source: clientId });
  closers.push(() => c.close());
  return c;
}

test('GIVEN the stock @a2a-js/sdk express server behind mTLS, serving its card signed with its SVID WHEN our A2A client connects and calls THEN the card verifies and the task completes', async () => {
  const client = createA2aClient({ identity: clientId, audit: () => undefined });
  try {
    const peer = await client.connect(stockUrl, { agent: 'stock-1' });
    assert.equal(peer.card.name, 'stock-1');
    const result = await peer.call('echo', 'hello');
    assert.equal(result.state, 'completed');
    assert.equal(result.text, 'stock:hello');
  } finally {
    client.close();
  }
});

test('GIVEN a JSON response WHEN fetched over mTLS THEN a BufferedResponse with status, headers and a body readable once', async () => {
  const r = await mtlsFetch(mtls())(`${rawUrl}/json`);
  assert.ok(r instanceof BufferedResponse);
  assert.equal(r.status, 200);
  assert.equal(r.ok, true);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.equal(r.headers.get('x-two'), 'a, b');
  const copy = r.clone();
  assert.deepEqual(await r.json(), { ok: true });
  assert.equal(r.bodyUsed, true);
  await assert.rejects(r.text(), TypeError);
  assert.equal(new TextDecoder().decode(await copy.arrayBuffer()), '{"ok":true}');
});

test('GIVEN a buffered response WHEN its body stream is read THEN it yields the bytes, and the body counts as used', async () => {
  const r = await mtlsFetch(mtls())(`${rawUrl}/json`);
  const text = await new Response(r.body).text();
  assert.equal(text, '{"ok":true}');
  assert.equal(r.bodyUsed, true);
  await assert.rejects(r.json(), TypeError);
});

test('GIVEN an event stream WHEN fetched THEN the response streams (a real Response whose body arrives in parts)', async () => {
  const r = await mtlsFetch(mtls())(`${rawUrl}/sse`);
  assert.ok(r instanceof Response);
  assert.equal(await r.text(), 'data: 1\n\ndata: 2\n\n');
});

test('GIVEN a 204 WHEN fetched THEN a response with no body', async () => {
  const r = await mtlsFetch(mtls())(`${rawUrl}/empty`);
  assert.equal(r.status, 204);
  assert.equal(r.body, null);
});

test('GIVEN a response larger than MAX_BUFFERED_BYTES WHEN fetched THEN a RangeError, not unbounded memory', async () => {
  await assert.rejects(mtlsFetch(mtls())(`${rawUrl}/big`), RangeError);
});

test('GIVEN a plain http URL WHEN fetched THEN a TypeError (mTLS fetch speaks https only)', async () => {
  await assert.rejects(mtlsFetch(mtls())('http://127.0.0.1:1/'), TypeError);
});

test('GIVEN the stock server WHEN a task is returned THEN its JSON round trip through our fetch equals the SDK types (Task.fromJSON)', async () => {
  const fetchImpl = mtlsFetch(mtls());
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: { messageId: 'm1', role: 'ROLE_USER', parts: [{ text: 'x' }] } } });
  const r = await fetchImpl(`${stockUrl}/a2a/jsonrpc`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'A2A-Version': '1.0' }, body });
  const json = await r.json() as { result: { task: unknown } };
  const task: Task = sdk.Task.fromJSON(json.result.task);
  assert.equal(task.status?.state, sdk.TaskState.TASK_STATE_COMPLETED);
});

/**
 * A scripted A2A peer: serves a card whose JSON-RPC interface points at itself (signed again with its SVID), records every JSON-RPC request, and
 * answers with `answer(body)` (the stock server's answer when it returns undefined).
 */
async function scriptedPeer(answer: (rpc: { id: unknown }) => { status: number; body: string } | undefined) {
  const seen: { headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> }[] = [];
  let base = '';
  const server = createMtlsHttpServer({ source: serverId }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (req.method === 'GET') {
        const card = { ...(await (await mtlsFetch(mtls())(`${stockUrl}/${sdk.AGENT_CARD_PATH}`)).json() as Record<string, unknown>) };
        card.supportedInterfaces = [{ url: `${base}/a2a/jsonrpc`, protocolBinding: 'JSONRPC', protocolVersion: sdk.A2A_PROTOCOL_VERSION }];
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(await signAgentCard(sdk, sdk.AgentCard.fromJSON(card), serverId.current)));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> & { id: unknown };
      seen.push({ headers: req.headers, body });
      const scripted = answer(body);
      if (scripted) {
        res.writeHead(scripted.status, { 'content-type': 'application/json' });
        res.end(scripted.body);
        return;
      }
      const stock = await mtls().request(`${stockUrl}/a2a/jsonrpc`, { method: 'POST', headers: { 'content-type': 'application/json', 'a2a-version': '1.0' }, body: JSON.stringify(body) });
      res.writeHead(stock.status, { 'content-type': 'application/json' });
      res.end(stock.body);
    });
  });
  base = `https://127.0.0.1:${(await server.listen()).port}`;
  closers.push(() => server.close());
  return { url: base, seen };
}

test('GIVEN a peer WHEN our client and the SDK Client send the same SendMessage THEN method, params and A2A headers are the same bytes', async () => {
  const peer = await scriptedPeer(() => undefined);
  const client = createA2aClient({ identity: clientId, audit: () => undefined });
  closers.push(() => client.close());
  const ours = await (await client.connect(peer.url)).call('echo', 'hello', { n: 1 });
  assert.equal(ours.state, 'completed');

  const sdkClient = require('@a2a-js/sdk/client') as typeof import('@a2a-js/sdk/client');
  const fetchImpl = mtlsFetch(mtls());
  const factory = new sdkClient.ClientFactory({ transports: [new sdkClient.JsonRpcTransportFactory({ fetchImpl })], cardResolver: new sdkClient.DefaultAgentCardResolver({ fetchImpl }) });
  const stockClient = await factory.createFromUrl(peer.url);
  // The same message (same messageId), so the two bodies may differ only in the JSON-RPC id.
  await stockClient.sendMessage(sdk.SendMessageRequest.fromJSON(peer.seen[0]?.body.params));

  assert.equal(peer.seen.length, 2);
  const [a, b] = peer.seen as [typeof peer.seen[0], typeof peer.seen[0]];
  assert.deepEqual({ ...a.body, id: 0 }, { ...b.body, id: 0 });
  for (const h of ['a2a-version', 'content-type', 'accept']) assert.equal(a.headers[h], b.headers[h], h);
  assert.equal(a.body.method, 'SendMessage');
});

test('GIVEN a peer that answers a JSON-RPC error WHEN called THEN GLM_ERR_AGENT_MESSAGE_REFUSED with the code and message', async () => {
  const peer = await scriptedPeer((rpc) => ({ status: 200, body: JSON.stringify({ jsonrpc: '2.0', id: rpc.id, error: { code: -32001, message: 'Task not found' } }) }));
  const client = createA2aClient({ identity: clientId, audit: () => undefined });
  closers.push(() => client.close());
  const p = await client.connect(peer.url);
  await assert.rejects(p.call('echo', 'x'), (err) => isGlimmerError(err, 'GLM_ERR_AGENT_MESSAGE_REFUSED') && /-32001.*Task not found/.test(err.message));
});

test('GIVEN a peer that answers 403, another id, no JSON or no payload WHEN called THEN each is refused with its own reason', async () => {
  const answers = [
    { status: 403, body: '{"code":"GLM_ERR_POLICY_DENIED","message":"denied"}' },
    { status: 200, body: '{"jsonrpc":"2.0","id":999,"result":{}}' },
    { status: 502, body: '<html>bad gateway</html>' },
    { status: 200, body: '{"jsonrpc":"2.0","id":1,"result":{}}' },
  ];
  let next = 0;
  const peer = await scriptedPeer((rpc) => {
    const a = answers[next++] as { status: number; body: string };
    return { ...a, body: a.body.replace('"id":1,', `"id":${JSON.stringify(rpc.id)},`) };
  });
  const client = createA2aClient({ identity: clientId, audit: () => undefined });
  closers.push(() => client.close());
  const p = await client.connect(peer.url);
  await assert.rejects(p.call('echo', 'x'), (err) => isGlimmerError(err, 'GLM_ERR_POLICY_DENIED') && /403/.test(err.message));
  await assert.rejects(p.call('echo', 'x'), (err) => isGlimmerError(err, 'GLM_ERR_AGENT_MESSAGE_REFUSED') && /id "999"/.test(err.message));
  await assert.rejects(p.call('echo', 'x'), (err) => isGlimmerError(err, 'GLM_ERR_AGENT_MESSAGE_REFUSED') && /HTTP 502 without JSON/.test(err.message));
  await assert.rejects(p.call('echo', 'x'), (err) => isGlimmerError(err, 'GLM_ERR_AGENT_MESSAGE_REFUSED') && /without a task or message/.test(err.message));
});

test('GIVEN a response larger than maxBodyBytes WHEN read with MtlsClient.request THEN a RangeError naming the limit', async () => {
  await assert.rejects(mtls().request(`${rawUrl}/big`, { maxBodyBytes: MAX_BUFFERED_BYTES }), (err) => err instanceof RangeError && err.message.includes(String(MAX_BUFFERED_BYTES)));
});
