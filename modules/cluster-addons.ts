/**
 * What an EKS cluster needs beyond the control plane before Glimmer's objects can work, as terraform-aws-eks and EKS
 * Blueprints users install it:
 *   - the AWS Load Balancer Controller (the gateway's internal NLB: the in-tree controller ignores the controller's
 *     annotations and would create an internet-facing Classic/NLB or nothing),
 *   - Karpenter (pending pods add nodes, empty or underused nodes are consolidated away: the managed node groups'
 *     predictive scaling never scales in and needs a day of history),
 *   - metrics-server (the HPAs read CPU from it).
 * `ClusterAddonIdentities` (in the `cloud` stack) holds the AWS side: IAM roles bound by EKS Pod Identity, Karpenter's
 * node role and access entry, its interruption queue and EventBridge rules, and the discovery tags. `ClusterAddons`
 * (in `cloud-platform`) installs the three Helm charts, each pinned.
 */
import { Construct } from 'constructs';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { DataAwsEksCluster } from '@cdktf/provider-aws/lib/data-aws-eks-cluster';
import { Ec2Tag } from '@cdktf/provider-aws/lib/ec2-tag';
import { EksAddon } from '@cdktf/provider-aws/lib/eks-addon';
import { DataAwsKmsAlias } from '@cdktf/provider-aws/lib/data-aws-kms-alias';
import type { IStorageClass } from 'kubernetes-models/storage.k8s.io/v1/StorageClass';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import { k8sObject } from './k8s';
import { EksAccessEntry } from '@cdktf/provider-aws/lib/eks-access-entry';
import { EksPodIdentityAssociation } from '@cdktf/provider-aws/lib/eks-pod-identity-association';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { SqsQueuePolicy } from '@cdktf/provider-aws/lib/sqs-queue-policy';
import { Release } from '@cdktf/provider-helm/lib/release';
import { Fn, type ITerraformDependable } from './tf';

/** Pinned chart versions (bump deliberately; each is the release line the docs were checked against). */
export const ADDON_CHARTS = {
  loadBalancerController: { repository: 'https://aws.github.io/eks-charts', chart: 'aws-load-balancer-controller', version: '1.13.4' },
  karpenter: { repository: 'oci://public.ecr.aws/karpenter', chart: 'karpenter', version: '1.6.3' },
  metricsServer: { repository: 'https://kubernetes-sigs.github.io/metrics-server/', chart: 'metrics-server', version: '3.13.0' },
} as const;
export const ADDON_SERVICE_ACCOUNTS = { loadBalancerController: 'aws-load-balancer-controller', karpenter: 'karpenter' } as const;
export const AWS_NLB_CLASS = 'service.k8s.aws/nlb';
/** The controller's Service annotations: an internal NLB with IP targets (the pods, not node ports). */
export const GATEWAY_NLB_ANNOTATIONS: Readonly<Record<string, string>> = {
  'service.beta.kubernetes.io/aws-load-balancer-type': 'external',
  'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip',
  'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internal',
};
/** Tag Karpenter finds the node subnets and security group by. */
export const KARPENTER_DISCOVERY_TAG = 'karpenter.sh/discovery';
export const karpenterNames = {
  nodeRole: (cluster: string) => `${cluster}-karpenter-node`,
  queue: (cluster: string) => `${cluster}-karpenter`,
};

const podsTrust = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] }],
});

/**
 * The AWS Load Balancer Controller's permissions, condensed from its published policy: read the VPC, create and tag
 * load balancers, target groups and their security groups, and change only what carries the cluster's tag.
 */
