/**
 * Synth-time validation of construct props. A value that is a Terraform token (a variable, an attribute) is unknown at
 * synth: it is passed through and validated by the Terraform `validation` block instead, never branched on here.
 * Errors name the construct's class and its path in the app (`AgentWorkload edge-runtime/agent-industrial-1`), as
 * aws-cdk's validation errors do, so a refusal says which agent's workload or which zone is wrong.
 */
import type { IConstruct } from 'constructs';
import { GlimmerError, quote } from '../runtime/errors';
import { Token } from './tf';

export function isUnresolved(value: unknown): boolean {
  return Token.isUnresolved(value);
}

/** `<Class> <construct path>`, e.g. `AgentWorkload edge-runtime/agent-industrial-1`. */
export function constructLabel(scope: IConstruct): string {
  return `${scope.constructor.name} ${scope.node.path}`;
}

/** Throws GLM_ERR_INFRA_PROP_INVALID: `<Class> <path>: <prop> must be <allowed>, received <value>`. */
export function invalidProp(scope: IConstruct, prop: string, value: unknown, allowed: string): never {
  const construct = scope.constructor.name;
  throw new GlimmerError('GLM_ERR_INFRA_PROP_INVALID', `${constructLabel(scope)}: ${prop} must be ${allowed}, received ${quote(value)}`, {
    details: { construct, path: scope.node.path, prop },
  });
}

export function checkOneOf<T extends string>(scope: IConstruct, prop: string, value: T, allowed: readonly T[]): T {
  if (isUnresolved(value)) return value;
  if (!allowed.includes(value)) invalidProp(scope, prop, value, `one of ${allowed.join(', ')}`);
  return value;
}

export function checkInt(scope: IConstruct, prop: string, value: number, min: number, max: number): number {
  if (isUnresolved(value)) return value;
  if (!Number.isInteger(value) || value < min || value > max) invalidProp(scope, prop, value, `an integer ${min}..${max}`);
  return value;
}

export function checkPattern(scope: IConstruct, prop: string, value: string, pattern: RegExp, what: string): string {
  if (isUnresolved(value)) return value;
  if (typeof value !== 'string' || !pattern.test(value)) invalidProp(scope, prop, value, what);
  return value;
}

/** Kubernetes object names (RFC 1123 labels). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
