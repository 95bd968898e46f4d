/**
 * Where the pods' durable signer and store are, as the environment the runtime reads in cluster mode (docs/deploy.md):
 * the KMS signing key, the Object Lock bucket and its retention, the HSM-backed data key. In the cloud they are the
 * names the `cloud` stack creates (derived from cluster_name and the account); at the edge they come from the required
 * `audit_store` variable, so no edge runtime is planned without a durable signer and store.
 */
import type { Construct } from 'constructs';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import type { SecretMount } from '../modules/agent-workload';
import type { ExternalApi } from '../modules/aws-api-egress';
import { OBJECT_LOCK_MODES } from '../modules/audit-bucket';
import { Fn, Token } from '../modules/tf';
import { cloudNames } from './cloud-stack';
import { retentionVariables, stackVariable } from './common';

/** Where an edge pod finds the S3/KMS credentials file (Secret `audit_store.credentials_secret`, key `credentials`). */
export const AWS_CREDENTIALS_MOUNT = '/etc/glimmer/aws';

export interface AuditStore {
  readonly env: Readonly<Record<string, string>>;
  readonly hosts: readonly ExternalApi[];
  readonly ports: readonly (number | string)[];
  readonly secrets: readonly SecretMount[];
}

export function cloudAuditStore(scope: Construct, aws: { region: string; clusterName: string }, dataKeyAlias: string): AuditStore {
  const caller = new DataAwsCallerIdentity(scope, 'caller');
  const { days, mode } = retentionVariables(scope);
  const bucket = cloudNames.auditBucket(aws.clusterName, caller.accountId);
  const host = (service: string) => `${service}.${aws.region}.amazonaws.com`;
  return {
    env: {
      AWS_REGION: aws.region,
      GLIMMER_AUDIT_SIGNING_KEY: `alias/${cloudNames.signingKeyAlias(aws.clusterName)}`,
      GLIMMER_AUDIT_COSIGNING_KEY: `alias/${cloudNames.cosigningKeyAlias(aws.clusterName)}`,
      GLIMMER_AUDIT_BUCKET: bucket,
      GLIMMER_AUDIT_RETENTION_MODE: mode.stringValue,
      GLIMMER_AUDIT_RETENTION_DAYS: Token.asString(days.numberValue),
      GLIMMER_DATA_KEY: dataKeyAlias,
    },
    hosts: [
      { name: 'kms', hosts: [host('kms')], port: 443 },
      { name: 'sts', hosts: [host('sts')], port: 443 },
      { name: 's3', hosts: [host('s3'), `${bucket}.s3.${aws.region}.amazonaws.com`], port: 443 },
    ],
    ports: [443],
    secrets: [],
  };
}

const URL = '^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$';
const hostOf = (url: string, fallback: string) => `\${try(regex("^https://([^/:]+)", ${url})[0], ${fallback})}`;
const portOf = (url: string) => `\${try(tonumber(regex("^https://[^/:]+:([0-9]+)", ${url})[0]), 443)}`;

