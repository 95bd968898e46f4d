/**
 * `edge-runtime` / `cloud-runtime`: Istio's zero-trust CRs (STRICT mTLS, default deny, one ALLOW per conduit), the
 * way out to KMS and S3 (ServiceEntries, egress NetworkPolicies), then the agents: per zone the runtime ConfigMaps, per
 * agent ServiceAccount, StatefulSet with its state volume, Service, PDB (and an HPA where the kind scales), and the
 * Prometheus Operator objects when `prometheus_operator = "existing"`. The pods get the names of the signing key, the
 * Object Lock bucket and the data key (docs/deploy.md lists the environment). The runtime config carries the topology variables, so the runtime enforces the same
 * zone model as the mesh and the NetworkPolicies.
 */
import type { Construct } from 'constructs';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { AgentWorkload, a2aUrl } from '../modules/agent-workload';
import { safetyLevelShortfall, shortfallMessage, STARTS_HELD_ANNOTATION } from '../runtime/model/zones';
import { escapeDeep, k8sObject } from '../modules/k8s';
import { MeshPolicies } from '../modules/mesh-policies';
import { RuntimeConfigMaps } from '../modules/runtime-config-maps';
import { RuntimeMonitoring } from '../modules/runtime-monitoring';
import { AwsApiEgress, EXCLUDE_OUTBOUND } from '../modules/aws-api-egress';
import { Fn, Op, TerraformStack, Token, type TerraformVariable } from '../modules/tf';
import { cloudAuditStore, edgeAuditStore } from './audit-store';
import { AZ_COUNT, cloudNames } from './cloud-stack';
import { karpenterNames, STATE_STORAGE_CLASS } from '../modules/cluster-addons';
import { KarpenterNodePool } from '../modules/karpenter-node-pool';
import { externalPlantConfig, plantCredentialsMount, plantEgress, plantFileSet, plantVariable } from './plant';
import { NODE_TPM_TCTI, TPM_DEVICE_RESOURCE, type TopologyVariables } from '../modules/topology-variables';
import type { FileSet } from '../modules/runtime-config-maps';
import { A2A_PORT, API_MTLS_PORT, API_PORT } from '../modules/zone-model';
import { configureBackend, prometheusOperatorVariable, runtimeImageVariable, stackVariable, stackOutput as output, type BackendOptions } from './common';
import { RULES_MOUNT, type StackInputs } from './inputs';
import { a2aZonesOf, kubernetesStackBase, type TopologyName } from './platform-stack';

/** Where the agent pods find the TPM manufacturers' EK CA certificates (ConfigMap glimmer-tpm). */
export const TPM_MOUNT = '/etc/glimmer/tpm';
export const EK_CA_FILE = 'ek-ca.pem';

/** ConfigMap glimmer-tpm: `tpm_attestation.ek_ca_pem` (public certificates; empty while node_tpm is off). */
function tpmFileSet(topo: TopologyVariables): FileSet {
  return { name: 'glimmer-tpm', mountPath: TPM_MOUNT, files: { [EK_CA_FILE]: topo.ekCaPem } };
}

/**
 * glimmer.yml for the pods: the repository's config with the topology variables, an in-pod API address, and the real
 * plant of the `plant` variable (plant.mode external: no pod starts the simulated plant). With `nodeTpm` (the edge),
 * `attestation` follows tpm_attestation.node_tpm: tpm on the node's device, else none.
 */
export function runtimeConfigDocument(inputs: StackInputs, topo: TopologyVariables, plant: TerraformVariable, options: { nodeTpm?: boolean } = {}): string {
  const raw = escapeDeep(inputs.rawConfig) as Record<string, unknown>;
  return Fn.jsonencode({
    ...raw,
    ...(options.nodeTpm ? { attestation: Fn.conditional(topo.nodeTpm, { mode: 'tpm', tcti: NODE_TPM_TCTI, ek_ca_file: `${TPM_MOUNT}/${EK_CA_FILE}` }, { mode: 'none' }) } : {}),
    plant: externalPlantConfig(inputs.config, plant),
    topology: {
      deployment_model: topo.deploymentModel.stringValue,
      control_zone: topo.controlZone.stringValue,
      safety_zone_level: topo.safetyZoneLevel.numberValue,
      trust_domain: inputs.config.topology.trust_domain,
    },
    api: { host: '0.0.0.0', port: API_PORT, mtls_port: API_MTLS_PORT },
    // Agents in other pods are reached through their Services; each pod's own agent listens on every interface.
    a2a: {
      host: '0.0.0.0',
      port: A2A_PORT,
      peers: Object.fromEntries(inputs.config.agents.flatMap((a) => {
        const url = a2aUrl(a);
        return url === undefined ? [] : [[a.name, url]];
      })),
    },
    cognitive_config: 'cognitive.yml',
  });
}

