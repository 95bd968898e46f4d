/**
 * Node counts checked against what AWS can give, before anything is applied: the managed node group quota and the
 * pod IP addresses of the private subnets (the VPC CNI gives every pod a VPC address).
 *   - Managed node groups: at most 450 nodes each (Service Quotas, Amazon EKS "Nodes per managed node group",
 *     default 450). The per-AZ system groups hold the cluster floor, ceil(min_size / AZs) each.
 *   - Addresses: a node uses 1 address for itself, one per pod (kubelet maxPods, pinned to MAX_PODS_PER_NODE on every
 *     node) and at most WARM_IP_TARGET spare ones the CNI keeps warm. A private /19 holds 2^13 - 5 = 8187 usable
 *     addresses (AWS reserves 5 per subnet). max_size nodes must fit across the AZs' private subnets.
 * The same arithmetic runs at synth for literal sizes (a refusal naming the construct) and as a Terraform validation of
 * `cluster_autoscaling` against `vpc_cidr` (tested with the terraform binary).
 */
export const MANAGED_NODE_GROUP_QUOTA = 450;
export const MAX_PODS_PER_NODE = 29;
/** The VPC CNI's WARM_IP_TARGET (set on the vpc-cni add-on): spare addresses per node, instead of a whole warm ENI. */
export const WARM_IP_TARGET = 2;
export const IPS_PER_NODE = 1 + MAX_PODS_PER_NODE + WARM_IP_TARGET;
/** Private subnets are cidrsubnet(vpc_cidr, 3, i): 3 bits longer than the VPC prefix. */
export const PRIVATE_SUBNET_NEWBITS = 3;
export const AWS_RESERVED_PER_SUBNET = 5;

export interface NodeBudget {
  readonly systemNodesPerGroup: number;
  readonly ipsNeeded: number;
  readonly ipsAvailable: number;
  /** Human-readable reasons the sizes cannot work; empty when they can. */
  readonly problems: readonly string[];
}

export function nodeBudget(sizes: { minSize: number; maxSize: number; vpcPrefix: number; azCount: number }): NodeBudget {
  const systemNodesPerGroup = Math.ceil(sizes.minSize / sizes.azCount);
  const perSubnet = 2 ** (32 - (sizes.vpcPrefix + PRIVATE_SUBNET_NEWBITS)) - AWS_RESERVED_PER_SUBNET;
  const ipsAvailable = perSubnet * sizes.azCount;
  const ipsNeeded = sizes.maxSize * IPS_PER_NODE;
  const problems: string[] = [];
  if (systemNodesPerGroup > MANAGED_NODE_GROUP_QUOTA) {
    problems.push(`min_size ${sizes.minSize} puts ${systemNodesPerGroup} nodes in each of ${sizes.azCount} managed node groups, above the quota of ${MANAGED_NODE_GROUP_QUOTA} nodes per group`);
  }
  if (ipsNeeded > ipsAvailable) {
    problems.push(`max_size ${sizes.maxSize} nodes need ${ipsNeeded} pod network addresses (${IPS_PER_NODE} per node), the ${sizes.azCount} private /${sizes.vpcPrefix + PRIVATE_SUBNET_NEWBITS} subnets of a /${sizes.vpcPrefix} VPC hold ${ipsAvailable}`);
  }
  return { systemNodesPerGroup, ipsNeeded, ipsAvailable, problems };
}

/** The same checks as Terraform `validation` blocks of `cluster_autoscaling` (cross-variable: Terraform >= 1.9). */
export function nodeBudgetValidations(azCount: number, vpcCidrVar = 'var.vpc_cidr'): Array<{ condition: string; errorMessage: string }> {
  const prefix = `tonumber(split("/", ${vpcCidrVar})[1])`;
  const available = `(pow(2, 32 - (${prefix} + ${PRIVATE_SUBNET_NEWBITS})) - ${AWS_RESERVED_PER_SUBNET}) * ${azCount}`;
  return [
    {
      condition: `\${ceil(var.cluster_autoscaling.min_size / ${azCount}) <= ${MANAGED_NODE_GROUP_QUOTA}}`,
      errorMessage: `cluster_autoscaling.min_size=\${var.cluster_autoscaling.min_size} puts \${ceil(var.cluster_autoscaling.min_size / ${azCount})} nodes in each of the ${azCount} managed node groups, above the default quota of ${MANAGED_NODE_GROUP_QUOTA} nodes per group: lower min_size (Karpenter adds nodes up to max_size) or raise the quota first.`,
    },
    {
      condition: `\${try(var.cluster_autoscaling.max_size * ${IPS_PER_NODE} <= ${available}, false)}`,
      errorMessage: `cluster_autoscaling.max_size=\${var.cluster_autoscaling.max_size} nodes need \${var.cluster_autoscaling.max_size * ${IPS_PER_NODE}} pod network addresses (${IPS_PER_NODE} per node: ${MAX_PODS_PER_NODE} pods, the node, ${WARM_IP_TARGET} warm), the private subnets of vpc_cidr \${${vpcCidrVar}} hold \${try(${available}, 0)}: lower max_size or use a larger vpc_cidr (/16 holds ${nodeBudget({ minSize: 1, maxSize: 1, vpcPrefix: 16, azCount }).ipsAvailable} addresses, ${Math.floor(nodeBudget({ minSize: 1, maxSize: 1, vpcPrefix: 16, azCount }).ipsAvailable / IPS_PER_NODE)} nodes).`,
    },
  ];
}
