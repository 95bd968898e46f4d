/**
 * `edge-runtime` / `cloud-runtime`: Istio's zero-trust CRs (STRICT mTLS, default deny, one ALLOW per conduit), then the
 * agents: per zone the runtime ConfigMaps, per agent ServiceAccount, Deployment, Service, HPA and PDB, and the
 * Prometheus Operator objects. The runtime config carries the topology variables, so the runtime enforces the same
 * zone model as the mesh and the NetworkPolicies.
 */
import type { Construct } from 'constructs';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { AgentWorkload, a2aUrl } from '../modules/agent-workload';
import { safetyLevelShortfall, shortfallMessage, STARTS_HELD_ANNOTATION } from '../runtime/model/zones';
import { escapeDeep, k8sObject } from '../modules/k8s';
import { MeshPolicies } from '../modules/mesh-policies';
import { RuntimeConfigMaps } from '../modules/runtime-config-maps';
import { RuntimeMonitoring } from '../modules/runtime-monitoring';
import { Fn, TerraformStack, Token, type TerraformVariable } from '../modules/tf';
import { externalPlantConfig, plantCredentialsMount, plantEgress, plantFileSet, plantVariable } from './plant';
import type { TopologyVariables } from '../modules/topology-variables';
import { A2A_PORT, API_MTLS_PORT, API_PORT } from '../modules/zone-model';
import { cloudNames } from './cloud-stack';
import { configureBackend, runtimeImageVariable, stackOutput as output, type BackendOptions } from './common';
import type { StackInputs } from './inputs';
import { kubernetesStackBase, type TopologyName } from './platform-stack';

export interface RuntimeStackOptions {
  /** Create ServiceMonitor/PrometheusRule (needs the Prometheus Operator CRDs). @default true */
  readonly prometheusOperator?: boolean;
}

/**
 * glimmer.yml for the pods: the repository's config with the topology variables, an in-pod API address, and the real
 * plant of the `plant` variable (plant.mode external: no pod starts the simulated plant).
 */
export function runtimeConfigDocument(inputs: StackInputs, topo: TopologyVariables, plant: TerraformVariable): string {
  const raw = escapeDeep(inputs.rawConfig) as Record<string, unknown>;
  return Fn.jsonencode({
    ...raw,
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
  constructor(scope: Construct, id: string, topology: TopologyName, inputs: StackInputs, backend: BackendOptions = {}, options: RuntimeStackOptions = {}) {
    super(scope, id);
    configureBackend(this, id, backend);
    const { topo, model, aws } = kubernetesStackBase(this, topology, inputs);
    const image = runtimeImageVariable(this);
    const plant = plantVariable(this);

    const mesh = new MeshPolicies(this, 'mesh-policies', {
      zones: model.zones,
      conduits: model.conduits,
      trustDomain: model.trustDomain,
      controlZoneNamespace: topo.controlZoneNamespace,
    });

    const env: Record<string, string> = {
      GLIMMER_ENFORCE_MEASURED_BOOT: Fn.tostring(topo.enforceMeasuredBoot),
      GLIMMER_PCR_POLICY_HASH: topo.pcrPolicyHash,
      GLIMMER_MESH_COMPLIANCE_POLICY: topo.compliancePolicy,
    };
    if (aws) {
      const caller = new DataAwsCallerIdentity(this, 'caller');
      Object.assign(env, {
        AWS_REGION: aws.region,
        GLIMMER_AUDIT_SIGNING_KEY: `alias/${cloudNames.signingKeyAlias(aws.clusterName)}`,
        GLIMMER_AUDIT_BUCKET: cloudNames.auditBucket(aws.clusterName, caller.accountId),
        GLIMMER_DATA_KEY: topo.rootKeyAlias,
      });
    }

    const glimmerYml = runtimeConfigDocument(inputs, topo, plant);
    const agentZones = [...new Set(model.agents.map((a) => a.zone))];
    const configMaps = new Map(agentZones.map((zone) => [zone, new RuntimeConfigMaps(this, `config-${zone}`, {
      namespace: zone,
      glimmerYml,
      cognitiveYml: inputs.cognitiveYml,
      fileSets: [...inputs.fileSets, plantFileSet(plant)],
    })]));
    for (const agent of model.agents) {
      const maps = configMaps.get(agent.zone) as RuntimeConfigMaps;
      // Only the Industrial Agent talks to the plant (its pod runs the zone gateway and the OPC UA session).
      const egress = agent.kind === 'industrial' ? plantEgress(plant, agent) : undefined;
      if (egress) k8sObject(this, `plant-egress-${agent.name}`, egress.policy, { dependsOn: mesh.objects });
      new AgentWorkload(this, `agent-${agent.name}`, {
        agent,
        image: image.stringValue,
        configMaps: maps.mounts,
        zoneNodeAffinity: topology === 'edge',
        secrets: egress ? [plantCredentialsMount(plant)] : [],
        podAnnotations: { ...(egress?.podAnnotations ?? {}), ...heldAnnotation(inputs, agent.name) },
        // Measured boot checks the mounted config against this pin (no release manifest can list a ConfigMap).
        env: { ...env, GLIMMER_CONFIG_SHA256: maps.configPins },
        dependsOn: [...maps.objects, ...mesh.objects],
      });
    }
    if (options.prometheusOperator ?? true) {
      new RuntimeMonitoring(this, 'monitoring', { namespaces: agentZones, ruleGroups: inputs.ruleGroups });
    }
    output(this, 'agents', Object.fromEntries(model.agents.map((a) => [a.name, a.zone])), 'Agent -> zone namespace.');
    output(this, 'runtime_image', Token.asString(image.stringValue), 'The image the agents run.');
  }
}
