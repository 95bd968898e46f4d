/**
 * `edge` / `cloud-platform`: the zone namespaces (ISA-95 level, IEC 62443 SL, Pod Security restricted), the
 * NetworkPolicies of the zone model, and Istio from Helm. Istio's CRs come in the runtime stack, planned after this
 * one has installed the CRDs.
 */
import type { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { ClusterAccess } from '../modules/cluster-access';
import { IstioMesh } from '../modules/istio-mesh';
import { TerraformStack } from '../modules/tf';
import { TopologyVariables } from '../modules/topology-variables';
import { ZoneNamespaces } from '../modules/zone-namespaces';
import { ZoneNetworkPolicies } from '../modules/zone-network-policies';
import { awsLocationVariables } from './cloud-stack';
import { configureBackend, stackOutput as output, stackVariable, type BackendOptions } from './common';
import { zoneModelOf, type StackInputs } from './inputs';

export type TopologyName = 'edge' | 'cloud';

/** Variables, providers and cluster access every Kubernetes stack of a topology shares. */
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
    new ClusterAccess(stack, 'cluster', { mode: 'eks', clusterName: aws.clusterName });
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

export class PlatformStack extends TerraformStack {
  constructor(scope: Construct, id: string, topology: TopologyName, inputs: StackInputs, backend: BackendOptions = {}) {
    super(scope, id);
    configureBackend(this, id, backend);
    const { topo, model } = kubernetesStackBase(this, topology, inputs);
    const namespaces = new ZoneNamespaces(this, 'zones', { zones: model.zones });
    const mesh = new IstioMesh(this, 'istio', {
      version: topo.istioVersion,
      compliancePolicy: topo.compliancePolicy,
      trustDomain: model.trustDomain,
      gatewayServiceType: topology === 'cloud' ? 'LoadBalancer' : 'NodePort',
      gatewayServiceAnnotations: topology === 'cloud'
        ? { 'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internal', 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' }
        : {},
    });
    new ZoneNetworkPolicies(this, 'network-policies', {
      zones: model.zones,
      conduits: model.conduits,
      controlZoneNamespace: topo.controlZoneNamespace,
      dependsOn: [...namespaces.namespaces.values(), ...mesh.namespaces],
    });
    output(this, 'zone_namespaces', model.zones.map((z) => z.name), 'One namespace per IEC 62443 zone.');
    output(this, 'istio_version', topo.istioVersion, 'Istio chart version installed.');
    output(this, 'compliance_policy', topo.compliancePolicy, 'Istio COMPLIANCE_POLICY (pqc: X25519MLKEM768, i.e. ML-KEM-768; or fips-140-2).');
  }
}
