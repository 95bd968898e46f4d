/**
 * Canonical JSON for audit leaves: object keys sorted by UTF-16 code units (as RFC 8785 JCS), no whitespace, strings
 * and finite numbers as JSON.stringify writes them. The same value always gives the same bytes, so a third party can
 * re-derive a leaf from its decoded record. Values JSON cannot represent faithfully are refused, never coerced.
 */
import { GlimmerError } from '../errors';

const MAX_DEPTH = 32;

/** The path of the value being written, kept as a stack so it costs nothing unless a value is refused. */
function refuse(path: (string | number)[], what: string): never {
  const text = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
  throw new GlimmerError('GLM_ERR_AUDIT_RECORD_INVALID', `audit record field $${text} ${what}`);
}

function write(value: unknown, path: (string | number)[]): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) refuse(path, 'is not a finite number');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (path.length >= MAX_DEPTH) refuse(path, `nests deeper than ${MAX_DEPTH} levels`);
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          path.push(i);
          out += (i > 0 ? ',' : '') + write(value[i], path);
          path.pop();
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) refuse(path, 'is not a plain object');
      const keys = Object.keys(value).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        path.push(key);
        out += `${i > 0 ? ',' : ''}${JSON.stringify(key)}:${write((value as Record<string, unknown>)[key], path)}`;
        path.pop();
      }
      return `${out}}`;
    }
    default:
      refuse(path, `has type ${typeof value}, which JSON cannot hold`);
  }
}

/** The canonical JSON text of a value; throws GLM_ERR_AUDIT_RECORD_INVALID naming the field path. */
export function canonicalJson(value: unknown): string {
  return write(value, []);
}
