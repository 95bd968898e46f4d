/**
 * The worst single-source flood we could build against the gateway, through the real audit governor into a real audit
 * log: one client address with its 16 allowed connections pipelining as fast as it can a mix of rate-limited
 * requests, refused functions, addresses, units and zone writes, allowed reads and allowed writes. The log's growth
 * attributable to that address stays under 1 MB per minute, and every answered request is either written or counted
 * in an `audit.aggregate` record.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { openAuditLog } from '../../runtime/audit/log';
import { AuditGovernor, gatewayEvidence, governedSink } from '../../runtime/audit/governor';
import { fileSigner } from '../../runtime/audit/signers';
import { adu, requestPdu } from '../../runtime/industrial/modbus/frame';
import { failSafeOnly } from '../../runtime/industrial/write-decision';
import { tempDir } from '../audit/helpers';
import { startRig } from '../industrial/helpers';

const CLIENT = '127.0.0.7';
const FLOOD_MS = 21_000;

/** A pipelined chunk of the mix: 16 frames, refused in six ways, allowed reads and allowed writes. */
function chunk(tid: number): Buffer {
  const pdus: [number, Buffer][] = [
    [1, requestPdu.read(4, 0, 2)], // allowed read
    [1, Buffer.from([0x2b, 0x0e, 0x01, 0x00])], // function not allowed
    [1, requestPdu.read(4, 200, 2)], // address beyond the map
    [9, requestPdu.read(4, 0, 1)], // unknown unit
    [2, requestPdu.writeCoil(0, true)], // safety write from operations: zone denies
    [1, requestPdu.writeRegister(1, 400)], // allowed write (write-ahead)
    [1, requestPdu.writeRegister(0, 5000)], // value out of range
    [1, requestPdu.read(3, 0, 126)], // quantity too large
  ];
  return Buffer.concat([...pdus, ...pdus].map(([unit, pdu], i) => adu((tid + i) & 0xffff, unit, pdu)));
}

test('GIVEN one address flooding the gateway on 16 connections with every kind of refusal, reads and writes WHEN the audit governor budgets it THEN the log grows by at most 1 MB per minute for it and every answer is written or counted', { timeout: 120000 }, async (t) => {
  const dir = tempDir('glimmer-fault-flood-');
  const log = await openAuditLog({ stateDir: dir, signer: fileSigner({ keyFile: path.join(dir, 'k.pem'), keyName: 'flood.test' }), origin: 'flood.test' });
  const governor = new AuditGovernor({ sink: (r) => void log.append(r).catch(() => undefined) });
  const sink = governedSink(governor, (r) => void log.append(r).catch(() => undefined));
  // The gateway's batches go through the governor as the runtime's gateway sink sends them.
  const rig = await startRig({ decide: failSafeOnly, limits: { ratePerSecond: 2000, burst: 200, maxInflightPerClient: 64 }, evidence: gatewayEvidence(governor, log), onAudit: (batch) => batch.forEach(sink) });
  const startSize = log.size();
  let answered = 0;
  const sockets: net.Socket[] = [];
  try {
    const started = Date.now();
    await Promise.all(Array.from({ length: 16 }, (_, k) => new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: rig.ports.operations as number, localAddress: CLIENT });
      sockets.push(s);
      let tid = k * 4096;
      let pending = Buffer.alloc(0);
      const send = () => {
        while (Date.now() - started < FLOOD_MS && s.write(chunk(tid))) tid += 16;
        if (Date.now() - started >= FLOOD_MS) { s.end(); }
      };
      s.on('data', (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 7 && pending.length >= 6 + pending.readUInt16BE(4)) {
          pending = pending.subarray(6 + pending.readUInt16BE(4));
          answered += 1;
        }
      });
      s.on('drain', send);
      s.on('connect', send);
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    })));
    const elapsedMin = (Date.now() - started) / 60000;
    rig.gateway.inspector.audit.flush();
    governor.close();
    await log.checkpoint();
    let bytes = 0;
    let written = 0;
    let aggregated = 0;
    for (let i = startSize; i < log.size(); i += 1000) {
      for (const e of log.entries(i, Math.min(log.size() - 1, i + 999))) {
        const r = (JSON.parse(e.leaf.toString('utf8')) as { record: Record<string, unknown> }).record;
        const mine = (r.type === 'modbus.decision' && r.peer === CLIENT) || (r.type === 'audit.aggregate' && String(r.source).endsWith(`:${CLIENT}`));
        if (!mine) continue;
        bytes += e.leaf.length;
        if (r.type === 'audit.aggregate') aggregated += r.count as number;
        else if (r.code !== 'GLM_ERR_MODBUS_CONNECTION_LIMIT') written += 1;
      }
    }
    const perMinute = bytes / elapsedMin;
    t.diagnostic(`answered ${answered} in ${(elapsedMin * 60).toFixed(1)} s; written one by one ${written}, aggregated ${aggregated}; audit growth ${(perMinute / 1e6).toFixed(3)} MB/min for this address`);
    assert.ok(answered > 20000, `the flood was heavy (${answered} answers)`);
    assert.ok(perMinute <= 1_000_000, `audit growth ${perMinute.toFixed(0)} bytes/min for one address`);
    // Closing frames of the connections add a few decisions the client never sees answered.
    assert.ok(written + aggregated >= answered, `${written} written + ${aggregated} aggregated cover ${answered} answered requests`);
  } finally {
    for (const s of sockets) s.destroy();
    await rig.stop();
    await log.close();
  }
});
