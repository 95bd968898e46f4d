/**
 * An EKS cluster with a private API endpoint (public is an explicit opt-in), Kubernetes secrets envelope-encrypted with
 * our KMS key, API-mode access entries instead of aws-auth, control-plane audit logs, the STANDARD support policy (a
 * version past standard support is upgraded, never billed as extended support), and the add-ons that must run before
 * any node joins (VPC CNI with its network policy agent, kube-proxy, Pod Identity agent). CoreDNS needs nodes.
 *
 * Access: the identity running Terraform gets cluster-admin through an access entry (as terraform-aws-eks's
 * enable_cluster_creator_admin_permissions does), so the Kubernetes stacks can be applied by whoever created the
 * cluster; `deployerCidrs` opens the private endpoint (443 on the cluster security group) to the in-VPC runner or VPN.
 */
import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { EksAccessEntry } from '@cdktf/provider-aws/lib/eks-access-entry';
import { EksAccessPolicyAssociation } from '@cdktf/provider-aws/lib/eks-access-policy-association';
import { EksAddon } from '@cdktf/provider-aws/lib/eks-addon';
import { EksCluster as AwsEksCluster } from '@cdktf/provider-aws/lib/eks-cluster';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsIamSessionContext } from '@cdktf/provider-aws/lib/data-aws-iam-session-context';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';
import type { EksClusterRole } from './eks-cluster-role';
import { WARM_IP_TARGET } from './node-budget';
import { Fn, TerraformIterator, Token } from './tf';
import { checkPattern, invalidProp } from './validate';

/** Add-ons created before the node groups (the nodes cannot become Ready, or pods get no identity, without them). */
export const BEFORE_COMPUTE_ADDONS = ['vpc-cni', 'kube-proxy', 'eks-pod-identity-agent'] as const;

export interface EksClusterProps {
  /** Cluster name (a literal or a Terraform variable). */
  readonly name: string;
  /** Kubernetes version (a literal like 1.35 or a token). @default DEFAULT_KUBERNETES_VERSION */
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
  /** Cluster-admin for the IAM identity running Terraform (a boolean or a token). @default true */
  readonly creatorAdmin?: boolean | string;
  /** CIDRs (the in-VPC runner's subnet, a VPN) allowed to the private API endpoint: a list or a list token. @default [] */
  readonly deployerCidrs?: readonly string[] | string;
  /** Retention of the control-plane log group, days (a number or a token). @default 1827 (five years) */
  readonly logRetentionDays?: number;
}

/** In EKS standard support when pinned (1.33 left standard support in 2026; extended support bills extra). */
export const DEFAULT_KUBERNETES_VERSION = '1.35';
/**
 * vpc-cni add-on configuration: the network policy agent, without which EKS ignores every NetworkPolicy, and a warm
 * pool of WARM_IP_TARGET addresses per node instead of a whole spare ENI (the subnet budget in node-budget.ts).
 */
export const VPC_CNI_CONFIGURATION = { enableNetworkPolicy: 'true', env: { WARM_IP_TARGET: String(WARM_IP_TARGET) } } as const;

export class EksCluster extends Construct {
  readonly cluster: AwsEksCluster;
  readonly beforeComputeAddons: EksAddon[];

