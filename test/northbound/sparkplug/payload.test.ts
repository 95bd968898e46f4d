/** Sparkplug B payloads: round trips, the seq appended to a stored record, and untrusted bytes (fuzz). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isGlimmerError } from '../../../runtime/errors';
import { SparkplugEdgeNode, withSeq } from '../../../runtime/northbound/sparkplug/edge-node';
import { DataType, decodePayload, encodePayload, MAX_PAYLOAD_BYTES, metricValue } from '../../../runtime/northbound/sparkplug/payload';

test('GIVEN a payload with a double, a boolean and an engineering unit WHEN encoded and decoded THEN every field comes back', () => {
  const p = { timestamp: 1_764_950_400_123, seq: 7, metrics: [
    { name: 'flow_m3h', alias: 22, timestamp: 1_764_950_400_000, datatype: DataType.Double, doubleValue: 12.34, properties: { keys: ['engUnit'], values: [{ type: DataType.String, stringValue: 'm3/h' }] } },
    { alias: 11, timestamp: 1_764_950_400_000, datatype: DataType.Boolean, booleanValue: false, isHistorical: true },
  ] };
  const back = decodePayload(encodePayload(p));
  assert.equal(back.timestamp, p.timestamp);
  assert.equal(back.seq, 7);
  assert.equal(metricValue(back.metrics[0] as never), 12.34);
  assert.equal(metricValue(back.metrics[1] as never), false);
  assert.equal(back.metrics[1]?.isHistorical, true);
  assert.equal(back.metrics[0]?.properties?.values[0]?.stringValue, 'm3/h');
});

test('GIVEN a stored record without seq WHEN each seq 0..255 is appended THEN the payload decodes with that seq and its metrics unchanged', () => {
  const body = encodePayload({ timestamp: 5, metrics: [{ alias: 10, doubleValue: 1.5, datatype: DataType.Double }] });
  for (let seq = 0; seq < 256; seq++) {
    const p = decodePayload(withSeq(body, seq));
    assert.equal(p.seq ?? 0, seq);
    assert.equal(p.metrics[0]?.doubleValue, 1.5);
  }
});

test('GIVEN arbitrary bytes from the broker WHEN decoded THEN the result is a payload or GLM_ERR_NORTHBOUND_PAYLOAD_INVALID, never another exception (fuzz)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
    try {
      const p = decodePayload(bytes);
      assert.ok(Array.isArray(p.metrics));
    } catch (err) {
      assert.ok(isGlimmerError(err, 'GLM_ERR_NORTHBOUND_PAYLOAD_INVALID'), String(err));
    }
  }), { numRuns: 3000 });
});

test('GIVEN a payload over the size bound WHEN decoded THEN GLM_ERR_NORTHBOUND_PAYLOAD_INVALID names its size', () => {
  assert.throws(() => decodePayload(new Uint8Array(MAX_PAYLOAD_BYTES + 1)), (err) => isGlimmerError(err, 'GLM_ERR_NORTHBOUND_PAYLOAD_INVALID') && err.message.includes(String(MAX_PAYLOAD_BYTES + 1)));
});

test('GIVEN a broker URL without TLS, or ids with MQTT wildcards WHEN an edge node is built THEN GLM_ERR_NORTHBOUND_CONFIG_INVALID names the value', () => {
  const base = { brokerUrl: 'mqtts://127.0.0.1:8883', groupId: 'g', edgeNodeId: 'n', devices: [], queue: {} as never, credentials: () => ({ ca: '', cert: '', key: '' }) };
  for (const bad of [{ brokerUrl: 'mqtt://127.0.0.1:1883' }, { groupId: 'a/b' }, { edgeNodeId: '+' }, { primaryHostId: 'x#' }]) {
    assert.throws(() => new SparkplugEdgeNode({ ...base, ...bad }), (err) => isGlimmerError(err, 'GLM_ERR_NORTHBOUND_CONFIG_INVALID') && err.message.includes(Object.values(bad)[0] as string), JSON.stringify(bad));
  }
});
