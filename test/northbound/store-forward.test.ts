/** The durable store-and-forward queue on real SQLite files: order, priorities, budgets, overflow policy, restarts. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { DurableQueue, type StreamSpec } from '../../runtime/northbound/store-forward';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-sf-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => path.join(dir, `q${++n}.sqlite`);
const body = (size: number, fill = 1) => Buffer.alloc(size, fill);
const STREAMS: StreamSpec[] = [
  { name: 'safety', priority: 0, budgetBytes: 1000, droppable: false },
  { name: 'trend', priority: 1, budgetBytes: 2000, droppable: true },
];

describe('DurableQueue', () => {
  it('GIVEN trends then a safety event WHEN peeked THEN the safety event comes first and each stream keeps its append order', () => {
    const q = new DurableQueue(file(), STREAMS);
    q.append([{ stream: 'trend', ts: 1, key: 'a', body: body(10) }, { stream: 'trend', ts: 2, key: 'b', body: body(10) }]);
    q.append([{ stream: 'safety', ts: 3, key: 's', body: body(10) }]);
    q.append([{ stream: 'trend', ts: 4, key: 'c', body: body(10) }]);
    assert.deepEqual(q.peek(10).map((r) => r.key), ['s', 'a', 'b', 'c']);
    q.close();
  });

  it('GIVEN records WHEN some are acknowledged and the file is reopened THEN exactly the others remain, in order, with their byte counts', () => {
    const f = file();
    const q = new DurableQueue(f, STREAMS);
    const ids = q.append([1, 2, 3, 4].map((i) => ({ stream: 'trend', ts: i, key: `k${i}`, body: body(10) })));
    q.ack([ids[0] as number, ids[2] as number]);
    q.close();
    const again = new DurableQueue(f, STREAMS);
    assert.deepEqual(again.peek(10).map((r) => r.ts), [2, 4]);
    assert.equal(again.stats().trend?.depth, 2);
    assert.equal(again.stats().trend?.bytes, 2 * (10 + 32));
    again.close();
  });

  it('GIVEN a trend stream at its budget WHEN more trends arrive THEN the oldest trends are dropped and counted, never a safety record', () => {
    const q = new DurableQueue(file(), STREAMS);
    q.append([{ stream: 'safety', ts: 0, key: 's', body: body(100) }]);
    for (let i = 1; i <= 30; i++) q.append([{ stream: 'trend', ts: i, key: 't', body: body(100) }]);
    const s = q.stats();
    assert.ok((s.trend?.bytes ?? 0) <= 2000, `trend bytes ${s.trend?.bytes} within budget`);
    assert.equal(s.trend?.dropped, 30 - (s.trend?.depth ?? 0));
    assert.ok((s.trend?.dropped ?? 0) > 0);
    assert.equal(s.safety?.depth, 1);
    const ts = q.peek(100).filter((r) => r.stream === 'trend').map((r) => r.ts);
    assert.deepEqual(ts, Array.from({ length: ts.length }, (_, i) => 30 - ts.length + 1 + i), 'the newest trends are kept');
    q.close();
  });

  it('GIVEN safety events past their own budget WHEN the queue is full THEN the oldest trends make room and no safety event is dropped', () => {
    const q = new DurableQueue(file(), STREAMS);
    for (let i = 0; i < 15; i++) q.append([{ stream: 'trend', ts: i, key: 't', body: body(100) }]);
    for (let i = 0; i < 20; i++) q.append([{ stream: 'safety', ts: 100 + i, key: 's', body: body(100) }]);
    const s = q.stats();
    assert.equal(s.safety?.depth, 20);
    assert.equal(s.safety?.dropped, 0);
    assert.ok((s.trend?.dropped ?? 0) > 0);
    assert.ok((s.safety?.bytes ?? 0) + (s.trend?.bytes ?? 0) <= 3000);
    q.close();
  });

  it('GIVEN a queue full of safety events WHEN one more arrives THEN it is refused with GLM_ERR_NORTHBOUND_QUEUE_FULL and nothing of the batch is applied', () => {
    const q = new DurableQueue(file(), STREAMS);
    for (let i = 0; i < 22; i++) q.append([{ stream: 'safety', ts: i, key: 's', body: body(100) }]);
    const before = q.stats();
    assert.throws(() => q.append([{ stream: 'safety', ts: 99, key: 's', body: body(100) }, { stream: 'safety', ts: 100, key: 's', body: body(2000) }]), { code: 'GLM_ERR_NORTHBOUND_QUEUE_FULL' });
    assert.deepEqual(q.stats(), before);
    assert.equal(q.peek(100).length, 22);
    q.close();
  });

  it('GIVEN a record of a stream the queue does not have WHEN appended THEN it is refused with GLM_ERR_NORTHBOUND_QUEUE_FULL', () => {
    const q = new DurableQueue(file(), STREAMS);
    assert.throws(() => q.append([{ stream: 'nope', ts: 1, key: 'x', body: body(1) }]), { code: 'GLM_ERR_NORTHBOUND_QUEUE_FULL' });
    q.close();
  });

  it('GIVEN a stream with a budget of 0 WHEN the queue is built THEN it is refused with GLM_ERR_CONFIG_INVALID', () => {
    assert.throws(() => new DurableQueue(file(), [{ name: 'trend', priority: 1, budgetBytes: 0, droppable: true }]), { code: 'GLM_ERR_CONFIG_INVALID' });
  });

  it('GIVEN a file that is no SQLite database WHEN opened THEN GLM_ERR_NORTHBOUND_STORE_UNUSABLE names it', () => {
    const f = file();
    fs.writeFileSync(f, 'not a database, just text that is long enough to have a header'.repeat(20));
    assert.throws(() => new DurableQueue(f, STREAMS), (err: Error & { code?: string }) => err.code === 'GLM_ERR_NORTHBOUND_STORE_UNUSABLE' && err.message.includes(f));
  });

  it('GIVEN a durable counter WHEN set and the file reopened THEN it holds the value', () => {
    const f = file();
    const q = new DurableQueue(f, STREAMS);
    q.setCounter('sparkplug_bdseq', 42);
    q.close();
    const again = new DurableQueue(f, STREAMS);
    assert.equal(again.counter('sparkplug_bdseq'), 42);
    again.close();
  });
});
