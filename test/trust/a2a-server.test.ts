/**
 * The A2A server served from node:http (runtime/trust/a2a/server.ts): interoperability with the stock @a2a-js/sdk
 * client (its ClientFactory, card resolver and JSON-RPC transport over a fetch returning real undici Responses, not
 * our BufferedResponse), the SDK's task semantics, the wire answers for bad requests, and one audited PDP decision per
 * request. Real peers over real mTLS sockets on loopback.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import type { Client } from '@a2a-js/sdk/client';
import type { Task } from '@a2a-js/sdk';
import { ensureCa, type Ca } from '../../runtime/trust/ca';
import { identityIssuer } from './identities';
import { PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';
import { A2A_JSONRPC_PATH, A2A_MAX_BODY_BYTES, createA2aServer, type A2aServer } from '../../runtime/trust/a2a/server';
import { createMtlsClient, type MtlsClient } from '../../runtime/trust/mtls';
import type { TrustAuditRecord } from '../../runtime/trust/audit';
import { loadConfig } from '../../runtime/config/load';

const sdk = require('@a2a-js/sdk') as typeof import('@a2a-js/sdk');
const sdkClient = require('@a2a-js/sdk/client') as typeof import('@a2a-js/sdk/client');
const sdkErrors = require('@a2a-js/sdk/errors') as typeof import('@a2a-js/sdk/errors');

let ca: Ca;
let td: string;
let pdp: PolicyDecisionPoint;
let server: A2aServer;
const audit: TrustAuditRecord[] = [];
/** What the 'state' skill answers with and keeps changing afterwards. */
const kept = { level: 1 };
const cyclic: Record<string, unknown> = {};
cyclic.self = cyclic;
const clients: MtlsClient[] = [];

const identity = identityIssuer(() => ca, () => td);

async function mtls(zone = 'dmz', agent = 'data-1'): Promise<MtlsClient> {
  const c = createMtlsClient({ source: await identity(zone, agent), expectServer: { agent: 'cognitive-1' } });
  clients.push(c);
  return c;
}

/** A plain fetch over the mTLS agent that returns real undici Responses with streamed bodies (what `fetch` returns). */
function stockFetch(client: MtlsClient): typeof fetch {
  return (input, init) => new Promise<Response>((resolve, reject) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const req = https.request(url, { method: init?.method ?? 'GET', headers, agent: client.agent }, (res) => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
      const empty = res.statusCode === 204 || res.statusCode === 304;
      if (empty) res.resume();
      resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status: res.statusCode ?? 0, headers: h }));
    });
    req.on('error', reject);
    req.end(init?.body as string | undefined);
  });
}

/** The stock SDK client, as any A2A agent would build it. */
async function stockClient(zone = 'dmz', agent = 'data-1'): Promise<Client> {
  const fetchImpl = stockFetch(await mtls(zone, agent));
  const factory = new sdkClient.ClientFactory({
    transports: [new sdkClient.JsonRpcTransportFactory({ fetchImpl })],
    cardResolver: new sdkClient.DefaultAgentCardResolver({ fetchImpl }),
  });
  return factory.createFromUrl(server.url);
}

