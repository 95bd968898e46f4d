/**
 * `cloud` (HYPERSCALE on AWS): network, CloudHSM and the KMS keys, the EKS cluster with its predictive node groups,
 * the runtime's pod identity, the audit bucket and the image repository. Kubernetes objects come in `cloud-platform`
 * and `cloud-runtime`, planned once this cluster exists.
 */
import type { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { AuditBucket } from '../modules/audit-bucket';
import { AuditSigningKey } from '../modules/audit-signing-key';
import { EksCluster } from '../modules/eks-cluster';
import { EksClusterRole } from '../modules/eks-cluster-role';
import { HsmCluster } from '../modules/hsm-cluster';
import { HSM_STAGES, HsmKeyStore } from '../modules/hsm-key-store';
import { ImageRepository } from '../modules/image-repository';
import { Network } from '../modules/network';
import { PlatformKey } from '../modules/platform-key';
import { ClusterAddonIdentities, KARPENTER_DISCOVERY_TAG } from '../modules/cluster-addons';
import { DEFAULT_KUBERNETES_VERSION } from '../modules/eks-cluster';
import { nodeBudgetValidations } from '../modules/node-budget';
import { SystemNodeGroups } from '../modules/system-node-groups';
import { DataAwsCloudhsmV2Cluster } from '@cdktf/provider-aws/lib/data-aws-cloudhsm-v2-cluster';
import { RuntimePodIdentity } from '../modules/runtime-pod-identity';
import { Fn, TerraformStack, Token } from '../modules/tf';
import { TopologyVariables } from '../modules/topology-variables';
import { configureBackend, retentionVariables, stackOutput, stackVariable, type BackendOptions } from './common';
import type { StackInputs } from './inputs';
import { zoneModelOf } from './inputs';

/** Variables every cloud stack declares: where the cluster is. */
export function awsLocationVariables(scope: Construct): { region: string; clusterName: string } {
  const region = stackVariable(scope, 'region', {
    type: 'string',
    default: 'eu-central-1',
    nullable: false,
    description: 'AWS region.',
    validation: [{ condition: '${can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", var.region))}', errorMessage: 'region must be an AWS region name like eu-central-1, received "${var.region}".' }],
  });
  const clusterName = stackVariable(scope, 'cluster_name', {
    type: 'string',
    default: 'glimmer',
    nullable: false,
    description: 'EKS cluster name; also prefixes the audit bucket, the image repository and the key aliases.',
    validation: [{ condition: '${can(regex("^[a-z][a-z0-9-]{0,30}$", var.cluster_name))}', errorMessage: 'cluster_name must be 1..31 characters of a-z, 0-9 and - starting with a letter, received "${var.cluster_name}".' }],
  });
  return { region: region.stringValue, clusterName: clusterName.stringValue };
}

/** Names derived from cluster_name, shared with cloud-runtime (which finds the resources by name, not by state). */
export const cloudNames = {
  signingKeyAlias: (cluster: string) => `${cluster}/audit-checkpoint`,
  cosigningKeyAlias: (cluster: string) => `${cluster}/audit-cosigner`,
  platformKeyAlias: (cluster: string) => `${cluster}/platform`,
  auditBucket: (cluster: string, account: string) => `${cluster}-audit-${account}`,
  repository: (cluster: string) => `${cluster}/runtime`,
};

export class CloudStack extends TerraformStack {
  constructor(scope: Construct, id: string, inputs: StackInputs, backend: BackendOptions = {}) {
    super(scope, id);
    configureBackend(this, id, backend, true);
    const topo = new TopologyVariables(this, 'topology', {
      deploymentModel: 'HYPERSCALE',
      zones: zoneModelOf(inputs.config, 0).zones,
      defaultControlZone: inputs.config.topology.control_zone,
      defaultSafetyZoneLevel: inputs.config.topology.safety_zone_level,
      scalingValidations: nodeBudgetValidations(AZ_COUNT),
    });
    const { region, clusterName } = awsLocationVariables(this);
    const k8sVersion = stackVariable(this, 'kubernetes_version', {
      type: 'string', default: DEFAULT_KUBERNETES_VERSION, nullable: false, description: 'EKS Kubernetes version, in standard support (the cluster\'s upgrade policy is STANDARD: EKS upgrades it when standard support ends instead of billing extended support).',
      validation: [{ condition: '${can(regex("^1\\\\.(3[4-9])$", var.kubernetes_version))}', errorMessage: `kubernetes_version must be a minor version in EKS standard support, 1.34..1.39 like ${DEFAULT_KUBERNETES_VERSION}, received "\${var.kubernetes_version}".` }],
    });
    const vpcCidr = stackVariable(this, 'vpc_cidr', {
      type: 'string', default: '10.42.0.0/16', nullable: false, description: 'VPC CIDR (/16../20): private /19s per AZ, public /24s for NAT only.',
      validation: [{ condition: '${can(cidrhost(var.vpc_cidr, 0)) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20, false)}', errorMessage: 'vpc_cidr must be an IPv4 CIDR with a prefix /16../20, received "${var.vpc_cidr}".' }],
    });
    const admins = stackVariable(this, 'cluster_admin_role_arns', {
      type: 'list(string)', default: [], nullable: false, description: 'IAM roles given cluster-admin through EKS access entries (besides the identity running Terraform while cluster_creator_admin is true).',
      validation: [{ condition: '${alltrue([for a in var.cluster_admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])}', errorMessage: 'cluster_admin_role_arns must hold IAM role ARNs (arn:aws:iam::<12 digits>:role/<name>).' }],
    });
    const instanceTypes = stackVariable(this, 'node_instance_types', {
      type: 'list(string)', default: ['m7i.xlarge'], nullable: false, description: 'EC2 instance types of the node groups.',
      validation: [{ condition: '${length(var.node_instance_types) >= 1}', errorMessage: 'node_instance_types must name at least one instance type.' }],
    });
    const stage = stackVariable(this, 'cloudhsm_stage', {
      type: 'string', default: 'CLUSTER', nullable: false,
      description: `How far the HSM ceremony has come: ${HSM_STAGES.join(' -> ')} (docs/infrastructure.md).`,
      validation: [{ condition: `\${contains(${JSON.stringify(HSM_STAGES)}, var.cloudhsm_stage)}`, errorMessage: `cloudhsm_stage must be one of ${HSM_STAGES.join(', ')}, received "\${var.cloudhsm_stage}".` }],
    });
    // Terraform 1.11 prints a variable's value when its validation fails, sensitive or not (tested in
    // test/infra/terraform-validation.test.ts): the only check here is that it is set, so a failure shows null. KMS checks
    // the length (7..32) when it connects the key store, without echoing it.
    const password = stackVariable(this, 'custom_key_store_password', {
      type: 'string', default: null, nullable: true, sensitive: true,
      description: 'Password of the kmsuser crypto user in the CloudHSM cluster (7..32 characters; KMS custom key store). Sensitive: pass it with TF_VAR_custom_key_store_password.',
      validation: [{
        condition: '${var.cloudhsm_stage == "CLUSTER" || var.custom_key_store_password != null}',
        errorMessage: 'custom_key_store_password must be set (the kmsuser password, 7..32 characters) once cloudhsm_stage is KEY_STORE or KEYS.',
      }],
    });
    const trustAnchor = stackVariable(this, 'hsm_trust_anchor_certificate', {
      type: 'string', default: null, nullable: true, description: 'PEM of the CA certificate that signed the CloudHSM cluster CSR.',
      validation: [{ condition: '${var.cloudhsm_stage == "CLUSTER" || can(regex("^-----BEGIN CERTIFICATE-----", trimspace(var.hsm_trust_anchor_certificate)))}', errorMessage: 'hsm_trust_anchor_certificate must be a PEM certificate once cloudhsm_stage is KEY_STORE or KEYS.' }],
    });
    const retention = retentionVariables(this);
    const creatorAdmin = stackVariable(this, 'cluster_creator_admin', {
      type: 'bool', default: true, nullable: false,
      description: 'Give the IAM identity running Terraform cluster-admin through an access entry, so the same identity can apply cloud-platform and cloud-runtime.',
      validation: [{ condition: '${var.cluster_creator_admin || length(var.cluster_admin_role_arns) > 0}', errorMessage: 'cluster_creator_admin=false needs at least one role in cluster_admin_role_arns: otherwise nobody can administer the cluster.' }],
    });
    const deployerCidrs = stackVariable(this, 'deployer_cidrs', {
      type: 'list(string)', default: [], nullable: false,
      description: 'CIDRs allowed to the private API endpoint on 443: the subnet of the in-VPC runner (or the VPN) that applies cloud-platform and cloud-runtime (docs/deploy.md).',
      validation: [{ condition: '${alltrue([for c in var.deployer_cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"])}', errorMessage: 'deployer_cidrs must hold IPv4 CIDRs other than 0.0.0.0/0.' }],
    });
    // Read by routeToPlant below through its expressions (a null object has no attributes to take tokens of).
    stackVariable(this, 'plant_network', {
      type: 'object({cidr = string, transit_gateway_id = string})', default: null, nullable: true,
      description: 'The plant network the Industrial Agent reaches (same CIDR as the runtime stack\'s plant.network_cidr) and the transit gateway that connects it to this VPC (Site-to-Site VPN or Direct Connect on the site\'s side). Null: no route (the agents then cannot reach a PLC).',
      validation: [{ condition: '${var.plant_network == null || (can(cidrnetmask(try(var.plant_network.cidr, ""))) && can(regex("^tgw-[0-9a-f]{8,17}$", try(var.plant_network.transit_gateway_id, ""))))}', errorMessage: 'plant_network needs cidr (an IPv4 CIDR) and transit_gateway_id (tgw-...).' }],
    });
    const logRetention = stackVariable(this, 'log_retention_days', {
      // Five years by default, the keeping period the Machinery Regulation asks of records of interventions; lower it for
      // test accounts (a visible choice in the plan).
      type: 'number', default: 1827, nullable: false,
      description: 'Retention of the EKS control-plane log group and the VPC flow logs, days (a CloudWatch Logs retention value). Default 1827: five years; lower it for non-production accounts.',
      validation: [{ condition: `\${contains(${JSON.stringify(LOG_RETENTION_DAYS)}, var.log_retention_days)}`, errorMessage: `log_retention_days must be one of CloudWatch's retention values (${LOG_RETENTION_DAYS.join(', ')}), received \${var.log_retention_days}.` }],
    });

    new AwsProvider(this, 'aws', { region, defaultTags: [{ tags: { 'app.kubernetes.io/part-of': 'glimmer', 'glimmer.io/stack': id } }] });
    const caller = new DataAwsCallerIdentity(this, 'caller');
    const partition = new DataAwsPartition(this, 'partition');
    const arnPrefix = `arn:${partition.partition}`;
    const accountRoot = Token.asString(Fn.format('arn:%s:iam::%s:root', [partition.partition, caller.accountId]));

    const network = new Network(this, 'network', {
      cidr: vpcCidr.stringValue,
      region,
      azCount: AZ_COUNT,
      privateSubnetTags: { [KARPENTER_DISCOVERY_TAG]: clusterName },
    });
    const hsm = new HsmCluster(this, 'hsm', { subnetIds: network.privateSubnetIds.slice(0, 2) });
    const addonIdentities = new ClusterAddonIdentities(this, 'addon-identities', { clusterName, partitionArnPrefix: arnPrefix });

    const auditBucketName = cloudNames.auditBucket(clusterName, caller.accountId);
    const auditBucketArn = `${arnPrefix}:s3:::${auditBucketName}`;
    const model = zoneModelOf(inputs.config, 0);
    const identity = new RuntimePodIdentity(this, 'runtime-identity', { auditBucketArn });
    const clusterRole = new EksClusterRole(this, 'eks-cluster-role', { partitionArnPrefix: arnPrefix });
    const platformKey = new PlatformKey(this, 'platform-key', {
      accountRootArn: accountRoot,
      aliasName: cloudNames.platformKeyAlias(clusterName),
      eksClusterRoleArn: clusterRole.role.arn,
      s3WriterRoleArns: [identity.role.arn],
      // The Auto Scaling service-linked role launches the nodes; it exists once per account (docs/infrastructure.md).
      // Karpenter launches its nodes itself (EC2 Fleet), with its controller role.
      ebsLaunchRoleArns: [
        Token.asString(Fn.format('arn:%s:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling', [partition.partition, caller.accountId])),
        addonIdentities.karpenterControllerRole.arn,
        // The EBS CSI driver creates the agents' encrypted state volumes.
        addonIdentities.ebsCsiRole.arn,
      ],
      region,
      logsAndEvents: { accountId: caller.accountId },
    });
    const signing = new AuditSigningKey(this, 'audit-signing-key', {
      accountRootArn: accountRoot,
      signerRoleArn: identity.role.arn,
      activeSpec: topo.signingKeySpec,
      aliasName: cloudNames.signingKeyAlias(clusterName),
      cosignerAliasName: cloudNames.cosigningKeyAlias(clusterName),
    });
    identity.allowSigningWith([signing.key.arn, signing.mlDsaKey.arn, signing.cosignerKey.arn]);
    const dataKeys = new HsmKeyStore(this, 'hsm-keys', {
      accountRootArn: accountRoot,
      cloudHsmClusterId: hsm.cluster.clusterId,
      keyStorePassword: password.stringValue,
      trustAnchorCertificate: trustAnchor.stringValue,
      stage: stage.stringValue,
      consumerRoleArn: identity.role.arn,
      workload: { clusterName, namespaces: [...new Set(model.agents.map((a) => a.zone))], serviceAccounts: model.agents.map((a) => a.name) },
      enforceAttestation: topo.enclaveAttestation,
      attestationImageSha384: topo.pcrPolicyHash,
      aliasName: topo.rootKeyAlias,
      keyStoreName: `${clusterName}-hsm`,
      dependsOn: hsm.hsms,
    });
    const eks = new EksCluster(this, 'eks', {
      name: clusterName,
      clusterRole,
      kubernetesVersion: k8sVersion.stringValue,
      subnetIds: network.privateSubnetIds,
      secretsKmsKeyArn: platformKey.key.arn,
      adminRoleArns: Token.asString(admins.listValue),
      partitionArnPrefix: arnPrefix,
      creatorAdmin: Token.asString(creatorAdmin.value),
      deployerCidrs: Token.asString(deployerCidrs.listValue),
      logRetentionDays: logRetention.numberValue,
    });
    addonIdentities.attach(eks.cluster.name, eks.cluster.vpcConfig.clusterSecurityGroupId, eks.beforeComputeAddons, platformKey.key.arn);
    network.flowLogs(logRetention.numberValue, platformKey.key.arn);
    network.routeToPlant(Token.asNumber('${var.plant_network == null ? 0 : 1}'), '${try(var.plant_network.cidr, "")}', '${try(var.plant_network.transit_gateway_id, "")}');
    identity.associate(eks.cluster.name, model.agents.map((a) => ({ namespace: a.zone, name: a.name })));

    const nodes = new SystemNodeGroups(this, 'nodes', {
      clusterName: eks.cluster.name,
      subnetIds: network.privateSubnetIds,
      minSize: Token.asNumber(topo.scaling('min_size')),
      maxSize: Token.asNumber(topo.scaling('max_size')),
      instanceTypes: instanceTypes.listValue,
      volumeKmsKeyArn: platformKey.key.arn,
      dependsOn: eks.beforeComputeAddons,
      partitionArnPrefix: arnPrefix,
    });
    addonIdentities.ebsCsiDriver(eks.cluster.name, nodes.nodeGroups);
    const bucket = new AuditBucket(this, 'audit-bucket', { bucketName: auditBucketName, kmsKeyArn: platformKey.key.arn, retentionDays: retention.days.numberValue, mode: retention.mode.stringValue as 'COMPLIANCE' });
    const repo = new ImageRepository(this, 'image-repository', { name: cloudNames.repository(clusterName), kmsKeyArn: platformKey.key.arn });

    const out = (name: string, value: unknown, description: string) => stackOutput(this, name, value, description);
    out('cluster_name', eks.cluster.name, 'EKS cluster name.');
    out('cluster_endpoint', eks.cluster.endpoint, 'EKS API endpoint (private unless opted in).');
    out('vpc_id', network.vpc.id, 'VPC id.');
    out('private_subnet_ids', network.privateSubnetIds, 'Private subnet ids, one per AZ.');
    out('hsm_cluster_id', hsm.cluster.clusterId, 'CloudHSM cluster id.');
    // Read back after the HSMs exist: the cluster resource's own attribute is empty until a refresh (the CSR appears
    // once the first HSM is created, after the cluster resource was last read).
    const hsmState = new DataAwsCloudhsmV2Cluster(this, 'hsm-state', { clusterId: hsm.cluster.clusterId, dependsOn: hsm.hsms });
    out('hsm_cluster_csr', hsmState.clusterCertificates.get(0).clusterCsr, 'The cluster CSR to sign with your CA during initialisation (docs/deploy.md).');
    out('hsm_cluster_state', hsmState.clusterState, 'CloudHSM cluster state: UNINITIALIZED until the CSR is signed, INITIALIZED, then ACTIVE after activation.');
    out('custom_key_store_id', dataKeys.keyStoreId, 'KMS custom key store id (null before cloudhsm_stage KEY_STORE).');
    out('data_key_arn', dataKeys.dataKeyArn, 'ARN of the HSM-backed data key (null before cloudhsm_stage KEYS).');
    out('platform_key_arn', platformKey.key.arn, 'ARN of the platform key (EKS secrets, audit bucket, ECR).');
    out('signing_key_arn', signing.key.arn, 'ARN of the audit checkpoint signing key (ECC_NIST_P384; the alias may point at the ML_DSA_65 one).');
    out('cosigning_key_arn', signing.cosignerKey.arn, 'ARN of the ML_DSA_44 checkpoint cosigner key.');
    out('audit_bucket', bucket.bucket.bucket, 'S3 bucket of sealed audit segments (Object Lock COMPLIANCE).');
    out('ecr_repository_url', repo.repository.repositoryUrl, 'Push the image built from deploy/Dockerfile here; deploy it by digest (runtime_image).');
    out('runtime_role_arn', identity.role.arn, 'IAM role of the runtime pods (EKS Pod Identity).');
    out('node_group_names', nodes.nodeGroups.map((g) => g.nodeGroupName), 'Managed node groups (the floor), one per AZ.');
    out('karpenter_node_role', addonIdentities.karpenterNodeRole.name, 'IAM role of the nodes Karpenter launches.');
  }
}

/** Availability zones of the VPC (one private subnet and one system node group each). */
export const AZ_COUNT = 3;
/** CloudWatch Logs' allowed retention values, days. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
