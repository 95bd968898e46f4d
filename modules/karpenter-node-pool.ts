/**
 * Karpenter's NodePool and EC2NodeClass: the nodes above the managed groups' floor, added for pending pods and removed
 * by consolidation. Its CRDs come with the Karpenter chart (cloud-platform), so these objects are in the runtime stack.
 * No model package ships Karpenter's CRDs: the interfaces below hold the fields used here, from the karpenter.sh/v1
 * and karpenter.k8s.aws/v1 CRDs of the pinned chart, so a misspelt field still fails `tsc`.
 */
import { Construct } from 'constructs';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import { k8sObject, type ObjectMeta } from './k8s';
import { KARPENTER_DISCOVERY_TAG } from './cluster-addons';
import { MAX_PODS_PER_NODE } from './node-budget';
import type { ITerraformDependable } from './tf';

interface Requirement { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt'; values?: string[] }
export interface INodePool {
  apiVersion: 'karpenter.sh/v1';
  kind: 'NodePool';
  metadata: ObjectMeta;
  spec: {
    template: { metadata?: { labels?: Record<string, string> }; spec: { nodeClassRef: { group: string; kind: string; name: string }; requirements: Requirement[]; expireAfter?: string } };
    disruption: { consolidationPolicy: 'WhenEmpty' | 'WhenEmptyOrUnderutilized'; consolidateAfter: string; budgets?: Array<{ nodes: string }> };
    limits: { nodes: number | string };
  };
}
export interface IEC2NodeClass {
  apiVersion: 'karpenter.k8s.aws/v1';
  kind: 'EC2NodeClass';
  metadata: ObjectMeta;
  spec: {
    role: string;
    amiSelectorTerms: Array<{ alias: string }>;
    subnetSelectorTerms: Array<{ tags: Record<string, string> }>;
    securityGroupSelectorTerms: Array<{ tags: Record<string, string> }>;
    metadataOptions: { httpEndpoint: 'enabled' | 'disabled'; httpTokens: 'required' | 'optional'; httpPutResponseHopLimit: number };
    blockDeviceMappings: Array<{ deviceName: string; ebs: { volumeSize: string; volumeType: string; encrypted: boolean; kmsKeyID?: string; deleteOnTermination: boolean } }>;
    kubelet: { maxPods: number };
  };
}

export interface KarpenterNodePoolProps {
  readonly clusterName: string;
  /** Karpenter's node role name (ClusterAddonIdentities). */
  readonly nodeRoleName: string;
  /** Most nodes Karpenter may run (a number or a token). */
  readonly maxNodes: number | string;
  /** WhenEmptyOrUnderutilized or WhenEmpty (a token allowed). */
  readonly consolidationPolicy: string;
  /** How long a node must be empty or underused before consolidation, e.g. `5m` (a token allowed). */
  readonly consolidateAfter: string;
  /** KMS key (ARN or alias ARN) of the root volumes. */
  readonly volumeKmsKeyId: string;
  /** Instance categories. @default ['m', 'c', 'r'] */
  readonly instanceCategories?: readonly string[];
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

export class KarpenterNodePool extends Construct {
  readonly objects: Manifest[] = [];

  constructor(scope: Construct, id: string, props: KarpenterNodePoolProps) {
    super(scope, id);
    const deps = { dependsOn: props.dependsOn };
    const discovery = { [KARPENTER_DISCOVERY_TAG]: props.clusterName };
    const nodeClass = k8sObject<IEC2NodeClass>(this, 'node-class', {
      apiVersion: 'karpenter.k8s.aws/v1',
      kind: 'EC2NodeClass',
      metadata: { name: 'glimmer' },
      spec: {
        role: props.nodeRoleName,
        // The latest AL2023 EKS AMI for the cluster's version: drift replaces nodes within the disruption budget.
        amiSelectorTerms: [{ alias: 'al2023@latest' }],
        subnetSelectorTerms: [{ tags: discovery }],
        securityGroupSelectorTerms: [{ tags: discovery }],
        metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1 },
        blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { volumeSize: '50Gi', volumeType: 'gp3', encrypted: true, kmsKeyID: props.volumeKmsKeyId, deleteOnTermination: true } }],
        kubelet: { maxPods: MAX_PODS_PER_NODE },
      },
    }, deps);
    this.objects.push(nodeClass);
    this.objects.push(k8sObject<INodePool>(this, 'node-pool', {
      apiVersion: 'karpenter.sh/v1',
      kind: 'NodePool',
      metadata: { name: 'glimmer' },
      spec: {
        template: {
          spec: {
            nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'glimmer' },
            requirements: [
              { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['on-demand'] },
              { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] },
              { key: 'karpenter.k8s.aws/instance-category', operator: 'In', values: [...(props.instanceCategories ?? ['m', 'c', 'r'])] },
            ],
            expireAfter: '720h',
          },
        },
        disruption: {
          consolidationPolicy: props.consolidationPolicy as INodePool['spec']['disruption']['consolidationPolicy'],
          consolidateAfter: props.consolidateAfter,
          // At most one node in ten drains at a time (the agents' PDBs bound each workload further).
          budgets: [{ nodes: '10%' }],
        },
        limits: { nodes: props.maxNodes },
      },
    }, { dependsOn: [...(props.dependsOn ?? []), nodeClass] }));
  }
}