const textMessage = (text: string, skill: string, extra: Record<string, unknown> = {}) => ({
  tenant: '',
  message: { messageId: `m-${Math.random()}`, contextId: '', taskId: '', role: sdk.Role.ROLE_USER, parts: [{ content: { $case: 'text' as const, value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' }], metadata: { skill }, extensions: [], referenceTaskIds: [], ...extra },
  configuration: undefined,
  metadata: undefined,
});

const decisions = () => audit.filter((r): r is Extract<TrustAuditRecord, { type: 'policy.decision' }> => r.type === 'policy.decision');

async function post(body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json', 'a2a-version': '1.0' }, pathname = A2A_JSONRPC_PATH, method = 'POST') {
  const c = await mtls();
  const r = await c.request(`${server.url}${pathname}`, { method, headers, body });
  return { status: r.status, headers: r.headers, json: r.body.length > 0 ? JSON.parse(r.body.toString()) as Record<string, unknown> & { error?: { code: unknown; message: string } } : undefined };
}

before(async () => {
  const config = loadConfig();
  td = config.topology.trust_domain;
  ca = await ensureCa(await mkdtemp(path.join(os.tmpdir(), 'glimmer-a2a-server-')), td);
  pdp = await PolicyDecisionPoint.create({ model: { ...config, trustDomain: td }, audit: (r) => audit.push(r) });
  server = createA2aServer({
    identity: await identity('operations', 'cognitive-1'), pdp, audit: (r) => audit.push(r),
    name: 'cognitive-1', description: 'Hybrid reasoning agent', maxTasks: 50,
    skills: [
      { id: 'echo', name: 'Echo', description: 'Repeats the text', handle: async (call) => ({ text: `${call.text}!`, data: { caller: call.caller.kind === 'agent' ? call.caller.agent : '' } }) },
      { id: 'fail', name: 'Fail', description: 'Always fails', handle: async () => { throw new Error('boom'); } },
      { id: 'state', name: 'State', description: 'Answers with an object it keeps', handle: async () => ({ data: kept }) },
      { id: 'cyclic', name: 'Cyclic', description: 'Answers with data that cannot be serialized', handle: async () => ({ data: cyclic }) },
    ],
  });
  await server.listen();
});

after(async () => {
  for (const c of clients) c.close();
  await server.close();
});

test('GIVEN the stock @a2a-js/sdk client over mTLS WHEN it resolves the card and sends a message THEN it gets a completed task with the artifact', async () => {
  const client = await stockClient();
  const card = await client.getAgentCard();
  assert.equal(card.name, 'cognitive-1');
  assert.equal(card.supportedInterfaces[0]?.url, `${server.url}${A2A_JSONRPC_PATH}`);
  assert.deepEqual(card.skills.map((s) => s.id), ['echo', 'fail', 'state', 'cyclic']);
  const result = await client.sendMessage(textMessage('hi', 'echo'));
  assert.ok('status' in result);
  const task = result as Task;
  assert.equal(task.status?.state, sdk.TaskState.TASK_STATE_COMPLETED);
  const parts = task.artifacts.flatMap((a) => a.parts);
  assert.deepEqual(parts.map((p) => p.content), [{ $case: 'text', value: 'hi!' }, { $case: 'data', value: { caller: 'data-1' } }]);
  assert.equal(task.history[0]?.taskId, task.id);
  assert.equal(task.history[0]?.contextId, task.contextId);
});

test('GIVEN a task created through the stock client WHEN it gets, lists and cancels it THEN the SDK semantics hold: found, listed, not cancelable (terminal)', async () => {
  const client = await stockClient();
  const task = await client.sendMessage(textMessage('one', 'echo')) as Task;
  const got = await client.getTask({ tenant: '', id: task.id, historyLength: undefined });
  assert.equal(got.id, task.id);
  assert.equal(got.status?.state, sdk.TaskState.TASK_STATE_COMPLETED);
  const listed = await client.listTasks({ tenant: '', contextId: task.contextId, status: 0, pageSize: undefined, pageToken: '', historyLength: undefined, statusTimestampAfter: undefined, includeArtifacts: true });
  assert.deepEqual(listed.tasks.map((t) => t.id), [task.id]);
  assert.equal(listed.tasks[0]?.artifacts.length, 1);
  await assert.rejects(client.cancelTask({ tenant: '', id: task.id, metadata: undefined }), (err) => err instanceof sdkErrors.TaskNotCancelableError);
  await assert.rejects(client.getTask({ tenant: '', id: 'no-such-task', historyLength: undefined }), (err) => err instanceof sdkErrors.TaskNotFoundError);
});

test('GIVEN a task of one caller WHEN another agent asks for it THEN TaskNotFound (tasks are scoped to the caller SVID)', async () => {
  const owner = await stockClient('dmz', 'data-1');
  const task = await owner.sendMessage(textMessage('mine', 'echo')) as Task;
  const other = await stockClient('control', 'industrial-1');
  await assert.rejects(other.getTask({ tenant: '', id: task.id, historyLength: undefined }), (err) => err instanceof sdkErrors.TaskNotFoundError);
});

test('GIVEN the same messages WHEN sent on the direct path and on the SDK request-handler path THEN the tasks have the same shape (ids and times aside)', async () => {
  const client = await stockClient();
  const shape = (t: Task) => JSON.parse(JSON.stringify(sdk.Task.toJSON(t), (k, v: unknown) => (['id', 'contextId', 'taskId', 'artifactId', 'timestamp', 'messageId'].includes(k) ? '*' : v))) as unknown;
  for (const skill of ['echo', 'fail', 'nope']) {
    const direct = await client.sendMessage(textMessage('x', skill)) as Task;
    // A push-notification config is not supported by the card, so the SDK ignores it, but it takes the SDK's own path.
    const viaSdk = await client.sendMessage({ ...textMessage('x', skill), configuration: { acceptedOutputModes: [], taskPushNotificationConfig: { tenant: '', id: 'p', taskId: '', url: 'https://127.0.0.1:1/', token: '', authentication: undefined }, returnImmediately: false } }) as Task;
    assert.deepEqual(shape(direct), shape(viaSdk), skill);
  }
  const limited = await client.sendMessage({ ...textMessage('x', 'echo'), configuration: { acceptedOutputModes: [], taskPushNotificationConfig: undefined, returnImmediately: false, historyLength: 0 } }) as Task;
  assert.deepEqual(limited.history, []);
});

test('GIVEN a one-shot message answered with historyLength 0, or with data its skill changes later WHEN the task is read back THEN the stored task is as it was answered', async () => {
  const client = await stockClient();
  const limited = await client.sendMessage({ ...textMessage('x', 'echo'), configuration: { acceptedOutputModes: [], taskPushNotificationConfig: undefined, returnImmediately: false, historyLength: 0 } }) as Task;
  assert.deepEqual(limited.history, []);
  assert.equal((await client.getTask({ tenant: '', id: limited.id, historyLength: undefined })).history.length, 1);

  const answered = await client.sendMessage(textMessage('x', 'state')) as Task;
  kept.level = 2;
  const stored = await client.getTask({ tenant: '', id: answered.id, historyLength: undefined });
  const data = (t: Task) => t.artifacts[0]?.parts[0]?.content;
  assert.deepEqual(data(stored), { $case: 'data', value: { level: 1 } });
  assert.deepEqual(data(answered), data(stored));
});

test('GIVEN one-shot SendMessage bodies posted raw WHEN answered THEN the envelope is the one the SDK transport builds (string, integer and null ids) and GetTask returns the same task; a task that cannot be stored is a JSON-RPC internal error on either path', async () => {
  const message = (id: string, skill: string) => ({ message: { messageId: id, role: 'ROLE_USER', parts: [{ text: 'x' }], metadata: { skill } } });
  for (const id of ['a-1', 42, null]) {
    const r = await post(JSON.stringify({ jsonrpc: '2.0', id, method: 'SendMessage', params: message(`m-${id}`, 'echo') }));
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json ?? {}), ['jsonrpc', 'id', 'result']);
    assert.equal(r.json?.id, id);
    const answered = (r.json?.result as { task: { id: string; status: { state: string } } }).task;
    assert.equal(answered.status.state, 'TASK_STATE_COMPLETED');
    const got = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: answered.id } }));
    assert.deepEqual(got.json?.result, answered);
  }
  const direct = await post(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'SendMessage', params: message('m-c1', 'cyclic') }));
  const viaSdk = await post(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'SendMessage', params: { ...message('m-c2', 'cyclic'), configuration: { historyLength: 1 } } }));
  assert.equal(direct.status, 200);
  assert.equal(direct.json?.error?.code, sdkErrors.A2A_ERROR_CODE.INTERNAL_ERROR);
  assert.deepEqual(direct.json, viaSdk.json);
});

