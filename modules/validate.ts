/**
 * Synth-time validation of construct props. A value that is a Terraform token (a variable, an attribute) is unknown at
 * synth: it is passed through and validated by the Terraform `validation` block instead, never branched on here.
 */
import { GlimmerError, quote } from '../runtime/errors';
import { Token } from './tf';

export function isUnresolved(value: unknown): boolean {
  return Token.isUnresolved(value);
}

/** Throws GLM_ERR_INFRA_PROP_INVALID: `<Construct>: <prop> must be <allowed>, received <value>`. */
export function invalidProp(construct: string, prop: string, value: unknown, allowed: string): never {
  throw new GlimmerError('GLM_ERR_INFRA_PROP_INVALID', `${construct}: ${prop} must be ${allowed}, received ${quote(value)}`, {
    details: { construct, prop },
  });
}

export function checkOneOf<T extends string>(construct: string, prop: string, value: T, allowed: readonly T[]): T {
  if (isUnresolved(value)) return value;
  if (!allowed.includes(value)) invalidProp(construct, prop, value, `one of ${allowed.join(', ')}`);
  return value;
}

export function checkInt(construct: string, prop: string, value: number, min: number, max: number): number {
  if (isUnresolved(value)) return value;
  if (!Number.isInteger(value) || value < min || value > max) invalidProp(construct, prop, value, `an integer ${min}..${max}`);
  return value;
}

export function checkPattern(construct: string, prop: string, value: string, pattern: RegExp, what: string): string {
  if (isUnresolved(value)) return value;
  if (typeof value !== 'string' || !pattern.test(value)) invalidProp(construct, prop, value, what);
  return value;
}

/** Kubernetes object names (RFC 1123 labels). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
