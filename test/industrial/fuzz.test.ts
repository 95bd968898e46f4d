/**
 * Fuzzing the gateway's parser and inspection pipeline with random and mutated ADUs: no exception escapes, every
 * frame gets a verdict or closes its connection, and the bytes held per connection stay bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { adu, checkFrame, decodeRequest, FRAME, MAX_ADU_BYTES, newDecodedRequest, requestPdu } from '../../runtime/industrial/modbus/frame';
import { type ClientSession, Inspector, type SessionHooks } from '../../runtime/industrial/modbus/inspector';
import { failSafeOnly } from '../../runtime/industrial/write-decision';
import { compileRules, defaultZoneRules } from '../../runtime/industrial/modbus/rules';
import { ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import { CONDUITS, ZONES, startRig } from './helpers';

const rules = compileRules(defaultZoneRules({ zones: ZONES, conduits: CONDUITS }));

function seeds(): Buffer[] {
  return [
    adu(1, 1, requestPdu.read(4, 0, 8)), adu(2, 1, requestPdu.read(1, 0, 4)), adu(3, 2, requestPdu.read(2, 0, 1)),
    adu(4, 1, requestPdu.writeRegister(0, 500)), adu(5, 2, requestPdu.writeCoil(0, true)), adu(6, 1, requestPdu.writeCoils(0, [true, false, true])),
    adu(7, 1, requestPdu.writeRegisters(0, [100, 200])), adu(8, 1, requestPdu.read(3, 0, 2)),
  ];
}

/** Seeded mutations: wrong protocol ids, lengths 0 / 65535 / off by one, truncation, unknown functions, wild quantities. */
function mutate(rnd: () => number, base: Buffer): Buffer {
  const b = Buffer.from(base);
  switch (Math.floor(rnd() * 10)) {
    case 0: b.writeUInt16BE(Math.floor(rnd() * 65536) || 1, 2); return b; // protocol id
    case 1: b.writeUInt16BE([0, 1, 65535, 255, 256][Math.floor(rnd() * 5)] as number, 4); return b; // length
    case 2: return b.subarray(0, Math.floor(rnd() * b.length)); // truncated
    case 3: b[7] = Math.floor(rnd() * 256); return b; // function code
    case 4: if (b.length >= 12) b.writeUInt16BE(Math.floor(rnd() * 65536), 10); return b; // quantity / value
    case 5: if (b.length >= 10) b.writeUInt16BE(Math.floor(rnd() * 65536), 8); return b; // address
    case 6: b[6] = Math.floor(rnd() * 256); return b; // unit id
    case 7: { const extra = Buffer.alloc(Math.floor(rnd() * 40)); for (let i = 0; i < extra.length; i++) extra[i] = Math.floor(rnd() * 256); const c = Buffer.concat([b, extra]); c.writeUInt16BE(c.length - 6, 4); return c; } // longer body, consistent length
    case 8: { const r = Buffer.alloc(1 + Math.floor(rnd() * 300)); for (let i = 0; i < r.length; i++) r[i] = Math.floor(rnd() * 256); return r; } // noise
    default: { const i = Math.floor(rnd() * b.length); b[i] = (b[i] as number) ^ (1 << Math.floor(rnd() * 8)); return b; } // bit flip
  }
}

test('GIVEN 100,000 random and mutated ADUs WHEN fed through client sessions THEN nothing throws, each frame gets a verdict or a close, and held bytes stay bounded', () => {
  let x = 0x1234567;
  const rnd = () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 4294967296; };
  let audited = 0;
  const inspector = new Inspector({ rules, decide: failSafeOnly, audit: (b) => { audited += b.length; } });
  let forwarded = 0; let replies = 0; let closes = 0;
  const hooks: SessionHooks = {
    forward: (s: ClientSession) => { forwarded++; s.settled(0, hooks); },
    reply: (_s, bytes) => { replies++; assert.equal(bytes.length, 9); assert.ok((bytes[7] as number) & 0x80); },
    close: () => { closes++; }, pause: () => undefined, resume: () => undefined,
  };
  const base = seeds();
  let session = inspector.session('operations', 0);
  let maxHeld = 0;
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < 100_000; i++) {
    if (session.closed) session = inspector.session(['operations', 'control', 'safety'][i % 3] as string, i);
    const frame = rnd() < 0.15 ? (base[i % base.length] as Buffer) : mutate(rnd, base[i % base.length] as Buffer);
    // Split some frames across reads, as TCP may.
    if (rnd() < 0.2 && frame.length > 2) {
      const cut = 1 + Math.floor(rnd() * (frame.length - 1));
      session.feed(frame.subarray(0, cut), i, hooks);
      if (!session.closed) session.feed(frame.subarray(cut), i, hooks);
    } else session.feed(frame, i, hooks);
    maxHeld = Math.max(maxHeld, session.pendingBytes);
  }
  inspector.audit.flush();
  assert.ok(maxHeld < MAX_ADU_BYTES, `held ${maxHeld} bytes`);
  assert.ok(forwarded > 1000 && replies > 1000 && closes > 1000, `forwarded ${forwarded}, replies ${replies}, closes ${closes}`);
  assert.equal(audited, forwarded + replies + closes);
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 200 * 1024 * 1024);
});

test('GIVEN arbitrary bytes (fast-check) WHEN framed and decoded THEN the verdicts are consistent with the Modbus rules', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (bytes) => {
    const buf = Buffer.from(bytes);
    const st = checkFrame(buf, 0, buf.length);
    if (buf.length >= 4 && (buf[2] !== 0 || buf[3] !== 0)) assert.equal(st, FRAME.BAD_PROTOCOL);
    if (st === FRAME.OK) {
      const len = buf.readUInt16BE(4);
      assert.ok(len >= 2 && len <= 254 && buf.length >= 6 + len);
      const req = newDecodedRequest();
      const ex = decodeRequest(buf, 0, req);
      assert.ok([0, 1, 2, 3].includes(ex));
      if (ex === 0) assert.ok(req.address + req.quantity <= 0x10000 && req.quantity >= 1);
    }
  }), { numRuns: 20_000 });
});

test('GIVEN a socket client sending 2,000 mutated ADUs WHEN the gateway inspects them THEN it stays up and a well-behaved client is served throughout', async () => {
  const rig = await startRig();
  try {
    const good = new ModbusTcpClient('127.0.0.1', rig.ports.operations as number);
    await good.connect();
    let x = 99;
    const rnd = () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 4294967296; };
    const base = seeds();
    let sent = 0;
    while (sent < 2000) {
      const s = net.connect(rig.ports.operations as number, '127.0.0.1');
      s.on('error', () => undefined);
      await new Promise((r) => s.once('connect', r));
      for (let i = 0; i < 100 && !s.destroyed; i++, sent++) s.write(mutate(rnd, base[sent % base.length] as Buffer));
      s.destroy();
      assert.equal((await good.readInputRegisters(1, 0, 1)).exception, 0);
    }
    good.close();
  } finally { await rig.stop(); }
});
