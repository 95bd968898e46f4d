/**
 * An EKS cluster with a private API endpoint (public is an explicit opt-in), Kubernetes secrets envelope-encrypted with
 * our KMS key, API-mode access entries instead of aws-auth, control-plane audit logs, and the add-ons that must run
 * before any node joins (VPC CNI, kube-proxy, Pod Identity agent). CoreDNS needs nodes: see PredictiveNodeGroups.
 */
import { Construct } from 'constructs';
import { EksAccessEntry } from '@cdktf/provider-aws/lib/eks-access-entry';
import { EksAccessPolicyAssociation } from '@cdktf/provider-aws/lib/eks-access-policy-association';
import { EksAddon } from '@cdktf/provider-aws/lib/eks-addon';
import { EksCluster as AwsEksCluster } from '@cdktf/provider-aws/lib/eks-cluster';
import type { EksClusterRole } from './eks-cluster-role';
import { TerraformIterator, Token } from './tf';
import { checkPattern, invalidProp } from './validate';

/** Add-ons created before the node groups (the nodes cannot become Ready, or pods get no identity, without them). */
export const BEFORE_COMPUTE_ADDONS = ['vpc-cni', 'kube-proxy', 'eks-pod-identity-agent'] as const;

export interface EksClusterProps {
  /** Cluster name (a literal or a Terraform variable). */
  readonly name: string;
  /** Kubernetes version (a literal like 1.33 or a token). @default '1.33' */
  readonly kubernetesVersion?: string;
  /** The cluster role (EksClusterRole). */
  readonly clusterRole: EksClusterRole;
  /** Private subnets of at least two AZs. */
  readonly subnetIds: readonly string[];
  /** KMS key ARN for secrets envelope encryption. */
  readonly secretsKmsKeyArn: string;
  /** Public API endpoint; an explicit, visible opt-in. @default false */
  readonly publicEndpoint?: boolean;
  /** CIDRs allowed to reach the public endpoint; required non-empty when publicEndpoint is true. @default [] */
  readonly publicAccessCidrs?: readonly string[];
  /** IAM role ARNs given cluster-admin through access entries: a list or a Terraform list variable. @default [] */
  readonly adminRoleArns?: readonly string[] | string;
  /** `arn:<partition>` prefix for AWS-managed policy ARNs. @default 'arn:aws' */
  readonly partitionArnPrefix?: string;
}

export class EksCluster extends Construct {
  readonly cluster: AwsEksCluster;
  readonly beforeComputeAddons: EksAddon[];

  constructor(scope: Construct, id: string, props: EksClusterProps) {
    super(scope, id);
    const version = checkPattern('EksCluster', 'kubernetesVersion', props.kubernetesVersion ?? '1.33', /^1\.(2[89]|3[0-9])$/, 'a Kubernetes minor version 1.28..1.39');
    if (props.subnetIds.length < 2) invalidProp('EksCluster', 'subnetIds', props.subnetIds.length, 'subnets in at least 2 availability zones');
    const publicEndpoint = props.publicEndpoint ?? false;
    const cidrs = props.publicAccessCidrs ?? [];
    if (publicEndpoint && (cidrs.length === 0 || cidrs.includes('0.0.0.0/0'))) {
      invalidProp('EksCluster', 'publicAccessCidrs', cidrs, 'a non-empty list of CIDRs other than 0.0.0.0/0 when publicEndpoint is true');
    }
    const arn = props.partitionArnPrefix ?? 'arn:aws';

    this.cluster = new AwsEksCluster(this, 'cluster', {
      name: props.name,
      version,
      roleArn: props.clusterRole.role.arn,
      bootstrapSelfManagedAddons: false,
      enabledClusterLogTypes: ['api', 'audit', 'authenticator'],
      accessConfig: { authenticationMode: 'API', bootstrapClusterCreatorAdminPermissions: false },
      encryptionConfig: { resources: ['secrets'], provider: { keyArn: props.secretsKmsKeyArn } },
      vpcConfig: {
        subnetIds: [...props.subnetIds],
        endpointPrivateAccess: true,
        endpointPublicAccess: publicEndpoint,
        publicAccessCidrs: publicEndpoint ? [...cidrs] : undefined,
      },
      dependsOn: [props.clusterRole.attachment],
    });

    const adminList: string[] = typeof props.adminRoleArns === 'string' ? Token.asList(props.adminRoleArns) : [...(props.adminRoleArns ?? [])];
    const admins = TerraformIterator.fromList(adminList);
    const entry = new EksAccessEntry(this, 'admin-entry', { forEach: admins, clusterName: this.cluster.name, principalArn: admins.value, type: 'STANDARD' });
    new EksAccessPolicyAssociation(this, 'admin-policy', {
      forEach: admins,
      clusterName: this.cluster.name,
      principalArn: admins.value,
      policyArn: `${arn}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy`,
      accessScope: { type: 'cluster' },
      dependsOn: [entry],
    });

    this.beforeComputeAddons = BEFORE_COMPUTE_ADDONS.map((name) => new EksAddon(this, `addon-${name}`, {
      clusterName: this.cluster.name,
      addonName: name,
      resolveConflictsOnCreate: 'OVERWRITE',
      resolveConflictsOnUpdate: 'PRESERVE',
    }));
  }
}