/** Where every agent pod finds the mesh-independent trust anchor of the agents' own mTLS (A2A, API): ca.crt, ca.key. */
export const TRUST_CA_MOUNT = '/etc/glimmer/trust';

/**
 * `trust_ca_secret`: the Secret (operator-created, never in Terraform state) holding the agents' shared CA, so an agent
 * in one pod trusts the certificates of agents in others. The pods wait for it.
 */
function trustCaSecretVariable(scope: Construct): TerraformVariable {
  return stackVariable(scope, 'trust_ca_secret', {
    type: 'string', default: 'glimmer-trust-ca', nullable: false,
    description: 'Secret in every agent namespace with ca.crt and ca.key: the agents\' shared CA for their own mTLS (A2A, the API), mounted at /etc/glimmer/trust (GLIMMER_TRUST_CA_DIR). Created by the operator (docs/deploy.md).',
    validation: [{ condition: '${can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.trust_ca_secret))}', errorMessage: 'trust_ca_secret must be a Kubernetes Secret name, received "${var.trust_ca_secret}".' }],
  });
}

/** scaling_policy read as Karpenter's consolidation: AI_PREDICTIVE_2023 also replaces underused nodes. */
const CONSOLIDATION_POLICY = '${var.cluster_autoscaling.scaling_policy == "AI_PREDICTIVE_2023" ? "WhenEmptyOrUnderutilized" : "WhenEmpty"}';

/**
 * An agent whose required level exceeds its zone's deploys like any other and starts held by its pod's supervisor (the
 * runtime's own verdict); the annotation says so where `kubectl describe` shows it.
 */
function heldAnnotation(inputs: StackInputs, agent: string): Record<string, string> {
  const spec = inputs.config.agents.find((a) => a.name === agent);
  const shortfall = spec && safetyLevelShortfall(spec, inputs.config.zones);
  return shortfall ? { [STARTS_HELD_ANNOTATION]: shortfallMessage(shortfall) } : {};
}

