/**
 * Canonical JSON for audit leaves: object keys sorted by UTF-16 code units (as RFC 8785 JCS), no whitespace, strings
 * and finite numbers as JSON.stringify writes them. The same value always gives the same bytes, so a third party can
 * re-derive a leaf from its decoded record. Values JSON cannot represent faithfully are refused, never coerced.
 * This is the append path's hottest code: strings that need no escaping skip JSON.stringify, keys already in order
 * are not sorted, and the path of a refused value is only assembled when one is refused.
 */
import { GlimmerError } from '../errors';

const MAX_DEPTH = 32;

/** Characters JSON.stringify escapes (`"`, `\`, controls) or may escape (surrogates: lone ones are escaped). */
// eslint-disable-next-line no-control-regex -- matching the control characters JSON escapes is the point
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Thrown inside the writer; each enclosing object or array adds its key on the way out. */
class Refusal {
  readonly path: (string | number)[] = [];
  constructor(readonly what: string) {}
}

function quoted(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** Sorts keys by UTF-16 code units in place (insertion sort: records have few keys, usually nearly in order). */
function sortKeys(keys: string[]): string[] {
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    if ((keys[j] as string) <= key) continue;
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string;
      j -= 1;
    }
    keys[j + 1] = key;
  }
  return keys;
}

function write(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return quoted(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Refusal('is not a finite number');
      // For finite numbers this is Number::toString, exactly what JSON.stringify writes (-0 included).
      return `${value}`;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_DEPTH) throw new Refusal(`nests deeper than ${MAX_DEPTH} levels`);
      if (Array.isArray(value)) {
        let out = '[';
        let i = 0;
        try {
          for (; i < value.length; i++) out += (i > 0 ? ',' : '') + write(value[i], depth + 1);
        } catch (err) {
          if (err instanceof Refusal) err.path.push(i);
          throw err;
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new Refusal('is not a plain object');
      const keys = sortKeys(Object.keys(value));
      let out = '{';
      let key = '';
      try {
        for (let i = 0; i < keys.length; i++) {
          key = keys[i] as string;
          out += `${i > 0 ? ',' : ''}${quoted(key)}:${write((value as Record<string, unknown>)[key], depth + 1)}`;
        }
      } catch (err) {
        if (err instanceof Refusal) err.path.push(key);
        throw err;
      }
      return `${out}}`;
    }
    default:
      throw new Refusal(`has type ${typeof value}, which JSON cannot hold`);
  }
}

/** The canonical JSON text of a value; throws GLM_ERR_AUDIT_RECORD_INVALID naming the field path. */
export function canonicalJson(value: unknown): string {
  try {
    return write(value, 0);
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    // The path was collected innermost first.
    const text = err.path
      .reverse()
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
      .join('');
    throw new GlimmerError('GLM_ERR_AUDIT_RECORD_INVALID', `audit record field $${text} ${err.what}`);
  }
}

/**
 * A growable byte buffer. Its buffers own their ArrayBuffers (never a slice of Node's pool), so a filled one can be
 * transferred to another thread; they are not zero-filled: only bytes written are ever read.
 */
export class ByteWriter {
  buf: Buffer;
  pos = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(capacity);
  }

  /** Makes room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  /** Writes a string whose characters are all below U+0080 (punctuation, digits, ISO 8601 times). */
  ascii(s: string): void {
    this.ensure(s.length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  byte(c: number): void {
    this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** Writes a non-negative safe integer in decimal (as `${n}` would), without building the string. */
  decimal(n: number): void {
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits += 1;
    this.ensure(digits);
    const b = this.buf;
    let rest = n;
    for (let p = this.pos + digits - 1; p >= this.pos; p--) {
      b[p] = 0x30 + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    this.pos += digits;
  }

  /** Writes a string as UTF-8 (lone surrogates must have been escaped already). */
  utf8(s: string): void {
    this.ensure(3 * s.length);
    this.pos += (this.buf as Buffer & { utf8Write(text: string, offset: number): number }).utf8Write(s, this.pos);
  }
}

/** Thrown by the byte writer for anything the string form must decide (refusals and their messages). */
const BAIL = new Error('canonical JSON: take the string path');

/** Strings up to this length are copied by a loop (cheaper than a native call); longer ones by Buffer#utf8Write. */
const SHORT_STRING = 64;

function writeQuoted(s: string, w: ByteWriter): void {
  const n = s.length;
  if (n <= SHORT_STRING) {
    w.ensure(n + 2);
    const b = w.buf;
    let p = w.pos;
    b[p++] = 0x22;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) break;
      b[p++] = c;
    }
    if (i === n) {
      b[p++] = 0x22;
      w.pos = p;
      return;
    }
  }
  // JSON.stringify escapes exactly as the string form does (lone surrogates included); the rest is UTF-8.
  w.utf8(NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);
}

/** Quoted keys with their colon, as bytes (records reuse a few keys); bounded. */
const keyCache = new Map<string, Buffer>();
const KEY_CACHE_MAX = 4096;

function writeKey(key: string, w: ByteWriter): void {
  let bytes = keyCache.get(key);
  if (!bytes) {
    bytes = Buffer.from(`${quoted(key)}:`, 'utf8');
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(key, bytes);
  }
  w.ensure(bytes.length);
  const b = w.buf;
  let p = w.pos;
  for (let i = 0; i < bytes.length; i++) b[p++] = bytes[i] as number;
  w.pos = p;
}

function writeBytes(value: unknown, depth: number, w: ByteWriter, budget: number): void {
  switch (typeof value) {
    case 'string':
      // Over the budget (in UTF-16 units, each at least one byte) the string form measures and refuses it.
      if (value.length > budget) throw BAIL;
      writeQuoted(value, w);
      return;
    case 'number':
      if (!Number.isFinite(value)) throw BAIL;
      w.ascii(`${value}`);
      return;
    case 'boolean':
      w.ascii(value ? 'true' : 'false');
      return;
    case 'object': {
      if (value === null) {
        w.ascii('null');
        return;
      }
      if (depth >= MAX_DEPTH) throw BAIL;
      if (Array.isArray(value)) {
        w.byte(0x5b);
        for (let i = 0; i < value.length; i++) {
          if (i > 0) w.byte(0x2c);
          writeBytes(value[i], depth + 1, w, budget);
        }
        w.byte(0x5d);
        return;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw BAIL;
      const keys = sortKeys(Object.keys(value));
      w.byte(0x7b);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        if (i > 0) w.byte(0x2c);
        writeKey(key, w);
        writeBytes((value as Record<string, unknown>)[key], depth + 1, w, budget);
      }
      w.byte(0x7d);
      return;
    }
    default:
      throw BAIL;
  }
}

/**
 * Appends the UTF-8 bytes of canonicalJson(value) to `w`, without building the string (the append path's form).
 * Returns false, with `w.pos` restored, when the value must go through canonicalJson instead: it would be refused
 * (canonicalJson throws the error naming the field), or a string is longer than `budget` UTF-16 units.
 */
export function writeCanonicalJson(value: unknown, w: ByteWriter, budget = Number.MAX_SAFE_INTEGER): boolean {
  const start = w.pos;
  try {
    writeBytes(value, 0, w, budget);
    return true;
  } catch (err) {
    w.pos = start;
    if (err === BAIL) return false;
    throw err;
  }
}
