/**
 * Canonical JSON for audit leaves: object keys sorted by UTF-16 code units (as RFC 8785 JCS), no whitespace, strings
 * and finite numbers as JSON.stringify writes them. The same value always gives the same bytes, so a third party can
 * re-derive a leaf from its decoded record. Values JSON cannot represent faithfully are refused, never coerced.
 */
import { GlimmerError } from '../errors';

const MAX_DEPTH = 32;

function refuse(path: string, what: string): never {
  throw new GlimmerError('GLM_ERR_AUDIT_RECORD_INVALID', `audit record field ${path} ${what}`);
}

function write(value: unknown, path: string, depth: number, out: string[]): void {
  if (depth > MAX_DEPTH) refuse(path, `nests deeper than ${MAX_DEPTH} levels`);
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'number':
      if (!Number.isFinite(value)) refuse(path, 'is not a finite number');
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'object': {
      if (value === null) {
        out.push('null');
        return;
      }
      if (Array.isArray(value)) {
        out.push('[');
        value.forEach((item, i) => {
          if (i > 0) out.push(',');
          write(item, `${path}[${i}]`, depth + 1, out);
        });
        out.push(']');
        return;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) refuse(path, 'is not a plain object');
      const keys = Object.keys(value).sort();
      out.push('{');
      keys.forEach((key, i) => {
        if (i > 0) out.push(',');
        out.push(JSON.stringify(key), ':');
        const child = (value as Record<string, unknown>)[key];
        write(child, `${path}.${key}`, depth + 1, out);
      });
      out.push('}');
      return;
    }
    default:
      refuse(path, `has type ${typeof value}, which JSON cannot hold`);
  }
}

/** The canonical JSON text of a value; throws GLM_ERR_AUDIT_RECORD_INVALID naming the field path. */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, '$', 0, out);
  return out.join('');
}
