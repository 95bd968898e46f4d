/**
 * Sparkplug B payloads: encoded and decoded with protobufjs from sparkplug_b.proto beside this file (the one schema
 * the Python test peer compiles too). Payloads from the broker are untrusted: a decode failure, or a payload over
 * MAX_PAYLOAD_BYTES, becomes GLM_ERR_NORTHBOUND_PAYLOAD_INVALID, never an uncaught exception.
 */
import path from 'node:path';
import protobuf from 'protobufjs';
import { REPO_ROOT } from '../../config/load';
import { GlimmerError } from '../../errors';

export const PROTO_FILE = path.join(REPO_ROOT, 'runtime', 'northbound', 'sparkplug', 'sparkplug_b.proto');

/** Sparkplug B data types (the subset used). */
export const DataType = { Int32: 3, Int64: 4, UInt16: 6, Double: 10, Boolean: 11, String: 12 } as const;

/** Received commands are small; anything bigger is not a command. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export interface PropertyValue {
  type?: number;
  stringValue?: string;
}

export interface Metric {
  name?: string;
  alias?: number;
  timestamp?: number;
  datatype?: number;
  isHistorical?: boolean;
  isNull?: boolean;
  properties?: { keys: string[]; values: PropertyValue[] };
  intValue?: number;
  longValue?: number;
  doubleValue?: number;
  booleanValue?: boolean;
  stringValue?: string;
}

export interface Payload {
  timestamp?: number;
  metrics: Metric[];
  seq?: number;
}

let type: protobuf.Type | undefined;

function payloadType(): protobuf.Type {
  type ??= protobuf.loadSync(PROTO_FILE).lookupType('org.eclipse.tahu.protobuf.Payload');
  return type;
}

export function encodePayload(payload: Payload): Uint8Array {
  const t = payloadType();
  return t.encode(t.fromObject(payload)).finish();
}

/** Decodes a payload from the wire; 64-bit fields come back as numbers (Sparkplug timestamps fit in 2^53). */
export function decodePayload(bytes: Uint8Array): Payload {
  if (bytes.length > MAX_PAYLOAD_BYTES) throw new GlimmerError('GLM_ERR_NORTHBOUND_PAYLOAD_INVALID', `a Sparkplug payload may hold at most ${MAX_PAYLOAD_BYTES} bytes, received ${bytes.length}`);
  const t = payloadType();
  try {
    const object = t.toObject(t.decode(bytes), { longs: Number, defaults: false, arrays: true }) as Payload;
    return object;
  } catch (err) {
    throw new GlimmerError('GLM_ERR_NORTHBOUND_PAYLOAD_INVALID', `a Sparkplug payload of ${bytes.length} bytes does not decode: ${(err as Error).message.slice(0, 120)}`, { cause: err });
  }
}

/** The value a metric carries, whichever oneof field holds it; undefined when none or null. */
export function metricValue(m: Metric): number | boolean | string | undefined {
  if (m.isNull === true) return undefined;
  return m.booleanValue ?? m.doubleValue ?? m.intValue ?? m.longValue ?? m.stringValue;
}
