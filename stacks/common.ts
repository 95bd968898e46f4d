/** Helpers shared by the stacks: stack-level variables with pinned names, and the state backend. */
import path from 'node:path';
import type { Construct } from 'constructs';
import { OBJECT_LOCK_MODES } from '../modules/audit-bucket';
import { LocalBackend, S3Backend, TerraformOutput, TerraformVariable, type TerraformStack } from '../modules/tf';

export type VariableConfig = ConstructorParameters<typeof TerraformVariable>[2];

/** A Terraform variable whose name is exactly `name` (users pass `-var name=...`). */
export function stackVariable(scope: Construct, name: string, config: VariableConfig): TerraformVariable {
  const nullDefault = config?.default === null;
  const v = new TerraformVariable(scope, name, nullDefault ? { ...config, default: undefined } : config);
  v.overrideLogicalId(name);
  // `default = null` makes the variable optional; cdktf cannot render a null default itself.
  if (nullDefault) v.addOverride('default', null);
  return v;
}

export interface BackendOptions {
  /** S3 bucket for remote state (encrypted, S3-native locking); unset: local state files. */
  readonly stateBucket?: string;
  readonly stateRegion?: string;
  /**
   * Where local state lives (the project root, as with `cdktf`), never inside the synth output, which every synth
   * replaces. Needs `outdir` to compute the path relative to `<outdir>/stacks/<stack>`.
   * @default - beside the stack's cdk.tf.json (tests only)
   */
  readonly localStateDir?: string;
  readonly outdir?: string;
}

/**
 * Local state `terraform.<stack>.tfstate` (in localStateDir), or S3 when a state bucket is given. A stack whose state
 * holds secrets (`remoteOnly`: the cloud stack keeps the key store password in the custom key store's state) never
 * gets local state: without a bucket it gets an encrypted S3 backend with no bucket, so `terraform init` stops and asks
 * for one (GLIMMER_STATE_BUCKET) instead of writing the password to a file on the deploying machine.
 */
export function configureBackend(stack: TerraformStack, name: string, options: BackendOptions, remoteOnly = false): void {
  if (!options.stateBucket && remoteOnly) {
    new S3Backend(stack, { bucket: 'unset', key: `glimmer/${name}.tfstate`, region: options.stateRegion, encrypt: true });
    stack.addOverride('terraform.backend.s3.bucket', undefined);
    stack.addOverride('terraform.backend.s3.use_lockfile', true);
  } else if (!options.stateBucket && options.localStateDir && options.outdir) {
    const rel = path.relative(path.join(options.outdir, 'stacks', name), options.localStateDir);
    new LocalBackend(stack, { path: path.join(rel, `terraform.${name}.tfstate`) });
  } else if (options.stateBucket) {
    new S3Backend(stack, { bucket: options.stateBucket, key: `glimmer/${name}.tfstate`, region: options.stateRegion, encrypt: true });
    stack.addOverride('terraform.backend.s3.use_lockfile', true); // S3-native locking (Terraform >= 1.10)
  } else {
    new LocalBackend(stack, { path: `terraform.${name}.tfstate` });
  }
}

export const RUNTIME_IMAGE_PATTERN = '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$';

/** `runtime_image`: the image built from deploy/Dockerfile, pinned by digest. */
export function runtimeImageVariable(scope: Construct): TerraformVariable {
  return stackVariable(scope, 'runtime_image', {
    type: 'string',
    nullable: false,
    description: 'The runtime image (built from deploy/Dockerfile, pushed to the ECR repository in the cloud), pinned by digest: <registry>/<repository>@sha256:<64 hex>.',
    validation: [{
      condition: `\${can(regex("${RUNTIME_IMAGE_PATTERN}", var.runtime_image))}`,
      errorMessage: 'runtime_image must be an image reference pinned by digest, <registry>/<repository>@sha256:<64 lower-case hex>, received "${var.runtime_image}".',
    }],
  });
}

/** A Terraform output named exactly `name` (its construct id is prefixed so it never collides with a variable). */
export function stackOutput(stack: TerraformStack, name: string, value: unknown, description: string, sensitive = false): void {
  new TerraformOutput(stack, `output-${name}`, { value, description, sensitive }).overrideLogicalId(name);
}

export const PROMETHEUS_OPERATOR_MODES = ['none', 'existing'] as const;

/**
 * `prometheus_operator`: `existing` creates the ServiceMonitors and the PrometheusRule (their CRDs and the `monitoring`
 * namespace must exist: kube-prometheus-stack, docs/observability.md); `none` (the default) creates neither, so a
 * cluster without the operator plans cleanly.
 */
export function prometheusOperatorVariable(scope: Construct): TerraformVariable {
  return stackVariable(scope, 'prometheus_operator', {
    type: 'string',
    default: 'none',
    nullable: false,
    description: 'none: no Prometheus Operator objects; existing: create ServiceMonitors and the PrometheusRule (needs the operator CRDs and the monitoring namespace, e.g. from kube-prometheus-stack).',
    validation: [{
      condition: `\${contains(${JSON.stringify(PROMETHEUS_OPERATOR_MODES)}, var.prometheus_operator)}`,
      errorMessage: `prometheus_operator must be one of ${PROMETHEUS_OPERATOR_MODES.join(', ')}, received "\${var.prometheus_operator}".`,
    }],
  });
}

/** `audit_retention_days` / `audit_object_lock_mode`: declared by `cloud` (the bucket) and `cloud-runtime` (the pods). */
export function retentionVariables(scope: Construct): { days: TerraformVariable; mode: TerraformVariable } {
  const mode = stackVariable(scope, 'audit_object_lock_mode', {
    type: 'string', default: 'COMPLIANCE', nullable: false,
    description: 'Object Lock mode of sealed audit segments: COMPLIANCE (production: nobody, root included, can delete a locked version before it expires) or GOVERNANCE (non-production: users with s3:BypassGovernanceRetention can delete, so test buckets can be emptied).',
    validation: [{ condition: `\${contains(${JSON.stringify(OBJECT_LOCK_MODES)}, var.audit_object_lock_mode)}`, errorMessage: `audit_object_lock_mode must be one of ${OBJECT_LOCK_MODES.join(', ')}, received "\${var.audit_object_lock_mode}".` }],
  });
  const days = stackVariable(scope, 'audit_retention_days', {
    type: 'number', default: 2555, nullable: false,
    description: 'Object Lock retention of sealed audit segments, days: 365..36500 in COMPLIANCE mode, 1..36500 in GOVERNANCE mode (test deployments).',
    validation: [{
      condition: '${floor(var.audit_retention_days) == var.audit_retention_days && var.audit_retention_days <= 36500 && var.audit_retention_days >= (var.audit_object_lock_mode == "COMPLIANCE" ? 365 : 1)}',
      errorMessage: 'audit_retention_days must be an integer 365..36500 in COMPLIANCE mode (1..36500 in GOVERNANCE mode), received ${var.audit_retention_days} with ${var.audit_object_lock_mode}.',
    }],
  });
  return { days, mode };
}