function loadBalancerControllerPolicy(): Record<string, unknown> {
  const tagged = { Null: { 'aws:ResourceTag/elbv2.k8s.aws/cluster': 'false' } };
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Read', Effect: 'Allow', Action: ['ec2:Describe*', 'ec2:GetSecurityGroupsForVpc', 'elasticloadbalancing:Describe*', 'iam:ListServerCertificates', 'acm:ListCertificates', 'acm:DescribeCertificate', 'shield:GetSubscriptionState'], Resource: '*' },
      { Sid: 'ServiceLinkedRole', Effect: 'Allow', Action: 'iam:CreateServiceLinkedRole', Resource: '*', Condition: { StringEquals: { 'iam:AWSServiceName': 'elasticloadbalancing.amazonaws.com' } } },
      { Sid: 'CreateTagged', Effect: 'Allow', Action: ['ec2:CreateSecurityGroup', 'elasticloadbalancing:CreateLoadBalancer', 'elasticloadbalancing:CreateTargetGroup'], Resource: '*', Condition: { Null: { 'aws:RequestTag/elbv2.k8s.aws/cluster': 'false' } } },
      { Sid: 'TagOnCreate', Effect: 'Allow', Action: ['ec2:CreateTags', 'elasticloadbalancing:AddTags'], Resource: '*', Condition: { StringEquals: { 'ec2:CreateAction': 'CreateSecurityGroup' } } },
      { Sid: 'ChangeOwned', Effect: 'Allow', Action: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress', 'ec2:DeleteSecurityGroup', 'ec2:CreateTags', 'ec2:DeleteTags', 'elasticloadbalancing:ModifyLoadBalancerAttributes', 'elasticloadbalancing:SetIpAddressType', 'elasticloadbalancing:SetSecurityGroups', 'elasticloadbalancing:SetSubnets', 'elasticloadbalancing:DeleteLoadBalancer', 'elasticloadbalancing:ModifyTargetGroup', 'elasticloadbalancing:ModifyTargetGroupAttributes', 'elasticloadbalancing:DeleteTargetGroup', 'elasticloadbalancing:AddTags', 'elasticloadbalancing:RemoveTags'], Resource: '*', Condition: tagged },
      { Sid: 'Listeners', Effect: 'Allow', Action: ['elasticloadbalancing:CreateListener', 'elasticloadbalancing:DeleteListener', 'elasticloadbalancing:ModifyListener', 'elasticloadbalancing:CreateRule', 'elasticloadbalancing:DeleteRule', 'elasticloadbalancing:ModifyRule', 'elasticloadbalancing:RegisterTargets', 'elasticloadbalancing:DeregisterTargets'], Resource: '*' },
    ],
  };
}

/** Karpenter's controller permissions, condensed: launch and terminate tagged instances, pass its node role, read prices. */
function karpenterControllerPolicy(cluster: string, nodeRoleArn: string, queueArn: string, queueKeyArn: string): Record<string, unknown> {
  const owned = { StringEquals: { [`aws:ResourceTag/kubernetes.io/cluster/${cluster}`]: 'owned' } };
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Read', Effect: 'Allow', Action: ['ec2:Describe*', 'pricing:GetProducts', 'ssm:GetParameter', 'eks:DescribeCluster', 'iam:GetInstanceProfile', 'iam:ListInstanceProfiles'], Resource: '*' },
      { Sid: 'Launch', Effect: 'Allow', Action: ['ec2:RunInstances', 'ec2:CreateFleet', 'ec2:CreateLaunchTemplate', 'ec2:CreateTags'], Resource: '*' },
      { Sid: 'ChangeOwned', Effect: 'Allow', Action: ['ec2:TerminateInstances', 'ec2:DeleteLaunchTemplate'], Resource: '*', Condition: owned },
      { Sid: 'PassNodeRole', Effect: 'Allow', Action: 'iam:PassRole', Resource: nodeRoleArn, Condition: { StringEquals: { 'iam:PassedToService': ['ec2.amazonaws.com'] } } },
      { Sid: 'InstanceProfiles', Effect: 'Allow', Action: ['iam:CreateInstanceProfile', 'iam:TagInstanceProfile', 'iam:AddRoleToInstanceProfile', 'iam:RemoveRoleFromInstanceProfile', 'iam:DeleteInstanceProfile'], Resource: '*', Condition: owned },
      { Sid: 'Interruptions', Effect: 'Allow', Action: ['sqs:DeleteMessage', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'], Resource: queueArn },
      { Sid: 'ReadEncryptedInterruptions', Effect: 'Allow', Action: 'kms:Decrypt', Resource: queueKeyArn },
    ],
  };
}

export interface ClusterAddonIdentitiesProps {
  /** Cluster name (a literal or the variable: the roles exist before the cluster, so key policies can name them). */
  readonly clusterName: string;
  /** @default 'arn:aws' */
  readonly partitionArnPrefix?: string;
}

export class ClusterAddonIdentities extends Construct {
  readonly karpenterNodeRole: IamRole;
  readonly karpenterControllerRole: IamRole;
  readonly loadBalancerControllerRole: IamRole;
  /** The EBS CSI driver's role: the agents' state volumes (StatefulSet claims) are EBS volumes it creates. */
  readonly ebsCsiRole: IamRole;
  private readonly cluster: string;

