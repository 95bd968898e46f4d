/**
 * Defensive reading of untrusted JSON (plans, synthesized configurations): bounded size and depth, own-property
 * access only, and accessors that never throw. Every failure is a typed GlimmerError.
 */
import fs from 'node:fs';
import { GlimmerError, quote } from '../errors';

/** Largest plan file read (a plan of a few thousand resources is a few MiB). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;
/** Deepest nesting accepted; real plans stay below 40. */
export const MAX_DEPTH = 256;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** Reads a file with a size bound, before reading it whole. */
export function readBounded(file: string, maxBytes = MAX_INPUT_BYTES): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw new GlimmerError('GLM_ERR_REVIEW_INPUT_UNREADABLE', `${quote(file)}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new GlimmerError('GLM_ERR_REVIEW_INPUT_UNREADABLE', `${quote(file)}: not a regular file`);
    if (st.size > maxBytes) {
      throw new GlimmerError('GLM_ERR_REVIEW_INPUT_TOO_LARGE', `${quote(file)}: ${st.size} bytes, the limit is ${maxBytes}`, { details: { size: st.size, limit: maxBytes } });
    }
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const n = fs.readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } catch (err) {
    if (err instanceof GlimmerError) throw err;
    throw new GlimmerError('GLM_ERR_REVIEW_INPUT_UNREADABLE', `${quote(file)}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  } finally {
    fs.closeSync(fd);
  }
}

/** Checks nesting depth iteratively (no recursion on untrusted structure). */
function checkDepth(doc: unknown, maxDepth: number, source: string): void {
  const stack: [unknown, number][] = [[doc, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (d > maxDepth) throw new GlimmerError('GLM_ERR_REVIEW_INPUT_TOO_LARGE', `${source}: nested deeper than ${maxDepth} levels`);
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
  }
}

/** Parses untrusted JSON text: UTF-8 only, bounded, depth-checked. */
export function parseUntrustedJson(input: Buffer | string, source: string, maxBytes = MAX_INPUT_BYTES): Json {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > maxBytes) throw new GlimmerError('GLM_ERR_REVIEW_INPUT_TOO_LARGE', `${source}: ${size} bytes, the limit is ${maxBytes}`);
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch (err) {
      throw new GlimmerError('GLM_ERR_REVIEW_INPUT_NOT_JSON', `${source}: not UTF-8 text`, { cause: err });
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : 'parse error';
    throw new GlimmerError('GLM_ERR_REVIEW_INPUT_NOT_JSON', `${source}: not JSON (${quote(msg, 120)})`, { cause: err });
  }
  checkDepth(doc, MAX_DEPTH, source);
  return doc;
}

// --- accessors that never throw -------------------------------------------------------------------------------------

export function isObj(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Own property only: a key named `__proto__` or `constructor` in the input never reaches the prototype. */
export function get(v: unknown, key: string): Json | undefined {
  return isObj(v) && Object.hasOwn(v, key) ? v[key] : undefined;
}

/** Walks a path of keys and indexes; `[]`-free: arrays are indexed by number. */
export function at(v: unknown, ...path: (string | number)[]): Json | undefined {
  let cur: unknown = v;
  for (const p of path) {
    if (typeof p === 'number') cur = Array.isArray(cur) ? cur[p] : undefined;
    else cur = get(cur, p);
    if (cur === undefined) return undefined;
  }
  return cur as Json;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function arr(v: unknown): Json[] {
  return Array.isArray(v) ? (v as Json[]) : [];
}

/**
 * A nested block as a list of objects, whichever way it is written: plan JSON writes blocks as arrays
 * (`[{...}]`), cdktf's synthesized JSON writes single blocks as objects (`{...}`).
 */
export function blocks(v: unknown): JsonObject[] {
  if (Array.isArray(v)) return v.filter(isObj);
  return isObj(v) ? [v] : [];
}

/** The first block at a path of block names: `block(spec, 'template', 'spec')`. */
export function block(v: unknown, ...names: string[]): JsonObject | undefined {
  let cur: JsonObject | undefined = isObj(v) ? v : undefined;
  for (const n of names) {
    cur = cur === undefined ? undefined : blocks(get(cur, n))[0];
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** A string-keyed map of strings (labels, tags, annotations); anything else is dropped. */
export function stringMap(v: unknown): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  if (!isObj(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
  return out;
}
