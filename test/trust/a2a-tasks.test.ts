/**
 * The A2A server's bounded task store (runtime/trust/a2a/tasks.ts): caller scoping, copies in and out, eviction,
 * ListTasks filters and pages, and the stored wire form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Task } from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import { BoundedTaskStore } from '../../runtime/trust/a2a/tasks';

const sdkServer = require('@a2a-js/sdk/server') as typeof import('@a2a-js/sdk/server');
const sdkErrors = require('@a2a-js/sdk/errors') as typeof import('@a2a-js/sdk/errors');

const ctx = (userName: string, tenant?: string): ServerCallContext =>
  sdkServer.defaultServerCallContextBuilder({ extensions: undefined, user: { isAuthenticated: true, userName }, headers: {}, tenant });

const task = (id: string, over: Partial<Task> = {}): Task => ({
  id, contextId: 'c1', history: [], metadata: {},
  status: { state: 3, message: undefined, timestamp: `2026-01-01T00:00:0${id.slice(-1)}.000Z` },
  artifacts: [{ artifactId: 'a', name: 'r', description: '', metadata: undefined, extensions: [], parts: [] }],
  ...over,
});

const list = (store: BoundedTaskStore, c: ServerCallContext, p: Record<string, unknown> = {}) =>
  store.list({ tenant: '', contextId: '', status: 0, pageSize: undefined, pageToken: '', historyLength: undefined, statusTimestampAfter: undefined, includeArtifacts: false, ...p }, c);

test('GIVEN a saved task WHEN loaded by its owner, another caller or another tenant THEN only the owner in its tenant gets it', async () => {
  const store = new BoundedTaskStore(10);
  await store.save(task('t1'), ctx('alice'));
  assert.equal((await store.load('t1', ctx('alice')))?.id, 't1');
  assert.equal(await store.load('t1', ctx('bob')), undefined);
  assert.equal(await store.load('t1', ctx('alice', 'other')), undefined);
});

test('GIVEN a saved task WHEN the saved object or a loaded copy is changed THEN the stored task is not', async () => {
  const store = new BoundedTaskStore(10);
  const t = task('t1');
  await store.save(t, ctx('a'));
  t.history.push({ messageId: 'x' } as never);
  const loaded = await store.load('t1', ctx('a'));
  assert.equal(loaded?.history.length, 0);
  loaded?.artifacts.pop();
  assert.equal((await store.load('t1', ctx('a')))?.artifacts.length, 1);
});

test('GIVEN maxTasks 3 WHEN a fourth task is saved THEN the least recently saved one is evicted', async () => {
  const store = new BoundedTaskStore(3);
  for (const id of ['t1', 't2', 't3']) await store.save(task(id), ctx('a'));
  await store.save(task('t1'), ctx('a'));
  await store.save(task('t4'), ctx('a'));
  assert.equal(store.size, 3);
  assert.equal(await store.load('t2', ctx('a')), undefined);
  assert.equal((await store.load('t1', ctx('a')))?.id, 't1');
});

test('GIVEN a bad bound WHEN a store is made THEN it is refused', () => {
  assert.throws(() => new BoundedTaskStore(0), /positive integer/);
});

test('GIVEN tasks of two callers and contexts WHEN listed THEN own tasks only, newest first, filtered, artifacts only when asked, paged by token', async () => {
  const store = new BoundedTaskStore(100);
  for (const id of ['t1', 't2', 't3', 't4']) await store.save(task(id, { contextId: id === 't4' ? 'c2' : 'c1' }), ctx('a'));
  await store.save(task('t5'), ctx('b'));
  const all = await list(store, ctx('a'));
  assert.deepEqual(all.tasks.map((t) => t.id), ['t4', 't3', 't2', 't1']);
  assert.equal(all.totalSize, 4);
  assert.ok(all.tasks.every((t) => t.artifacts.length === 0));
  assert.equal((await list(store, ctx('a'), { includeArtifacts: true })).tasks[0]?.artifacts.length, 1);
  assert.deepEqual((await list(store, ctx('a'), { contextId: 'c2' })).tasks.map((t) => t.id), ['t4']);
  assert.deepEqual((await list(store, ctx('a'), { statusTimestampAfter: '2026-01-01T00:00:02.500Z' })).tasks.map((t) => t.id), ['t4', 't3']);
  assert.deepEqual((await list(store, ctx('a'), { status: 4 })).tasks, []);
  const first = await list(store, ctx('a'), { pageSize: 3 });
  assert.deepEqual(first.tasks.map((t) => t.id), ['t4', 't3', 't2']);
  const second = await list(store, ctx('a'), { pageSize: 3, pageToken: first.nextPageToken });
  assert.deepEqual(second.tasks.map((t) => t.id), ['t1']);
  assert.equal(second.nextPageToken, '');
});

test('GIVEN a malformed page token WHEN listing THEN the SDK RequestMalformedError', async () => {
  const store = new BoundedTaskStore(10);
  await assert.rejects(list(store, ctx('a'), { pageToken: Buffer.from('no-separator').toString('base64') }), (err) => err instanceof sdkErrors.RequestMalformedError);
});

test('GIVEN arbitrary JSON in the metadata and data parts of a task WHEN saved and loaded THEN the load is its JSON wire form read back, a fresh copy', async () => {
  const sdk = require('@a2a-js/sdk') as typeof import('@a2a-js/sdk');
  // "__proto__" keys have their own test below (the SDK's codec drops them, on the wire as here).
  const json = fc.dictionary(fc.string({ maxLength: 6 }).filter((k) => k !== '__proto__'), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 });
  // As plain JSON (fast-check's dictionaries may have a null prototype; the wire has none).
  const plain = json.map((v) => JSON.parse(JSON.stringify(v)) as Record<string, unknown>);
  await fc.assert(fc.asyncProperty(plain, plain, async (metadata, value) => {
    const store = new BoundedTaskStore(2);
    const saved = task('t1', { metadata, artifacts: [{ artifactId: 'a', name: 'r', description: '', metadata: undefined, extensions: [], parts: [{ content: { $case: 'data', value }, metadata: undefined, filename: '', mediaType: 'application/json' }] }] });
    await store.save(saved, ctx('a'));
    const loaded = await store.load('t1', ctx('a'));
    assert.deepEqual(sdk.Task.toJSON(loaded as Task), sdk.Task.toJSON(saved));
    assert.deepEqual(loaded?.metadata, metadata);
    assert.deepEqual(loaded?.artifacts[0]?.parts[0]?.content, { $case: 'data', value });
    assert.notEqual(loaded?.metadata, saved.metadata);
  }), { numRuns: 200 });
});

test('GIVEN a "__proto__" key (from JSON.parse) in task metadata WHEN saved and loaded THEN no prototype changes', async () => {
  const store = new BoundedTaskStore(2);
  await store.save(task('t1', { metadata: JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as never }), ctx('a'));
  const loaded = (await store.load('t1', ctx('a')))?.metadata as Record<string, unknown>;
  assert.equal(loaded.a, 1);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
});

test('GIVEN a task that cannot be serialized (a cycle in its data) WHEN saved over an earlier one THEN it throws and the earlier task stays', async () => {
  const store = new BoundedTaskStore(2);
  await store.save(task('t1', { metadata: { n: 1 } as never }), ctx('a'));
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  await assert.rejects(store.save(task('t1', { metadata: { cyclic } as never }), ctx('a')), TypeError);
  assert.deepEqual((await store.load('t1', ctx('a')))?.metadata, { n: 1 });
  assert.equal(store.size, 1);
});