test('GIVEN a message that continues a finished task WHEN sent THEN the SDK refuses it (terminal task), as the stock server does', async () => {
  const client = await stockClient();
  const task = await client.sendMessage(textMessage('first', 'echo')) as Task;
  const next = textMessage('again', 'echo');
  await assert.rejects(client.sendMessage({ ...next, message: { ...next.message, taskId: task.id, contextId: task.contextId } }), (err) => err instanceof sdkErrors.UnsupportedOperationError);
});

test('GIVEN more finished tasks than maxTasks WHEN the oldest is asked for THEN TaskNotFound, the newest is found', async () => {
  const client = await stockClient();
  const first = await client.sendMessage(textMessage('0', 'echo')) as Task;
  let last = first;
  for (let i = 1; i <= 50; i++) last = await client.sendMessage(textMessage(String(i), 'echo')) as Task;
  await assert.rejects(client.getTask({ tenant: '', id: first.id, historyLength: undefined }), (err) => err instanceof sdkErrors.TaskNotFoundError);
  assert.equal((await client.getTask({ tenant: '', id: last.id, historyLength: undefined })).id, last.id);
});

test('GIVEN any request WHEN it reaches the server THEN exactly one PDP decision is audited for it, with the skill in the policy context', async () => {
  audit.length = 0;
  const client = await stockClient();
  await client.sendMessage(textMessage('hi', 'echo'));
  await post('{bad json');
  await post('{}', { 'content-type': 'application/json' }, '/nowhere');
  assert.equal(decisions().length, 4, 'card + message + bad body + unknown route');
  assert.ok(decisions().every((d) => d.decision === 'allow' && d.enforcement === 'a2a' && d.subject === `spiffe://${td}/zone/dmz/agent/data-1`));
});

