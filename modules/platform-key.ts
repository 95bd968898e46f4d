/**
 * The platform's symmetric customer-managed key (standard KMS, automatic yearly rotation): EKS secrets envelope
 * encryption, the nodes' EBS volumes, the audit bucket (SSE-KMS) and the image repository. It exists before the HSM is initialised, which the
 * HSM-backed key cannot (see HsmKeyStore).
 */
import { Construct } from 'constructs';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { adminStatement, policyDocument, type PolicyStatement } from './key-policy';
import { checkInt, checkPattern } from './validate';

export interface PlatformKeyProps {
  /** ARN of the account root (`arn:<partition>:iam::<account>:root`): administers the key through IAM, cannot use it. */
  readonly accountRootArn: string;
  /** Alias name without the `alias/` prefix. @default 'glimmer/platform' */
  readonly aliasName?: string;
  /** Role allowed to use the key for EKS secrets encryption (through eks.<region>.amazonaws.com only). */
  readonly eksClusterRoleArn: string;
  /** Roles allowed to write the audit bucket: GenerateDataKey/Decrypt through s3.<region>.amazonaws.com only. */
  readonly s3WriterRoleArns?: readonly string[];
  /** Region for the kms:ViaService conditions. */
  readonly region: string;
  /**
   * Roles that launch instances with EBS volumes encrypted by this key (the Auto Scaling service-linked role of the
   * node groups), through ec2.<region>.amazonaws.com only. The role must exist before the key policy names it.
   * @default []
   */
  readonly ebsLaunchRoleArns?: readonly string[];
  /**
   * Services that encrypt with this key on their own behalf: CloudWatch Logs (log groups of this account only) and
   * EventBridge (delivering to an encrypted SQS queue). @default false
   */
  readonly logsAndEvents?: { readonly accountId: string } | false;
  /** Waiting period before deletion, days. @default 30 */
  readonly deletionWindowDays?: number;
}

export class PlatformKey extends Construct {
  readonly key: KmsKey;
  readonly alias: KmsAlias;

  constructor(scope: Construct, id: string, props: PlatformKeyProps) {
    super(scope, id);
    const aliasName = checkPattern(this, 'aliasName', props.aliasName ?? 'glimmer/platform', /^[A-Za-z0-9/_-]{1,250}$/, 'an alias name of letters, digits, /, _ and -');
    const window = checkInt(this, 'deletionWindowDays', props.deletionWindowDays ?? 30, 7, 30);
    const statements: PolicyStatement[] = [
      adminStatement(props.accountRootArn),
      {
        Sid: 'EksSecretsEnvelopeEncryption',
        Effect: 'Allow',
        Principal: { AWS: props.eksClusterRoleArn },
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey', 'kms:CreateGrant'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:ViaService': `eks.${props.region}.amazonaws.com` } },
      },
    ];
    if (props.logsAndEvents) {
      statements.push(
        {
          Sid: 'CloudWatchLogsOfThisAccount',
          Effect: 'Allow',
          Principal: { Service: `logs.${props.region}.amazonaws.com` },
          Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
          Resource: '*',
          Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:*:logs:${props.region}:${props.logsAndEvents.accountId}:*` } },
        },
        {
          Sid: 'EventBridgeToEncryptedQueues',
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
          Resource: '*',
          Condition: { StringEquals: { 'aws:SourceAccount': props.logsAndEvents.accountId } },
        },
      );
    }
    if ((props.s3WriterRoleArns ?? []).length > 0) {
      statements.push({
        Sid: 'AuditBucketThroughS3Only',
        Effect: 'Allow',
        Principal: { AWS: props.s3WriterRoleArns ?? [] },
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: '*',
        Condition: { StringEquals: { 'kms:ViaService': `s3.${props.region}.amazonaws.com` } },
      });
    }
    if ((props.ebsLaunchRoleArns ?? []).length > 0) {
      const principal = { AWS: props.ebsLaunchRoleArns ?? [] };
      statements.push(
        {
          Sid: 'NodeVolumesThroughEc2Only',
          Effect: 'Allow',
          Principal: principal,
          Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
          Resource: '*',
          Condition: { StringEquals: { 'kms:ViaService': `ec2.${props.region}.amazonaws.com` } },
        },
        {
          Sid: 'NodeVolumeGrantsForAwsResourcesOnly',
          Effect: 'Allow',
          Principal: principal,
          Action: ['kms:CreateGrant'],
          Resource: '*',
          Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
        },
      );
    }
    this.key = new KmsKey(this, 'key', {
      description: 'Glimmer platform key: EKS secrets, node volumes, audit bucket, image repository',
      keyUsage: 'ENCRYPT_DECRYPT',
      customerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      enableKeyRotation: true,
      deletionWindowInDays: window,
      policy: JSON.stringify(policyDocument(statements)),
      lifecycle: { preventDestroy: true },
    });
    this.alias = new KmsAlias(this, 'alias', { name: `alias/${aliasName}`, targetKeyId: this.key.keyId });
  }
}
