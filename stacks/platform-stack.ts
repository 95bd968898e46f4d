/**
 * `edge` / `cloud-platform`: the zone namespaces (ISA-95 level, IEC 62443 SL, Pod Security restricted), the
 * NetworkPolicies of the zone model, and Istio from Helm. Istio's CRs come in the runtime stack, planned after this
 * one has installed the CRDs.
 */
import type { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { KIND_PORTS } from '../modules/agent-workload';
import { ClusterAccess } from '../modules/cluster-access';
import type { AgentSpec } from '../modules/zone-model';
import { ClusterAddons, AWS_NLB_CLASS, GATEWAY_NLB_ANNOTATIONS } from '../modules/cluster-addons';
import { ISTIO_PLATFORMS, IstioMesh } from '../modules/istio-mesh';
import { TerraformStack, type TerraformVariable } from '../modules/tf';
import { TopologyVariables } from '../modules/topology-variables';
import { ZoneNamespaces } from '../modules/zone-namespaces';
import { ZoneNetworkPolicies } from '../modules/zone-network-policies';
import { awsLocationVariables, cloudNames } from './cloud-stack';
import { configureBackend, stackOutput as output, stackVariable, type BackendOptions } from './common';
import { zoneModelOf, type StackInputs } from './inputs';

export type TopologyName = 'edge' | 'cloud';

/** Variables, providers and cluster access every Kubernetes stack of a topology shares. */
/** The zones where some agent serves A2A (its kind's ports include tls-a2a). */
export function a2aZonesOf(agents: readonly AgentSpec[]): string[] {
  return [...new Set(agents.filter((a) => KIND_PORTS[a.kind]['tls-a2a'] !== undefined).map((a) => a.zone))];
}

export function kubernetesStackBase(stack: TerraformStack, topology: TopologyName, inputs: StackInputs) {
  const topo = new TopologyVariables(stack, 'topology', {
    deploymentModel: topology === 'cloud' ? 'HYPERSCALE' : 'ISA95_ZONED',
    zones: zoneModelOf(inputs.config, 0).zones,
    defaultControlZone: inputs.config.topology.control_zone,
    defaultSafetyZoneLevel: inputs.config.topology.safety_zone_level,
  });
  const model = zoneModelOf(inputs.config, topo.safetyZoneLevel.numberValue);
  let aws: { region: string; clusterName: string } | undefined;
  if (topology === 'cloud') {
    aws = awsLocationVariables(stack);
    new AwsProvider(stack, 'aws', { region: aws.region });
    new ClusterAccess(stack, 'cluster', { mode: 'eks', clusterName: aws.clusterName, region: aws.region });
  } else {
    const path = stackVariable(stack, 'kubeconfig_path', {
      type: 'string', default: '~/.kube/config', nullable: false, description: 'kubeconfig of the existing edge cluster.',
      validation: [{ condition: '${length(trimspace(var.kubeconfig_path)) > 0}', errorMessage: 'kubeconfig_path must not be empty.' }],
    });
    const context = stackVariable(stack, 'kubeconfig_context', {
      type: 'string', default: null, nullable: true, description: 'Context in the kubeconfig; null: its current context.',
    });
    new ClusterAccess(stack, 'cluster', { mode: 'kubeconfig', configPath: path.stringValue, configContext: context.stringValue });
  }
  return { topo, model, aws };
}

/** `istio_platform` (edge): the Istio charts' global.platform; k3s keeps its CNI configuration in its own paths. */
export function istioPlatformVariable(scope: TerraformStack): TerraformVariable {
  return stackVariable(scope, 'istio_platform', {
    type: 'string', default: '', nullable: false,
    description: `global.platform of the Istio CNI chart: "" (upstream Kubernetes) or ${ISTIO_PLATFORMS.filter((p) => p).join(', ')}. Set k3s on k3s, or the CNI writes its config where k3s never reads it and pods get no redirection.`,
    validation: [{ condition: `\${contains(${JSON.stringify(ISTIO_PLATFORMS)}, var.istio_platform)}`, errorMessage: `istio_platform must be one of ${ISTIO_PLATFORMS.map((p) => JSON.stringify(p)).join(', ')}, received "\${var.istio_platform}".` }],
  });
}

export class PlatformStack extends TerraformStack {
  constructor(scope: Construct, id: string, topology: TopologyName, inputs: StackInputs, backend: BackendOptions = {}) {
    super(scope, id);
    configureBackend(this, id, backend);
    const { topo, model, aws } = kubernetesStackBase(this, topology, inputs);
    const namespaces = new ZoneNamespaces(this, 'zones', { zones: model.zones });
    const addons = aws ? new ClusterAddons(this, 'addons', { clusterName: aws.clusterName, region: aws.region, volumeKmsKeyAlias: `alias/${cloudNames.platformKeyAlias(aws.clusterName)}` }) : undefined;
    const platform = topology === 'edge' ? istioPlatformVariable(this).stringValue : 'eks';
    const mesh = new IstioMesh(this, 'istio', {
      version: topo.istioVersion,
      compliancePolicy: topo.compliancePolicy,
      tlsEcdhCurves: topo.tlsEcdhCurves,
      trustDomain: model.trustDomain,
      platform,
      gatewayServiceType: topology === 'cloud' ? 'LoadBalancer' : 'NodePort',
      // The AWS Load Balancer Controller's annotations and class (the in-tree controller ignores the Service): an
      // internal NLB with IP targets, never internet-facing.
      gatewayServiceAnnotations: topology === 'cloud' ? GATEWAY_NLB_ANNOTATIONS : {},
      gatewayLoadBalancerClass: topology === 'cloud' ? AWS_NLB_CLASS : undefined,
      dependsOn: addons ? [addons.loadBalancerController] : [],
    });
    new ZoneNetworkPolicies(this, 'network-policies', {
      zones: model.zones,
      conduits: model.conduits,
      controlZoneNamespace: topo.controlZoneNamespace,
      a2aZones: a2aZonesOf(model.agents),
      dependsOn: [...namespaces.namespaces.values(), ...mesh.namespaces],
    });
    output(this, 'zone_namespaces', model.zones.map((z) => z.name), 'One namespace per IEC 62443 zone.');
    output(this, 'istio_version', topo.istioVersion, 'Istio chart version installed.');
    output(this, 'compliance_policy', topo.compliancePolicy, 'Istio COMPLIANCE_POLICY from pq_mode: pqc (X25519MLKEM768 only), fips-140-2, or empty (hybrid-preferred: tlsDefaults.ecdhCurves).');
  }
}