export function edgeAuditStore(scope: Construct): AuditStore {
  const v = stackVariable(scope, 'audit_store', {
    type: 'object({signing_key = string, cosigning_key = optional(string), bucket = string, data_key = string, region = optional(string, "us-east-1"), kms_endpoint = optional(string), s3_endpoint = optional(string), credentials_secret = optional(string, "glimmer-aws-credentials"), retention_mode = optional(string, "COMPLIANCE"), retention_days = optional(number, 2555)})',
    nullable: false,
    description: 'The durable signer and store of the edge pods (required: the runtime refuses to run in cluster mode without them): KMS key id/alias/ARN for checkpoint signatures (and optionally an ML_DSA_44 cosigner key), the Object Lock bucket for sealed segments and its retention, the KMS data key wrapping GDPR data keys, the region, optional KMS-/S3-compatible https endpoints (on-premises), and the Secret in each agent namespace holding `credentials` (an AWS shared credentials file).',
    validation: [
      { condition: '${length(trimspace(var.audit_store.signing_key)) > 0 && length(trimspace(var.audit_store.data_key)) > 0}', errorMessage: 'audit_store.signing_key and audit_store.data_key must name KMS keys (id, alias/... or ARN).' },
      { condition: '${can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.audit_store.bucket))}', errorMessage: 'audit_store.bucket must be an S3 bucket name, received "${var.audit_store.bucket}".' },
      { condition: `\${(var.audit_store.kms_endpoint == null || can(regex("${URL}", coalesce(var.audit_store.kms_endpoint, "x")))) && (var.audit_store.s3_endpoint == null || can(regex("${URL}", coalesce(var.audit_store.s3_endpoint, "x"))))}`, errorMessage: 'audit_store.kms_endpoint and s3_endpoint must be https://host[:port] URLs (TLS only), received "${var.audit_store.kms_endpoint == null ? "" : var.audit_store.kms_endpoint}" and "${var.audit_store.s3_endpoint == null ? "" : var.audit_store.s3_endpoint}".' },
      { condition: `\${contains(${JSON.stringify(OBJECT_LOCK_MODES)}, var.audit_store.retention_mode) && var.audit_store.retention_days >= (var.audit_store.retention_mode == "COMPLIANCE" ? 365 : 1) && var.audit_store.retention_days <= 36500}`, errorMessage: 'audit_store.retention_mode must be COMPLIANCE (retention_days 365..36500) or GOVERNANCE (1..36500), received ${var.audit_store.retention_mode} ${var.audit_store.retention_days} days.' },
      { condition: '${can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.audit_store.credentials_secret))}', errorMessage: 'audit_store.credentials_secret must be a Kubernetes Secret name.' },
    ],
  });
  const at = (key: string) => Token.asString(Fn.lookup(v.value, key));
  const kms = 'var.audit_store.kms_endpoint';
  const s3 = 'var.audit_store.s3_endpoint';
  const region = at('region');
  return {
    env: {
      AWS_REGION: region,
      // Standard AWS SDK names: the SDK uses them with no runtime code. Unset endpoints become AWS's regional ones (an
      // empty value would be an invalid URL to the SDK, and the env list is fixed at synth).
      AWS_ENDPOINT_URL_KMS: `\${coalesce(${kms}, "https://kms.\${var.audit_store.region}.amazonaws.com")}`,
      AWS_ENDPOINT_URL_S3: `\${coalesce(${s3}, "https://s3.\${var.audit_store.region}.amazonaws.com")}`,
      AWS_SHARED_CREDENTIALS_FILE: `${AWS_CREDENTIALS_MOUNT}/credentials`,
      GLIMMER_AUDIT_SIGNING_KEY: at('signing_key'),
      // Empty: no cosigner (the runtime signs with the signing key alone).
      GLIMMER_AUDIT_COSIGNING_KEY: '${var.audit_store.cosigning_key == null ? "" : var.audit_store.cosigning_key}',
      GLIMMER_AUDIT_BUCKET: at('bucket'),
      GLIMMER_AUDIT_RETENTION_MODE: at('retention_mode'),
      GLIMMER_AUDIT_RETENTION_DAYS: Token.asString(Fn.tostring(Fn.lookup(v.value, 'retention_days'))),
      GLIMMER_DATA_KEY: at('data_key'),
    },
    hosts: [
      { name: 'kms', hosts: [hostOf(kms, `"kms.\${var.audit_store.region}.amazonaws.com"`)], port: portOf(kms) },
      { name: 's3', hosts: [hostOf(s3, `"s3.\${var.audit_store.region}.amazonaws.com"`)], port: portOf(s3) },
    ],
    ports: [portOf(kms), portOf(s3)],
    // Optional: a site whose pods get credentials another way (an on-premises KMS with mTLS) needs no Secret.
    secrets: [{ name: 'aws-credentials', secretName: at('credentials_secret'), mountPath: AWS_CREDENTIALS_MOUNT, optional: true }],
  };
}
