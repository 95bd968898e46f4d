/**
 * Kubernetes objects as `kubernetes_manifest` resources: the synthesized `manifest` is the exact upstream object, so
 * tests validate it against the Kubernetes and Istio schemas and plan review reads it as it will be applied.
 * (`kubernetes_manifest` reads the cluster's OpenAPI at plan time: CRs go in a stack planned after their CRDs exist.)
 *
 * Objects are typed with the upstream models' interfaces (kubernetes-models, @kubernetes-models/*), named explicitly
 * at each call (`k8sObject<IStatefulSet>(...)`): a misspelt or misplaced field fails `tsc`, as with cdk8s-plus. Only
 * the types are imported, so synth loads none of the models' code.
 */
import type { Construct } from 'constructs';
import type { IIoK8sApimachineryPkgApisMetaV1ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import type { ITerraformDependable } from './tf';
import { invalidProp } from './validate';

export type ObjectMeta = IIoK8sApimachineryPkgApisMetaV1ObjectMeta;

/** Any upstream object model: apiVersion, kind and metadata (name required here), fields checked by the model type. */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: ObjectMeta;
}

export interface ManifestOptions {
  readonly dependsOn?: readonly ITerraformDependable[];
  /** Fields the server or a controller owns (never diffed). @default - the provider's (labels, annotations) */
  readonly computedFields?: readonly string[];
  /** Terraform `count` (0 or 1, or a token): a count-0 manifest is never planned, so its CRD need not exist. */
  readonly count?: number;
}

/**
 * Creates a `kubernetes_manifest` for one object; `managed-by` is set so operators see who owns it. The model type is
 * required (`NoInfer` with a `never` default): an object literal is then checked field by field against it.
 */
export function k8sObject<T extends K8sObject = never>(scope: Construct, id: string, object: NoInfer<T>, options: ManifestOptions = {}): Manifest {
  const metadata = object.metadata ?? {};
  if (!metadata.name) invalidProp(scope, `${id} metadata.name`, metadata.name, 'a Kubernetes object name');
  const labels = { 'app.kubernetes.io/managed-by': 'glimmer-cdktf', ...(metadata.labels ?? {}) };
  return new Manifest(scope, id, {
    manifest: { ...object, metadata: { ...metadata, labels } },
    computedFields: options.computedFields ? [...options.computedFields] : undefined,
    dependsOn: options.dependsOn ? [...options.dependsOn] : undefined,
    count: options.count,
  });
}

/**
 * The container securityContext Pod Security `restricted` asks for, and more: non-root, no escalation, not privileged,
 * read-only root filesystem, every capability dropped, seccomp RuntimeDefault. Our pods and the gateway chart's share it.
 */
export const RESTRICTED_CONTAINER_SECURITY_CONTEXT: Readonly<ISecurityContext> = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

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