  constructor(scope: Construct, id: string, props: ClusterAddonIdentitiesProps) {
    super(scope, id);
    const arn = props.partitionArnPrefix ?? 'arn:aws';
    const cluster = props.clusterName;
    this.cluster = cluster;
    const role = (name: string, policy: unknown) => {
      const r = new IamRole(this, `${name}-role`, { namePrefix: `glimmer-${name}-`, assumeRolePolicy: podsTrust });
      new IamRolePolicy(this, `${name}-policy`, { role: r.id, name: `glimmer-${name}`, policy: Fn.jsonencode(policy) });
      return r;
    };
    this.loadBalancerControllerRole = role('lb-controller', loadBalancerControllerPolicy());

    this.karpenterNodeRole = new IamRole(this, 'karpenter-node-role', {
      name: karpenterNames.nodeRole(cluster),
      assumeRolePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
    });
    for (const p of ['AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy', 'AmazonEC2ContainerRegistryReadOnly', 'AmazonSSMManagedInstanceCore']) {
      new IamRolePolicyAttachment(this, `karpenter-node-${p}`, { role: this.karpenterNodeRole.name, policyArn: `${arn}:iam::aws:policy/${p}` });
    }

    this.ebsCsiRole = new IamRole(this, 'ebs-csi-role', { namePrefix: 'glimmer-ebs-csi-', assumeRolePolicy: podsTrust });
    new IamRolePolicyAttachment(this, 'ebs-csi-policy', { role: this.ebsCsiRole.name, policyArn: `${arn}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy` });

    // The controller's policy names the interruption queue, created with the cluster binding (attach).
    this.karpenterControllerRole = new IamRole(this, 'karpenter-role', { namePrefix: 'glimmer-karpenter-', assumeRolePolicy: podsTrust });
  }

  /**
   * The EBS CSI driver as an EKS add-on with its Pod Identity (the driver's controller needs nodes to run on, so it
   * waits for `nodes`). Without it no PersistentVolumeClaim binds on EKS.
   */
  ebsCsiDriver(clusterName: string, nodes: readonly ITerraformDependable[]): EksAddon {
    return new EksAddon(this, 'addon-aws-ebs-csi-driver', {
      clusterName,
      addonName: 'aws-ebs-csi-driver',
      resolveConflictsOnCreate: 'OVERWRITE',
      resolveConflictsOnUpdate: 'PRESERVE',
      podIdentityAssociation: [{ roleArn: this.ebsCsiRole.arn, serviceAccount: 'ebs-csi-controller-sa' }],
      dependsOn: [...nodes],
    });
  }

