/**
 * The cluster's floor: one managed node group per private subnet (so per AZ), fixed at ceil(min_size / AZs) nodes
 * each, for what must run before Karpenter can add nodes (CoreDNS, Karpenter itself, the load balancer controller,
 * istiod) and as the capacity the cluster never drops below. Karpenter adds and removes the nodes above it (a
 * NodePool in the runtime stack, limited by max_size): ASG predictive scaling is gone, since it never scales in and needs
 * a day of history before it acts. Nodes have IMDSv2 only (hop limit 1: pods cannot borrow the node role), root
 * volumes encrypted with our KMS key and kubelet maxPods pinned (the subnet address budget counts on it).
 */
import { Construct } from 'constructs';
import { EksAddon } from '@cdktf/provider-aws/lib/eks-addon';
import { EksNodeGroup } from '@cdktf/provider-aws/lib/eks-node-group';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';
import { LaunchTemplate } from '@cdktf/provider-aws/lib/launch-template';
import { MAX_PODS_PER_NODE, nodeBudget } from './node-budget';
import { Fn, Op, Token, type ITerraformDependable } from './tf';
import { checkInt, invalidProp } from './validate';

/** The seed's scaling policy names, now read as Karpenter's consolidation policy (KarpenterNodePool). */
export const SCALING_POLICY_MODES = ['AI_PREDICTIVE_2023', 'PREDICTIVE_FORECAST_ONLY', 'NONE'] as const;

/** AL2023 nodeadm configuration (MIME part of the launch template's user data): kubelet maxPods. */
export function nodeadmUserData(maxPods: number): string {
  const boundary = 'GLIMMERNODEADM';
  return [
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: application/node.eks.aws',
    '',
    'apiVersion: node.eks.aws/v1alpha1',
    'kind: NodeConfig',
    'spec:',
    '  kubelet:',
    '    config:',
    `      maxPods: ${maxPods}`,
    '',
    `--${boundary}--`,
    '',
  ].join('\n');
}

export interface SystemNodeGroupsProps {
  readonly clusterName: string;
  /** One node group per subnet. */
  readonly subnetIds: readonly string[];
  /** Cluster floor (total across the groups), split evenly (rounded up). A number or a Terraform token. */
  readonly minSize: number;
  /** Cluster ceiling, for the synth-time budget check of literal sizes (Karpenter enforces it). */
  readonly maxSize: number;
  /** VPC prefix length, for the synth-time address budget of literal sizes. @default 16 */
  readonly vpcPrefix?: number;
  /** @default ['m7i.xlarge'] */
  readonly instanceTypes?: readonly string[];
  /** Root volume size, GiB. @default 50 */
  readonly diskSizeGib?: number;
  /** KMS key ARN encrypting the root volumes (its policy must admit the Auto Scaling service-linked role). */
  readonly volumeKmsKeyArn: string;
  /** Resources that must exist before any node joins (the before-compute add-ons). @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
  /** Node labels. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** @default 'arn:aws' */
  readonly partitionArnPrefix?: string;
}

export class SystemNodeGroups extends Construct {
  readonly nodeRole: IamRole;
  readonly nodeGroups: EksNodeGroup[];
  readonly coreDns: EksAddon;

  constructor(scope: Construct, id: string, props: SystemNodeGroupsProps) {
    super(scope, id);
    const groups = props.subnetIds.length;
    if (groups < 1) invalidProp(this, 'subnetIds', groups, 'at least one subnet');
    checkInt(this, 'minSize', props.minSize, 1, 100000);
    checkInt(this, 'maxSize', props.maxSize, 1, 100000);
    if (!Token.isUnresolved(props.minSize) && !Token.isUnresolved(props.maxSize)) {
      if (props.maxSize < props.minSize) invalidProp(this, 'maxSize', props.maxSize, `>= minSize (${props.minSize})`);
      const budget = nodeBudget({ minSize: props.minSize, maxSize: props.maxSize, vpcPrefix: props.vpcPrefix ?? 16, azCount: groups });
      if (budget.problems.length > 0) invalidProp(this, 'minSize/maxSize', `${props.minSize}..${props.maxSize}`, `sizes AWS can provide: ${budget.problems.join('; ')}`);
    }
    const disk = checkInt(this, 'diskSizeGib', props.diskSizeGib ?? 50, 20, 16384);
    const arn = props.partitionArnPrefix ?? 'arn:aws';
    const perGroup = Token.asNumber(Fn.ceil(Op.div(props.minSize, groups)));

    this.nodeRole = new IamRole(this, 'node-role', {
      namePrefix: 'glimmer-eks-node-',
      assumeRolePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
    });
    const attachments = ['AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy', 'AmazonEC2ContainerRegistryReadOnly'].map((p) =>
      new IamRolePolicyAttachment(this, `node-${p}`, { role: this.nodeRole.name, policyArn: `${arn}:iam::aws:policy/${p}` }),
    );
    const template = new LaunchTemplate(this, 'launch-template', {
      namePrefix: 'glimmer-node-',
      metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1 },
      userData: Buffer.from(nodeadmUserData(MAX_PODS_PER_NODE)).toString('base64'),
      blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize: disk, volumeType: 'gp3', encrypted: 'true', kmsKeyId: props.volumeKmsKeyArn, deleteOnTermination: 'true' } }],
    });

    this.nodeGroups = props.subnetIds.map((subnetId, i) => new EksNodeGroup(this, `group-${i}`, {
      clusterName: props.clusterName,
      nodeGroupNamePrefix: `glimmer-${i}-`,
      nodeRoleArn: this.nodeRole.arn,
      subnetIds: [subnetId],
      amiType: 'AL2023_x86_64_STANDARD',
      capacityType: 'ON_DEMAND',
      instanceTypes: [...(props.instanceTypes ?? ['m7i.xlarge'])],
      launchTemplate: { id: template.id, version: Token.asString(template.latestVersion) },
      labels: { ...(props.labels ?? {}) },
      scalingConfig: { minSize: perGroup, maxSize: perGroup, desiredSize: perGroup },
      updateConfig: { maxUnavailablePercentage: 33 },
      lifecycle: { createBeforeDestroy: true },
      dependsOn: [...attachments, ...(props.dependsOn ?? [])],
    }));

    this.coreDns = new EksAddon(this, 'addon-coredns', {
      clusterName: props.clusterName,
      addonName: 'coredns',
      resolveConflictsOnCreate: 'OVERWRITE',
      resolveConflictsOnUpdate: 'PRESERVE',
      dependsOn: this.nodeGroups,
    });
  }
}
