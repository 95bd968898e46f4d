/**
 * The runtime's AWS identity through EKS Pod Identity: one IAM role trusted by pods.eks.amazonaws.com, associated with
 * each agent's service account. Its only KMS right from IAM is Sign on the audit signing key (`allowSigningWith`); it
 * may put sealed segments in the audit bucket. (Key policies grant S3's use of the platform key and the attested use
 * of the HSM data key.) The role exists before the keys and the cluster, whose policies name it; the associations
 * are added once the cluster exists (`associate`).
 */
import { Construct } from 'constructs';
import { EksPodIdentityAssociation } from '@cdktf/provider-aws/lib/eks-pod-identity-association';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { checkPattern, DNS_LABEL } from './validate';

export interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
}

export interface RuntimePodIdentityProps {
  /** ARN of the audit bucket; PutObject under `segments/` only. */
  readonly auditBucketArn: string;
  /** IAM role name prefix. @default 'glimmer-runtime-' */
  readonly namePrefix?: string;
}

export class RuntimePodIdentity extends Construct {
  readonly role: IamRole;
  readonly associations: EksPodIdentityAssociation[] = [];

  constructor(scope: Construct, id: string, props: RuntimePodIdentityProps) {
    super(scope, id);
    this.role = new IamRole(this, 'role', {
      namePrefix: props.namePrefix ?? 'glimmer-runtime-',
      assumeRolePolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] }],
      }),
    });
    new IamRolePolicy(this, 'policy', {
      role: this.role.id,
      name: 'glimmer-runtime-audit',
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          // PutObjectRetention: each sealed segment is written with its own Object Lock retain-until date.
          { Sid: 'WriteSealedSegments', Effect: 'Allow', Action: ['s3:PutObject', 's3:PutObjectRetention', 's3:GetObject'], Resource: `${props.auditBucketArn}/segments/*` },
          { Sid: 'ListOwnSegments', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: props.auditBucketArn, Condition: { StringLike: { 's3:prefix': ['segments/*'] } } },
        ],
      }),
    });
  }

  /** Allows kms:Sign (and GetPublicKey) on these keys and no other. */
  allowSigningWith(signingKeyArns: readonly string[]): IamRolePolicy {
    return new IamRolePolicy(this, 'sign-policy', {
      role: this.role.id,
      name: 'glimmer-runtime-sign',
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Sid: 'SignAuditCheckpoints', Effect: 'Allow', Action: ['kms:Sign', 'kms:GetPublicKey'], Resource: [...signingKeyArns] }],
      }),
    });
  }

  /** One Pod Identity association per service account (one per agent). */
  associate(clusterName: string, serviceAccounts: readonly ServiceAccountRef[]): void {
    for (const sa of serviceAccounts) {
      checkPattern(this, 'serviceAccounts.namespace', sa.namespace, DNS_LABEL, 'a Kubernetes namespace name');
      checkPattern(this, 'serviceAccounts.name', sa.name, DNS_LABEL, 'a Kubernetes service account name');
      this.associations.push(new EksPodIdentityAssociation(this, `${sa.namespace}-${sa.name}`, {
        clusterName,
        namespace: sa.namespace,
        serviceAccount: sa.name,
        roleArn: this.role.arn,
      }));
    }
  }
}