test('GIVEN a body that is not JSON WHEN posted THEN the JSON-RPC parse error (-32700), no stack trace', async () => {
  const r = await post('{"jsonrpc": "2.0", ');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { jsonrpc: '2.0', id: null, error: { code: sdkErrors.A2A_ERROR_CODE.PARSE_ERROR, message: 'Invalid JSON payload.' } });
});

test('GIVEN a body with another content type WHEN posted THEN the A2A CONTENT_TYPE_NOT_SUPPORTED error', async () => {
  const r = await post('{}', { 'content-type': 'text/plain', 'a2a-version': '1.0' });
  assert.equal(r.json?.error?.code, sdkErrors.A2A_ERROR_CODE.CONTENT_TYPE_NOT_SUPPORTED);
});

test('GIVEN no A2A-Version header (v0.3 implied) WHEN a v1.0-only server is called THEN VERSION_NOT_SUPPORTED', async () => {
  const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'GetTask', params: { id: 'x' } }), { 'content-type': 'application/json' });
  assert.equal(r.json?.id, 7);
  assert.equal(r.json?.error?.code, sdkErrors.A2A_ERROR_CODE.VERSION_NOT_SUPPORTED);
});

test('GIVEN an unknown JSON-RPC method WHEN called THEN METHOD_NOT_FOUND', async () => {
  const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 'a', method: 'Nope', params: {} }));
  assert.equal(r.json?.error?.code, sdkErrors.A2A_ERROR_CODE.METHOD_NOT_FOUND);
});

test('GIVEN streaming (not advertised) WHEN SendStreamingMessage is called THEN UNSUPPORTED_OPERATION as JSON, not an event stream', async () => {
  const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendStreamingMessage', params: { message: { messageId: 'm', role: 'ROLE_USER', parts: [{ text: 'x' }] } } }));
  assert.match(String(r.headers['content-type']), /application\/json/);
  assert.equal(r.json?.error?.code, sdkErrors.A2A_ERROR_CODE.UNSUPPORTED_OPERATION);
});

test('GIVEN a body over the limit WHEN posted THEN 413 GLM_ERR_API_BODY_TOO_LARGE and no decision is made', async () => {
  audit.length = 0;
  const r = await post(Buffer.alloc(A2A_MAX_BODY_BYTES + 1, 0x20));
  assert.equal(r.status, 413);
  assert.equal(r.json?.error?.code, 'GLM_ERR_API_BODY_TOO_LARGE');
  assert.equal(decisions().length, 0);
});