  constructor(scope: Construct, id: string, props: EksClusterProps) {
    super(scope, id);
    const version = checkPattern(this, 'kubernetesVersion', props.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION, /^1\.(3[3-9])$/, 'a Kubernetes minor version 1.33..1.39');
    if (props.subnetIds.length < 2) invalidProp(this, 'subnetIds', props.subnetIds.length, 'subnets in at least 2 availability zones');
    const publicEndpoint = props.publicEndpoint ?? false;
    const cidrs = props.publicAccessCidrs ?? [];
    if (publicEndpoint && (cidrs.length === 0 || cidrs.includes('0.0.0.0/0'))) {
      invalidProp(this, 'publicAccessCidrs', cidrs, 'a non-empty list of CIDRs other than 0.0.0.0/0 when publicEndpoint is true');
    }
    const arn = props.partitionArnPrefix ?? 'arn:aws';

    // Created before the cluster, so EKS writes into a group with a retention instead of creating one that never expires.
    const logGroup = new CloudwatchLogGroup(this, 'log-group', { name: `/aws/eks/${props.name}/cluster`, retentionInDays: props.logRetentionDays ?? 1827, kmsKeyId: props.secretsKmsKeyArn });
    this.cluster = new AwsEksCluster(this, 'cluster', {
      name: props.name,
      version,
      roleArn: props.clusterRole.role.arn,
      bootstrapSelfManagedAddons: false,
      enabledClusterLogTypes: ['api', 'audit', 'authenticator'],
      upgradePolicy: { supportType: 'STANDARD' },
      accessConfig: { authenticationMode: 'API', bootstrapClusterCreatorAdminPermissions: false },
      encryptionConfig: { resources: ['secrets'], provider: { keyArn: props.secretsKmsKeyArn } },
      vpcConfig: {
        subnetIds: [...props.subnetIds],
        endpointPrivateAccess: true,
        endpointPublicAccess: publicEndpoint,
        publicAccessCidrs: publicEndpoint ? [...cidrs] : undefined,
      },
      dependsOn: [props.clusterRole.attachment, logGroup],
    });

    // Cluster-admin through an access entry and the EKS admin policy, for each principal (forEach) or one (count).
    const clusterAdmin = (id: string, principalArn: string, repeat: { forEach: TerraformIterator } | { count: number }) => {
      const entry = new EksAccessEntry(this, `${id}-entry`, { ...repeat, clusterName: this.cluster.name, principalArn, type: 'STANDARD' });
      new EksAccessPolicyAssociation(this, `${id}-policy`, {
        ...repeat,
        clusterName: this.cluster.name,
        principalArn,
        policyArn: `${arn}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy`,
        accessScope: { type: 'cluster' },
        dependsOn: [entry],
      });
    };
    const adminList: string[] = typeof props.adminRoleArns === 'string' ? Token.asList(props.adminRoleArns) : [...(props.adminRoleArns ?? [])];
    const admins = TerraformIterator.fromList(adminList);
    clusterAdmin('admin', admins.value, { forEach: admins });

    const creator = props.creatorAdmin ?? true;
    const creatorCount = typeof creator === 'boolean' ? (creator ? 1 : 0) : Token.asNumber(Fn.conditional(creator, 1, 0));
    const caller = new DataAwsCallerIdentity(this, 'caller');
    // An assumed-role session's ARN is not a principal EKS accepts: the role (issuer) is.
    const session = new DataAwsIamSessionContext(this, 'session', { arn: caller.arn });
    clusterAdmin('creator', session.issuerArn, { count: creatorCount });

    const deployerList: string[] = typeof props.deployerCidrs === 'string' ? Token.asList(props.deployerCidrs) : [...(props.deployerCidrs ?? [])];
    const deployers = TerraformIterator.fromList(deployerList);
    new VpcSecurityGroupIngressRule(this, 'deployer-https', {
      forEach: deployers,
      securityGroupId: this.cluster.vpcConfig.clusterSecurityGroupId,
      cidrIpv4: deployers.value,
      ipProtocol: 'tcp',
      fromPort: 443,
      toPort: 443,
      description: 'Terraform runner / VPN to the private EKS API endpoint',
    });

    this.beforeComputeAddons = BEFORE_COMPUTE_ADDONS.map((name) => new EksAddon(this, `addon-${name}`, {
      clusterName: this.cluster.name,
      addonName: name,
      ...(name === 'vpc-cni' ? { configurationValues: JSON.stringify(VPC_CNI_CONFIGURATION) } : {}),
      resolveConflictsOnCreate: 'OVERWRITE',
      resolveConflictsOnUpdate: 'PRESERVE',
    }));
  }
}
