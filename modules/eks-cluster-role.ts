/**
 * The EKS cluster's IAM role, separate from EksCluster so the platform key's policy can name it before the cluster
 * (which needs that key for secrets encryption) is created.
 */
import { Construct } from 'constructs';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';

export interface EksClusterRoleProps {
  /** @default 'glimmer-eks-cluster-' */
  readonly namePrefix?: string;
  /** @default 'arn:aws' */
  readonly partitionArnPrefix?: string;
}

export class EksClusterRole extends Construct {
  readonly role: IamRole;
  readonly attachment: IamRolePolicyAttachment;

  constructor(scope: Construct, id: string, props: EksClusterRoleProps = {}) {
    super(scope, id);
    this.role = new IamRole(this, 'role', {
      namePrefix: props.namePrefix ?? 'glimmer-eks-cluster-',
      assumeRolePolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] }],
      }),
    });
    this.attachment = new IamRolePolicyAttachment(this, 'cluster-policy', {
      role: this.role.name,
      policyArn: `${props.partitionArnPrefix ?? 'arn:aws'}:iam::aws:policy/AmazonEKSClusterPolicy`,
    });
  }
}
