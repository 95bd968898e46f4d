/**
 * Managed node groups, one per private subnet (so per AZ), sized from the `cluster_autoscaling` totals, with IMDSv2
 * only (hop limit 1: pods cannot borrow the node role) and root volumes encrypted with our KMS key. Each group's Auto Scaling group gets
 * an `aws_autoscaling_policy` of type PredictiveScaling (the seed's AI_PREDICTIVE_2023 = ForecastAndScale). CoreDNS is
 * installed after the nodes exist.
 */
import { Construct } from 'constructs';
import { AutoscalingPolicy } from '@cdktf/provider-aws/lib/autoscaling-policy';
import { EksAddon } from '@cdktf/provider-aws/lib/eks-addon';
import { EksNodeGroup } from '@cdktf/provider-aws/lib/eks-node-group';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';
import { LaunchTemplate } from '@cdktf/provider-aws/lib/launch-template';
import { Fn, Op, Token, type ITerraformDependable } from './tf';
import { checkInt, checkOneOf, invalidProp } from './validate';

export const SCALING_POLICY_MODES = ['AI_PREDICTIVE_2023', 'PREDICTIVE_FORECAST_ONLY', 'NONE'] as const;

export interface PredictiveNodeGroupsProps {
  readonly clusterName: string;
  /** One node group per subnet. */
  readonly subnetIds: readonly string[];
  /** Cluster totals, split evenly (rounded up) across the node groups. Numbers or Terraform tokens. */
  readonly minSize: number;
  readonly maxSize: number;
  /** @default - minSize */
  readonly desiredSize?: number;
  /** AI_PREDICTIVE_2023 (ForecastAndScale), PREDICTIVE_FORECAST_ONLY (ForecastOnly) or NONE, or a token. @default 'AI_PREDICTIVE_2023' */
  readonly scalingPolicy?: string;
  /** Seconds the forecast capacity is launched ahead (scheduling buffer), a number or a token. @default 300 */
  readonly schedulingBufferSeconds?: number;
  /** Target average CPU utilisation of the forecast, percent. @default 50 */
  readonly targetCpuPercent?: number;
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

export class PredictiveNodeGroups extends Construct {
  readonly nodeRole: IamRole;
  readonly nodeGroups: EksNodeGroup[];
  readonly scalingPolicies: AutoscalingPolicy[];
  readonly coreDns: EksAddon;

  constructor(scope: Construct, id: string, props: PredictiveNodeGroupsProps) {
    super(scope, id);
    const groups = props.subnetIds.length;
    if (groups < 1) invalidProp('PredictiveNodeGroups', 'subnetIds', groups, 'at least one subnet');
    checkInt('PredictiveNodeGroups', 'minSize', props.minSize, 1, 100000);
    checkInt('PredictiveNodeGroups', 'maxSize', props.maxSize, 1, 100000);
    if (!Token.isUnresolved(props.minSize) && !Token.isUnresolved(props.maxSize) && props.maxSize < props.minSize) {
      invalidProp('PredictiveNodeGroups', 'maxSize', props.maxSize, `>= minSize (${props.minSize})`);
    }
    const policy = checkOneOf('PredictiveNodeGroups', 'scalingPolicy', props.scalingPolicy ?? 'AI_PREDICTIVE_2023', SCALING_POLICY_MODES as unknown as string[]);
    const buffer = checkInt('PredictiveNodeGroups', 'schedulingBufferSeconds', props.schedulingBufferSeconds ?? 300, 0, 3600);
    const target = checkInt('PredictiveNodeGroups', 'targetCpuPercent', props.targetCpuPercent ?? 50, 10, 90);
    const disk = checkInt('PredictiveNodeGroups', 'diskSizeGib', props.diskSizeGib ?? 50, 20, 16384);
    const arn = props.partitionArnPrefix ?? 'arn:aws';
    const perGroup = (total: number): number => Token.asNumber(Fn.ceil(Op.div(total, groups)));

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
      scalingConfig: {
        minSize: perGroup(props.minSize),
        maxSize: perGroup(props.maxSize),
        desiredSize: perGroup(props.desiredSize ?? props.minSize),
      },
      updateConfig: { maxUnavailablePercentage: 33 },
      lifecycle: { createBeforeDestroy: true, ignoreChanges: ['scaling_config[0].desired_size'] },
      dependsOn: [...attachments, ...(props.dependsOn ?? [])],
    }));

    const enabled = Token.asNumber(Fn.conditional(Op.eq(policy, 'NONE'), 0, 1));
    const mode = Fn.conditional(Op.eq(policy, 'PREDICTIVE_FORECAST_ONLY'), 'ForecastOnly', 'ForecastAndScale');
    this.scalingPolicies = this.nodeGroups.map((group, i) => new AutoscalingPolicy(this, `predictive-${i}`, {
      count: enabled,
      name: `glimmer-predictive-${i}`,
      autoscalingGroupName: group.resources.get(0).autoscalingGroups.get(0).name,
      policyType: 'PredictiveScaling',
      predictiveScalingConfiguration: {
        mode: Token.asString(mode),
        schedulingBufferTime: Token.isUnresolved(buffer) ? Token.asString(buffer) : String(buffer),
        maxCapacityBreachBehavior: 'HonorMaxCapacity',
        metricSpecification: { targetValue: target, predefinedMetricPairSpecification: { predefinedMetricType: 'ASGCPUUtilization' } },
      },
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
