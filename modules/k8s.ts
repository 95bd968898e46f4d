/**
 * Kubernetes objects as `kubernetes_manifest` resources: the synthesized `manifest` is the exact upstream object, so
 * tests validate it against the Kubernetes and Istio schemas and plan review reads it as it will be applied.
 * (`kubernetes_manifest` reads the cluster's OpenAPI at plan time: CRs go in a stack planned after their CRDs exist.)
 */
import type { Construct } from 'constructs';
import { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import type { ITerraformDependable } from './tf';

export type K8sObject = {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
} & Record<string, unknown>;

export interface ManifestOptions {
  readonly dependsOn?: readonly ITerraformDependable[];
  /** Fields the server or a controller owns (never diffed). @default - the provider's (labels, annotations) */
  readonly computedFields?: readonly string[];
}

/** Creates a `kubernetes_manifest` for one object; `managed-by` is set so operators see who owns it. */
export function k8sObject(scope: Construct, id: string, object: K8sObject, options: ManifestOptions = {}): Manifest {
  const labels = { 'app.kubernetes.io/managed-by': 'glimmer-cdktf', ...(object.metadata.labels ?? {}) };
  return new Manifest(scope, id, {
    manifest: { ...object, metadata: { ...object.metadata, labels } },
    computedFields: options.computedFields ? [...options.computedFields] : undefined,
    dependsOn: options.dependsOn ? [...options.dependsOn] : undefined,
  });
}

/**
 * Escapes Terraform template sequences in literal text (rule files, alert expressions): cdk.tf.json strings are
 * templates, so a literal `${` or `%{` would be interpolated by Terraform.
 */
export function escapeTemplate(text: string): string {
  return text.replace(/\$\{/g, '$${').replace(/%\{/g, '%%{');
}

/** escapeTemplate over every string of a JSON-like value. */
export function escapeDeep(value: unknown): unknown {
  if (typeof value === 'string') return escapeTemplate(value);
  if (Array.isArray(value)) return value.map(escapeDeep);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeDeep(v)]));
  return value;
}
