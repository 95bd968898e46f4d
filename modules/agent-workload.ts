/**
 * One agent of the swarm in its zone's namespace: ServiceAccount (no token automount; EKS Pod Identity injects its
 * own), Deployment with a hardened pod (non-root, read-only root filesystem, seccomp RuntimeDefault, all capabilities
 * dropped, no privilege escalation), Service, HorizontalPodAutoscaler and PodDisruptionBudget.
 */
import { Construct } from 'constructs';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import { k8sObject } from './k8s';
import type { MountedConfigMap } from './runtime-config-maps';
import type { ITerraformDependable } from './tf';
import { checkInt, checkPattern, DNS_LABEL, invalidProp } from './validate';
import { A2A_PORT, API_MTLS_PORT, API_PORT, ISTIO_METRICS_PORT, LABELS, MODBUS_PORT, OPCUA_PORT, type AgentSpec } from './zone-model';

/**
 * The ports each agent kind serves (name -> port); names carry Istio's protocol prefixes. Every kind serves A2A:
 * safety orders reach any agent there (runtime/agents/safety-orders.ts), and shutdowns and snapshots the others.
 */
export const KIND_PORTS: Readonly<Record<AgentSpec['kind'], Readonly<Record<string, number>>>> = {
  industrial: { 'http-api': API_PORT, 'tls-mtls-api': API_MTLS_PORT, 'tls-a2a': A2A_PORT, 'tcp-modbus': MODBUS_PORT, 'tcp-opcua': OPCUA_PORT },
  cognitive: { 'http-api': API_PORT, 'tls-mtls-api': API_MTLS_PORT, 'tls-a2a': A2A_PORT },
  // Data agents take safety orders (their supervisor holds them) on A2A like the other kinds.
  data: { 'http-api': API_PORT, 'tls-mtls-api': API_MTLS_PORT, 'tls-a2a': A2A_PORT },
};
export const RUNTIME_UID = 65532;

/**
 * HPA bounds per kind. The industrial agent (the plant's one observer, shutdown executor and zone gateway) and the
 * cognitive agent (its model window needs every snapshot, once and in order, behind one Service) hold per-plant state,
 * so they run one replica each: two would split or duplicate the snapshot stream. The data agent is stateless.
 */
export const KIND_REPLICAS: Readonly<Record<AgentSpec['kind'], { readonly min: number; readonly max: number }>> = {
  industrial: { min: 1, max: 1 },
  cognitive: { min: 1, max: 1 },
  data: { min: 2, max: 6 },
};

/** Where the other pods reach an agent's A2A endpoint (its Service), or undefined when its kind serves none. */
export function a2aUrl(agent: Pick<AgentSpec, 'name' | 'zone' | 'kind'>): string | undefined {
  return KIND_PORTS[agent.kind]?.['tls-a2a'] === undefined ? undefined : `https://${agent.name}.${agent.zone}.svc:${A2A_PORT}`;
}

/** A Secret the operator creates (never in Terraform state), mounted read-only. */
export interface SecretMount {
  /** Volume name. */
  readonly name: string;
  /** The Secret in the agent's namespace (a literal or a token). */
  readonly secretName: string;
  readonly mountPath: string;
}

export interface AgentWorkloadProps {
  readonly agent: AgentSpec;
  /** Image reference, pinned by digest (a literal or a Terraform variable validated there). */
  readonly image: string;
  /** ConfigMaps to mount (from RuntimeConfigMaps of the same namespace). */
  readonly configMaps: readonly MountedConfigMap[];
  /** HPA bounds. @default KIND_REPLICAS of the agent's kind */
  readonly minReplicas?: number;
  readonly maxReplicas?: number;
  /** HPA target average CPU utilisation, percent. @default 70 */
  readonly targetCpuPercent?: number;
  /** Require nodes labelled `glimmer.io/zone=<zone>` (edge: zone-dedicated nodes). @default true */
  readonly zoneNodeAffinity?: boolean;
  /** Extra pod template annotations (values may be tokens), e.g. Istio's outbound exclusions. @default {} */
  readonly podAnnotations?: Readonly<Record<string, string>>;
  /** Secrets to mount (the pod waits until they exist). @default [] */
  readonly secrets?: readonly SecretMount[];
  /** Extra environment variables (values may be tokens). @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /** @default { cpu: '250m', memory: '256Mi' } */
  readonly requests?: Readonly<{ cpu: string; memory: string }>;
  /** @default { cpu: '1', memory: '512Mi' } */
  readonly limits?: Readonly<{ cpu: string; memory: string }>;
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

export class AgentWorkload extends Construct {
  readonly objects: Manifest[] = [];