  /**
   * Binds the roles once the cluster exists: Pod Identity associations, the nodes' access entry, the discovery tag,
   * and Karpenter's interruption queue (encrypted with `queueKmsKeyArn`, whose policy admits EventBridge).
   */
  attach(clusterName: string, clusterSecurityGroupId: string, dependsOn: readonly ITerraformDependable[], queueKmsKeyArn: string): SqsQueue {
    const deps = [...dependsOn];
    const cluster = this.cluster;
    const queue = new SqsQueue(this, 'karpenter-queue', { name: karpenterNames.queue(cluster), messageRetentionSeconds: 300, kmsMasterKeyId: queueKmsKeyArn });
    new SqsQueuePolicy(this, 'karpenter-queue-policy', {
      queueUrl: queue.url,
      policy: Fn.jsonencode({
        Version: '2012-10-17',
        Statement: [
          { Sid: 'EventBridgeSends', Effect: 'Allow', Principal: { Service: ['events.amazonaws.com', 'sqs.amazonaws.com'] }, Action: 'sqs:SendMessage', Resource: queue.arn },
          { Sid: 'TlsOnly', Effect: 'Deny', Principal: '*', Action: 'sqs:*', Resource: queue.arn, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
        ],
      }),
    });
    const events: Record<string, Record<string, unknown>> = {
      'spot-interruption': { source: ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] },
      rebalance: { source: ['aws.ec2'], 'detail-type': ['EC2 Instance Rebalance Recommendation'] },
      'instance-state': { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'] },
      'scheduled-change': { source: ['aws.health'], 'detail-type': ['AWS Health Event'] },
    };
    for (const [name, pattern] of Object.entries(events)) {
      const rule = new CloudwatchEventRule(this, `karpenter-${name}`, { namePrefix: `glimmer-karpenter-${name}-`.slice(0, 38), eventPattern: JSON.stringify(pattern) });
      new CloudwatchEventTarget(this, `karpenter-${name}-target`, { rule: rule.name, arn: queue.arn });
    }
    new IamRolePolicy(this, 'karpenter-policy', { role: this.karpenterControllerRole.id, name: 'glimmer-karpenter', policy: Fn.jsonencode(karpenterControllerPolicy(cluster, this.karpenterNodeRole.arn, queue.arn, queueKmsKeyArn)) });


    const bind = (name: string, serviceAccount: string, role: IamRole) =>
      new EksPodIdentityAssociation(this, `${name}-identity`, { clusterName, namespace: 'kube-system', serviceAccount, roleArn: role.arn, dependsOn: deps });
    bind('lb-controller', ADDON_SERVICE_ACCOUNTS.loadBalancerController, this.loadBalancerControllerRole);
    bind('karpenter', ADDON_SERVICE_ACCOUNTS.karpenter, this.karpenterControllerRole);
    // Nodes Karpenter launches join with this role: EKS admits them only through an EC2_LINUX access entry.
    new EksAccessEntry(this, 'karpenter-node-entry', { clusterName, principalArn: this.karpenterNodeRole.arn, type: 'EC2_LINUX', dependsOn: deps });
    new Ec2Tag(this, 'karpenter-security-group-tag', { resourceId: clusterSecurityGroupId, key: KARPENTER_DISCOVERY_TAG, value: this.cluster });
    return queue;
  }
}

/** The StorageClass of the agents' state volumes on EKS. */
export const STATE_STORAGE_CLASS = 'glimmer-gp3';

export interface ClusterAddonsProps {
  readonly clusterName: string;
  readonly region: string;
  /** Alias (`alias/...`) of the KMS key encrypting the state volumes. */
  readonly volumeKmsKeyAlias: string;
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

/** The Helm side, in a stack whose providers reach the cluster. */
export class ClusterAddons extends Construct {
  readonly loadBalancerController: Release;
  readonly karpenter: Release;
  readonly metricsServer: Release;
  /** gp3, encrypted with our key, Retain: a deleted claim never deletes an audit store. */
  readonly storageClass: Manifest;
  /** The values each release is installed with (tests check them against the charts). */
  readonly values: Readonly<Record<'loadBalancerController' | 'karpenter' | 'metricsServer', Record<string, unknown>>>;

  constructor(scope: Construct, id: string, props: ClusterAddonsProps) {
    super(scope, id);
    const cluster = new DataAwsEksCluster(this, 'cluster', { name: props.clusterName });
    const values = {
      loadBalancerController: {
        clusterName: props.clusterName,
        region: props.region,
        vpcId: cluster.vpcConfig.get(0).vpcId,
        serviceAccount: { create: true, name: ADDON_SERVICE_ACCOUNTS.loadBalancerController },
      },
      karpenter: {
        settings: { clusterName: props.clusterName, interruptionQueue: karpenterNames.queue(props.clusterName) },
        serviceAccount: { create: true, name: ADDON_SERVICE_ACCOUNTS.karpenter },
      },
      metricsServer: {},
    };
    const release = (name: keyof typeof ADDON_CHARTS, releaseName: string) => new Release(this, releaseName, {
      name: releaseName,
      ...ADDON_CHARTS[name],
      namespace: 'kube-system',
      atomic: true,
      cleanupOnFail: true,
      wait: true,
      timeout: 600,
      values: [Fn.jsonencode(values[name])],
      dependsOn: props.dependsOn ? [...props.dependsOn] : undefined,
    });
    this.loadBalancerController = release('loadBalancerController', 'aws-load-balancer-controller');
    this.karpenter = release('karpenter', 'karpenter');
    this.metricsServer = release('metricsServer', 'metrics-server');
    this.values = values;
    const key = new DataAwsKmsAlias(this, 'volume-key', { name: props.volumeKmsKeyAlias });
    this.storageClass = k8sObject<IStorageClass>(this, 'storage-class', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: STATE_STORAGE_CLASS },
      provisioner: 'ebs.csi.aws.com',
      parameters: { type: 'gp3', encrypted: 'true', kmsKeyId: key.targetKeyArn },
      reclaimPolicy: 'Retain',
      volumeBindingMode: 'WaitForFirstConsumer',
      allowVolumeExpansion: true,
    });
  }
}
