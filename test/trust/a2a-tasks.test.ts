/**
 * The A2A server's bounded task store (runtime/trust/a2a/tasks.ts): caller scoping, copies in and out, eviction,
 * ListTasks filters and pages, and copyTask against structuredClone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Task } from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import { BoundedTaskStore, copyTask } from '../../runtime/trust/a2a/tasks';

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

test('GIVEN arbitrary JSON, bytes and undefined fields WHEN copied THEN copyTask equals structuredClone and shares nothing', () => {
  const value = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      fc.jsonValue(),
      fc.constant(undefined),
      fc.uint8Array({ maxLength: 8 }),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 6 }), tie('node'), { maxKeys: 4 }),
    ),
  })).node;
  fc.assert(fc.property(value, (v) => {
    const copy = copyTask(v);
    assert.deepStrictEqual(copy, structuredClone(v));
    if (typeof v === 'object' && v !== null) assert.notEqual(copy, v);
  }), { numRuns: 300 });
});

test('GIVEN a "__proto__" key (from JSON.parse) WHEN copied THEN it stays an own property and no prototype changes', () => {
  const v = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
  const copy = copyTask(v);
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.deepEqual(Object.keys(copy), ['__proto__', 'a']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('GIVEN a cycle or a class instance WHEN copied THEN structuredClone semantics (no stack overflow)', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const copy = copyTask({ x: cyclic, when: new Date(0) });
  assert.equal((copy.x.self as Record<string, unknown>).a, 1);
  assert.ok(copy.when instanceof Date);
});