  constructor(scope: Construct, id: string, props: AgentWorkloadProps) {
    super(scope, id);
    const { agent } = props;
    checkPattern('AgentWorkload', 'agent.name', agent.name, DNS_LABEL, 'a Kubernetes object name');
    checkPattern('AgentWorkload', 'agent.zone', agent.zone, DNS_LABEL, 'a Kubernetes namespace name');
    const ports = KIND_PORTS[agent.kind];
    if (!ports) invalidProp('AgentWorkload', 'agent.kind', agent.kind, `one of ${Object.keys(KIND_PORTS).join(', ')}`);
    const min = checkInt('AgentWorkload', 'minReplicas', props.minReplicas ?? KIND_REPLICAS[agent.kind].min, 1, 1000);
    const max = checkInt('AgentWorkload', 'maxReplicas', props.maxReplicas ?? KIND_REPLICAS[agent.kind].max, 1, 1000);
    if (max < min) invalidProp('AgentWorkload', 'maxReplicas', max, `>= minReplicas (${min})`);
    const cpu = checkInt('AgentWorkload', 'targetCpuPercent', props.targetCpuPercent ?? 70, 10, 100);
    const ns = agent.zone;
    const name = agent.name;
    const selector = { [LABELS.name]: 'glimmer', [LABELS.instance]: name };
    const labels = { ...selector, [LABELS.component]: agent.kind, [LABELS.partOf]: 'glimmer', [LABELS.zone]: ns, [LABELS.agent]: name };
    const deps = { dependsOn: props.dependsOn };
    const add = (kind: string, object: Parameters<typeof k8sObject>[2], computedFields?: string[]) =>
      this.objects.push(k8sObject(this, kind, object, { ...deps, computedFields }));

    add('service-account', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace: ns, labels },
      automountServiceAccountToken: false,
    });

    // The gateway's listen ports and the plant's endpoints come from glimmer.yml (plant.external), not from flags.
    const args = ['run', '--config', `${props.configMaps[0]?.mountPath ?? '/etc/glimmer/config'}/glimmer.yml`, '--state-dir', '/var/lib/glimmer', '--api-port', String(API_PORT)];
    const secrets = props.secrets ?? [];
    for (const s of secrets) {
      checkPattern('AgentWorkload', 'secrets.name', s.name, DNS_LABEL, 'a volume name');
      checkPattern('AgentWorkload', 'secrets.secretName', s.secretName, DNS_LABEL, 'a Kubernetes Secret name');
      if (!s.mountPath.startsWith('/')) invalidProp('AgentWorkload', `secrets ${s.name} mountPath`, s.mountPath, 'an absolute path');
    }
    const env = { GLIMMER_AGENT: name, GLIMMER_ZONE: ns, GLIMMER_AGENT_KIND: agent.kind, ...(props.env ?? {}) };
    const affinity: Record<string, unknown> = {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } } }],
      },
    };
    if (props.zoneNodeAffinity ?? true) {
      affinity.nodeAffinity = {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: LABELS.zone, operator: 'In', values: [ns] }] }] },
      };
    }

    add('deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, labels },
      spec: {
        selector: { matchLabels: selector },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: {
            labels,
            annotations: {
              'kubectl.kubernetes.io/default-container': 'agent',
              'prometheus.io/scrape': 'true',
              'prometheus.io/port': String(API_PORT),
              'prometheus.io/path': '/metrics',
              ...(props.podAnnotations ?? {}),
            },
          },
          spec: {
            serviceAccountName: name,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: RUNTIME_UID,
              runAsGroup: RUNTIME_UID,
              fsGroup: RUNTIME_UID,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            affinity,
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } }],
            containers: [{
              name: 'agent',
              image: props.image,
              imagePullPolicy: 'IfNotPresent',
              args,
              env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
              ports: Object.entries(ports).map(([portName, port]) => ({ name: portName, containerPort: port, protocol: 'TCP' })),
              securityContext: {
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                privileged: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              resources: { requests: { ...(props.requests ?? { cpu: '250m', memory: '256Mi' }) }, limits: { ...(props.limits ?? { cpu: '1', memory: '512Mi' }) } },
              readinessProbe: { httpGet: { path: '/healthz', port: API_PORT }, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: '/healthz', port: API_PORT }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 6 },
              volumeMounts: [
                ...props.configMaps.map((c) => ({ name: c.name, mountPath: c.mountPath, readOnly: true })),
                ...secrets.map((s) => ({ name: s.name, mountPath: s.mountPath, readOnly: true })),
                { name: 'state', mountPath: '/var/lib/glimmer' },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            }],
            volumes: [
              ...props.configMaps.map((c) => ({ name: c.name, configMap: { name: c.name } })),
              ...secrets.map((s) => ({ name: s.name, secret: { secretName: s.secretName, defaultMode: 0o440 } })),
              { name: 'state', emptyDir: { sizeLimit: '1Gi' } },
              { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
            ],
          },
        },
      },
    }, ['metadata.labels', 'metadata.annotations', 'spec.replicas']);

    add('service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns, labels },
      spec: {
        type: 'ClusterIP',
        selector,
        ports: [
          ...Object.entries(ports).map(([portName, port]) => ({ name: portName, port, targetPort: port, protocol: 'TCP' })),
          { name: 'http-envoy-prom', port: ISTIO_METRICS_PORT, targetPort: ISTIO_METRICS_PORT, protocol: 'TCP' },
        ],
      },
    });

    add('hpa', {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name, namespace: ns, labels },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas: min,
        maxReplicas: max,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpu } } }],
      },
    });

    add('pdb', {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name, namespace: ns, labels },
      spec: { minAvailable: 1, selector: { matchLabels: selector } },
    });
  }
}