test('GIVEN an unknown route or a wrong method WHEN called THEN 404 GLM_ERR_API_NOT_FOUND / 405 GLM_ERR_API_METHOD_NOT_ALLOWED', async () => {
  const missing = await post('', {}, '/nowhere', 'GET');
  assert.equal(missing.status, 404);
  assert.equal(missing.json?.error?.code, 'GLM_ERR_API_NOT_FOUND');
  const wrong = await post('', {}, A2A_JSONRPC_PATH, 'GET');
  assert.equal(wrong.status, 405);
  assert.equal(wrong.json?.error?.code, 'GLM_ERR_API_METHOD_NOT_ALLOWED');
});

test('GIVEN the card ETag WHEN the card is asked again with If-None-Match THEN 304 with the same ETag', async () => {
  const c = await mtls();
  const first = await c.request(`${server.url}/.well-known/agent-card.json`);
  assert.equal(first.status, 200);
  assert.match(String(first.headers.etag), /^W\/"[0-9a-f]{16}"$/);
  assert.equal(first.headers['cache-control'], 'public, max-age=3600');
  const again = await c.request(`${server.url}/.well-known/agent-card.json`, { headers: { 'if-none-match': String(first.headers.etag) } });
  assert.equal(again.status, 304);
  assert.equal(again.headers.etag, first.headers.etag);
});

test('GIVEN a caller without an A2A conduit WHEN it posts a message THEN 403 GLM_ERR_POLICY_DENIED before any task exists', async () => {
  const config = loadConfig();
  pdp.setModel({ ...config, trustDomain: td, agents: [...config.agents, { name: 'erp-1', kind: 'data', zone: 'enterprise' }] });
  try {
    const c = createMtlsClient({ source: await identity('enterprise', 'erp-1') });
    clients.push(c);
    audit.length = 0;
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: { messageId: 'm', role: 'ROLE_USER', parts: [{ text: 'x' }], metadata: { skill: 'echo' } } } });
    const r = await c.request(`${server.url}${A2A_JSONRPC_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', 'a2a-version': '1.0' }, body });
    assert.equal(r.status, 403);
    assert.equal((JSON.parse(r.body.toString()) as { error: { code: string } }).error.code, 'GLM_ERR_POLICY_DENIED');
    assert.deepEqual(decisions().map((d) => [d.decision, d.reasons]), [['deny', ['default-deny']]]);
  } finally {
    pdp.setModel({ ...config, trustDomain: td });
  }
});

test('GIVEN arbitrary bodies and content types (fuzz) WHEN posted THEN the server always answers JSON (200 JSON-RPC or a 4xx code) and keeps serving', async () => {
  const c = await mtls();
  await fc.assert(fc.asyncProperty(
    fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SendMessage', params: v }))),
    fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', ''),
    async (body, type) => {
      const headers: Record<string, string> = { 'a2a-version': '1.0' };
      if (type) headers['content-type'] = type;
      const r = await c.request(`${server.url}${A2A_JSONRPC_PATH}`, { method: 'POST', headers, body });
      assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), `status ${r.status}`);
      const json = JSON.parse(r.body.toString()) as Record<string, unknown>;
      assert.ok(r.status !== 200 || json.jsonrpc === '2.0');
    },
  ), { numRuns: 60 });
  const client = await stockClient();
  assert.equal((await client.sendMessage(textMessage('still', 'echo')) as Task).status?.state, sdk.TaskState.TASK_STATE_COMPLETED);
});

test('GIVEN an endpoint listening with the URL its Service is reached at WHEN the card is fetched THEN the card names that URL, never the listen address (callers on other hosts would call themselves)', async () => {
  const other = createA2aServer({ identity: await identity('operations', 'cognitive-1'), pdp, audit: (r) => audit.push(r), name: 'cognitive-1', description: 'd', skills: [] });
  try {
    const { port } = await other.listen(0, '127.0.0.1', 'https://cognitive-1.operations.svc:9443/');
    assert.equal(other.url, 'https://cognitive-1.operations.svc:9443');
    const c = await mtls();
    const card = JSON.parse((await c.request(`https://127.0.0.1:${port}/.well-known/agent-card.json`)).body.toString()) as { supportedInterfaces: { url: string }[] };
    assert.equal(card.supportedInterfaces[0]?.url, `https://cognitive-1.operations.svc:9443${A2A_JSONRPC_PATH}`);
  } finally {
    await other.close();
  }
});