export class RuntimeStack extends TerraformStack {
  constructor(scope: Construct, id: string, topology: TopologyName, inputs: StackInputs, backend: BackendOptions = {}) {
    super(scope, id);
    configureBackend(this, id, backend);
    const { topo, model, aws } = kubernetesStackBase(this, topology, inputs);
    const image = runtimeImageVariable(this);
    const plant = plantVariable(this);
    const monitoring = prometheusOperatorVariable(this);
    const trustCa = trustCaSecretVariable(this);

    const mesh = new MeshPolicies(this, 'mesh-policies', {
      zones: model.zones,
      conduits: model.conduits,
      trustDomain: model.trustDomain,
      controlZoneNamespace: topo.controlZoneNamespace,
      a2aZones: a2aZonesOf(model.agents),
    });

    // Where the durable signer and store are: named by the cloud stack's conventions, or the edge's audit_store.
    const store = aws ? cloudAuditStore(this, aws, topo.rootKeyAlias) : edgeAuditStore(this);
    const awsApis = new AwsApiEgress(this, 'aws-apis', {
      namespaces: [...new Set(model.agents.map((a) => a.zone))],
      hosts: store.hosts,
      ports: store.ports,
      podIdentityAgent: aws !== undefined,
      dependsOn: mesh.objects,
    });
    const env: Record<string, string> = {
      ...store.env,
      GLIMMER_ENFORCE_MEASURED_BOOT: Fn.tostring(topo.enforceMeasuredBoot),
      GLIMMER_PCR_POLICY_HASH: topo.pcrPolicyHash,
      GLIMMER_TLS_PQ_MODE: topo.pqMode.stringValue,
      GLIMMER_RULES_DIR: RULES_MOUNT,
      GLIMMER_TRUST_CA_DIR: TRUST_CA_MOUNT,
    };

    // Edge nodes may have a TPM 2.0 (tpm_attestation.node_tpm): attestation: tpm, the EK CAs, the device per pod.
    const edge = topology === 'edge';
    const glimmerYml = runtimeConfigDocument(inputs, topo, plant, { nodeTpm: edge });
    const agentZones = [...new Set(model.agents.map((a) => a.zone))];
    const configMaps = new Map(agentZones.map((zone) => [zone, new RuntimeConfigMaps(this, `config-${zone}`, {
      namespace: zone,
      glimmerYml,
      cognitiveYml: inputs.cognitiveYml,
      fileSets: [...inputs.fileSets, plantFileSet(plant), ...(edge ? [tpmFileSet(topo)] : [])],
    })]));
    for (const agent of model.agents) {
      const maps = configMaps.get(agent.zone) as RuntimeConfigMaps;
      // Only the Industrial Agent talks to the plant (its pod runs the zone gateway and the OPC UA session).
      const egress = agent.kind === 'industrial' ? plantEgress(plant, agent) : undefined;
      if (egress) k8sObject<INetworkPolicy>(this, `plant-egress-${agent.name}`, egress.policy, { dependsOn: mesh.objects });
      const excluded = [egress?.podAnnotations[EXCLUDE_OUTBOUND], awsApis.excludeOutboundCidr].filter((v): v is string => v !== undefined);
      new AgentWorkload(this, `agent-${agent.name}`, {
        agent,
        image: image.stringValue,
        configVolumes: maps.volumes,
        zoneNodeAffinity: topology === 'edge',
        // EKS: gp3 encrypted with the platform key, Retain; the edge cluster's default class (k3s: local-path).
        storageClassName: aws ? STATE_STORAGE_CLASS : undefined,
        secrets: [...(egress ? [plantCredentialsMount(plant)] : []), ...store.secrets, { name: 'trust-ca', secretName: trustCa.stringValue, mountPath: TRUST_CA_MOUNT }],
        podAnnotations: { ...(excluded.length > 0 ? { [EXCLUDE_OUTBOUND]: excluded.join(',') } : {}), ...heldAnnotation(inputs, agent.name) },
        // Measured boot checks the mounted config and rules against these pins (no release manifest can list a ConfigMap).
        env: { ...env, GLIMMER_AUDIT_PREFIX: `segments/${agent.name}/`, GLIMMER_CONFIG_SHA256: maps.configPins, GLIMMER_RULES_SHA256: maps.treePins },
        // The supervisor quotes each agent with the node's TPM: the device plugin's resource, never a hostPath.
        ...(edge ? { deviceLimits: { enabled: topo.nodeTpm, limits: { [TPM_DEVICE_RESOURCE]: '1' } } } : {}),
        dependsOn: [...maps.objects, ...mesh.objects, ...awsApis.objects],
      });
    }
    if (aws) {
      new KarpenterNodePool(this, 'karpenter', {
        clusterName: aws.clusterName,
        nodeRoleName: karpenterNames.nodeRole(aws.clusterName),
        // max_size is the cluster's ceiling: Karpenter's share is what the managed groups' floor leaves.
        maxNodes: (`\${max(var.cluster_autoscaling.max_size - ceil(var.cluster_autoscaling.min_size / ${AZ_COUNT}) * ${AZ_COUNT}, 0)}`),
        consolidationPolicy: CONSOLIDATION_POLICY,
        consolidateAfter: '${var.cluster_autoscaling.scaling_policy == "NONE" ? "Never" : var.cluster_autoscaling.metrics_window}',
        volumeKmsKeyId: `alias/${cloudNames.platformKeyAlias(aws.clusterName)}`,
      });
    }
    new RuntimeMonitoring(this, 'monitoring', { namespaces: agentZones, ruleGroups: inputs.ruleGroups, enabled: Token.asNumber(Fn.conditional(Op.eq(monitoring.stringValue, 'existing'), 1, 0)) });
    output(this, 'agents', Object.fromEntries(model.agents.map((a) => [a.name, a.zone])), 'Agent -> zone namespace.');
    output(this, 'runtime_image', Token.asString(image.stringValue), 'The image the agents run.');
  }
}
