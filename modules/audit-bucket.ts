/**
 * The S3 bucket for sealed audit segments: Object Lock in COMPLIANCE mode (no one, root included, can shorten the
 * retention or delete a locked version), versioned, SSE-KMS with our key, public access blocked, TLS only, and
 * unencrypted or wrongly-keyed uploads refused.
 */
import { Construct } from 'constructs';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import { S3BucketObjectLockConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-object-lock-configuration';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning';
import { checkInt, checkOneOf } from './validate';

export const OBJECT_LOCK_MODES = ['COMPLIANCE', 'GOVERNANCE'] as const;

export interface AuditBucketProps {
  /** Bucket name (globally unique; a literal or a token). */
  readonly bucketName: string;
  /** ARN of the KMS key for SSE-KMS. */
  readonly kmsKeyArn: string;
  /** Default retention in days (a number or a Terraform variable). @default 2555 (7 years) */
  readonly retentionDays?: number;
  /** Object Lock mode; GOVERNANCE is an explicit opt-out (privileged users can bypass it). @default 'COMPLIANCE' */
  readonly mode?: (typeof OBJECT_LOCK_MODES)[number];
}

export class AuditBucket extends Construct {
  readonly bucket: S3Bucket;

  constructor(scope: Construct, id: string, props: AuditBucketProps) {
    super(scope, id);
    const days = checkInt(this, 'retentionDays', props.retentionDays ?? 2555, 1, 36500);
    const mode = checkOneOf(this, 'mode', props.mode ?? 'COMPLIANCE', OBJECT_LOCK_MODES);
    this.bucket = new S3Bucket(this, 'bucket', {
      bucket: props.bucketName,
      objectLockEnabled: true,
      forceDestroy: false,
      lifecycle: { preventDestroy: true },
    });
    new S3BucketOwnershipControls(this, 'ownership', { bucket: this.bucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } });
    new S3BucketPublicAccessBlock(this, 'public-access-block', {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    const versioning = new S3BucketVersioningA(this, 'versioning', { bucket: this.bucket.id, versioningConfiguration: { status: 'Enabled' } });
    new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket: this.bucket.id,
      rule: [{ bucketKeyEnabled: true, applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: props.kmsKeyArn } }],
    });
    new S3BucketObjectLockConfigurationA(this, 'object-lock', {
      bucket: this.bucket.id,
      objectLockEnabled: 'Enabled',
      rule: { defaultRetention: { mode, days } },
      dependsOn: [versioning],
    });
    new S3BucketPolicy(this, 'policy', {
      bucket: this.bucket.id,
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
          {
            Sid: 'DenyUploadsNotEncryptedWithOurKey',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:PutObject',
            Resource: `${this.bucket.arn}/*`,
            Condition: { StringNotEqualsIfExists: { 's3:x-amz-server-side-encryption-aws-kms-key-id': props.kmsKeyArn } },
          },
        ],
      }),
    });
  }
}
