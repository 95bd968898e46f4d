/**
 * One agent of the swarm in its zone's namespace: ServiceAccount (no token automount; EKS Pod Identity injects its
 * own), StatefulSet with a hardened pod (non-root, read-only root filesystem, seccomp RuntimeDefault, all capabilities
 * dropped, no privilege escalation) and one PersistentVolumeClaim per replica for the state directory (the audit log,
 * its segments, the PKI), Service, PodDisruptionBudget, and a HorizontalPodAutoscaler for the kinds that scale.
 *
 * Why a StatefulSet: the audit store must survive a rescheduled pod (an emptyDir loses the trail), each replica needs
 * its own store (two writers on one SQLite log would fork it), and a StatefulSet rolls a replica by stopping it before
 * starting its successor, so a single-replica agent never runs twice against the same PLCs during a rollout.
 */
import { Construct } from 'constructs';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { INodeSelector } from 'kubernetes-models/v1/NodeSelector';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import { k8sObject, RESTRICTED_CONTAINER_SECURITY_CONTEXT, type K8sObject } from './k8s';
import type { MountedVolume } from './runtime-config-maps';
import { Fn, Token, type ITerraformDependable } from './tf';
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
  /** The pod starts without it (e.g. credentials only some sites use). @default false: the pod waits for it */
  readonly optional?: boolean;
}

/** Where the runtime keeps its state (`--state-dir`): the audit log under `audit/`, on the replica's volume claim. */
export const STATE_DIR = '/var/lib/glimmer';
export const STATE_VOLUME = 'state';

export interface AgentWorkloadProps {
  readonly agent: AgentSpec;
  /** Image reference, pinned by digest (a literal or a Terraform variable validated there). */
  readonly image: string;
  /** Volumes to mount (RuntimeConfigMaps of the same namespace): glimmer-config first. */
  readonly configVolumes: readonly MountedVolume[];
  /** HPA bounds. @default KIND_REPLICAS of the agent's kind */
  readonly minReplicas?: number;
  readonly maxReplicas?: number;
  /** HPA target average CPU utilisation, percent. @default 70 */
  readonly targetCpuPercent?: number;
  /** Require nodes labelled `glimmer.io/zone=<zone>` (edge: zone-dedicated nodes). @default true */
  readonly zoneNodeAffinity?: boolean;
  /** Extra pod template annotations (values may be tokens), e.g. Istio's outbound exclusions. @default {} */
  readonly podAnnotations?: Readonly<Record<string, string>>;
  /** Secrets to mount. @default [] */
  readonly secrets?: readonly SecretMount[];
  /** Extra environment variables (values may be tokens). @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /** Size of each replica's state volume claim. @default '10Gi' */
  readonly stateVolumeSize?: string;
  /** StorageClass of the state volume claims (a token allowed). @default - the cluster's default StorageClass */
  readonly storageClassName?: string;
  /** @default { cpu: '250m', memory: '256Mi' } */
  readonly requests?: Readonly<{ cpu: string; memory: string }>;
  /** @default { cpu: '1', memory: '512Mi' } */
  readonly limits?: Readonly<{ cpu: string; memory: string }>;
  /**
   * Extended resources of device plugins added to the container's limits (Kubernetes sets the requests equal) when
   * `enabled` holds: a boolean, or a Terraform bool expression evaluated at plan (e.g. the node's TPM). No hostPath
   * volume: the device plugin hands the device to the container, so Pod Security `restricted` still admits the pod.
   * @default - none
   */
  readonly deviceLimits?: { readonly enabled: unknown; readonly limits: Readonly<Record<string, string>> };
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

/** The container's limits: the CPU and memory ones, and the device limits when enabled (one expression if a token decides). */
function containerLimits(props: AgentWorkloadProps): Record<string, string> {
  const base = { ...(props.limits ?? { cpu: '1', memory: '512Mi' }) };
  const devices = props.deviceLimits;
  if (devices === undefined || devices.enabled === false) return base;
  if (devices.enabled === true) return { ...base, ...devices.limits };
  return Token.asStringMap(Fn.merge([base, Fn.conditional(devices.enabled, { ...devices.limits }, {})]));
}

export class AgentWorkload extends Construct {
  readonly objects: Manifest[] = [];

  constructor(scope: Construct, id: string, props: AgentWorkloadProps) {
    super(scope, id);
    const { agent } = props;
    checkPattern(this, 'agent.name', agent.name, DNS_LABEL, 'a Kubernetes object name');
    checkPattern(this, 'agent.zone', agent.zone, DNS_LABEL, 'a Kubernetes namespace name');
    const ports = KIND_PORTS[agent.kind];
    if (!ports) invalidProp(this, 'agent.kind', agent.kind, `one of ${Object.keys(KIND_PORTS).join(', ')}`);
    const min = checkInt(this, 'minReplicas', props.minReplicas ?? KIND_REPLICAS[agent.kind].min, 1, 1000);
    const max = checkInt(this, 'maxReplicas', props.maxReplicas ?? KIND_REPLICAS[agent.kind].max, 1, 1000);
    if (max < min) invalidProp(this, 'maxReplicas', max, `>= minReplicas (${min})`);
    const cpu = checkInt(this, 'targetCpuPercent', props.targetCpuPercent ?? 70, 10, 100);
    const size = checkPattern(this, 'stateVolumeSize', props.stateVolumeSize ?? '10Gi', /^[1-9][0-9]*(Mi|Gi|Ti)$/, 'a size like 10Gi');
    const config = props.configVolumes[0];
    if (!config) invalidProp(this, 'configVolumes', [], 'at least the glimmer-config volume');
    const ns = agent.zone;
    const name = agent.name;
    const selector = { [LABELS.name]: 'glimmer', [LABELS.instance]: name };
    const labels = { ...selector, [LABELS.component]: agent.kind, [LABELS.partOf]: 'glimmer', [LABELS.zone]: ns, [LABELS.agent]: name };
    const deps = { dependsOn: props.dependsOn };
    const add = <T extends K8sObject = never>(kind: string, object: NoInfer<T>, computedFields?: string[]) =>
      this.objects.push(k8sObject<T>(this, kind, object, { ...deps, computedFields }));

    add<IServiceAccount>('service-account', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace: ns, labels },
      automountServiceAccountToken: false,
    });

    // The gateway's listen ports and the plant's endpoints come from glimmer.yml (plant.external), not from flags.
    const args = ['run', '--config', `${config.mountPath}/glimmer.yml`, '--state-dir', STATE_DIR, '--api-port', String(API_PORT)];
    const secrets = props.secrets ?? [];
    for (const s of secrets) {
      checkPattern(this, 'secrets.name', s.name, DNS_LABEL, 'a volume name');
      checkPattern(this, 'secrets.secretName', s.secretName, DNS_LABEL, 'a Kubernetes Secret name');
      if (!s.mountPath.startsWith('/')) invalidProp(this, `secrets ${s.name} mountPath`, s.mountPath, 'an absolute path');
    }
    const env = { GLIMMER_RUNTIME_MODE: 'cluster', GLIMMER_AGENT: name, GLIMMER_ZONE: ns, GLIMMER_AGENT_KIND: agent.kind, ...(props.env ?? {}) };
    const preferSpread = { podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } }, weight: 100 };
    const zoneNodes: INodeSelector = { nodeSelectorTerms: [{ matchExpressions: [{ key: LABELS.zone, operator: 'In', values: [ns] }] }] };
    const volumes: IVolume[] = [
      ...props.configVolumes.map((v) => v.volume),
      ...secrets.map((s): IVolume => ({ name: s.name, secret: { secretName: s.secretName, defaultMode: 0o440, ...(s.optional ? { optional: true } : {}) } })),
      { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
    ];

    // A fixed-size agent gets no HPA (it would only need metrics-server to say so); a scaling one owns spec.replicas.
    const scales = max > min;
    add<IStatefulSet>('statefulset', {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name, namespace: ns, labels },
      spec: {
        serviceName: name,
        replicas: min,
        selector: { matchLabels: selector },
        // Replicas are independent (each its own log): start and stop them together, not one by one.
        podManagementPolicy: 'Parallel',
        // The controller deletes a replica before creating its successor: never two agents on the same PLCs.
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        // Audit evidence outlives the workload: deleting or scaling down never deletes a claim.
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        volumeClaimTemplates: [{
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: STATE_VOLUME, labels: selector },
          spec: {
            accessModes: ['ReadWriteOnce'],
            resources: { requests: { storage: size } },
            ...(props.storageClassName ? { storageClassName: props.storageClassName } : {}),
          },
        }],
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
              fsGroupChangePolicy: 'OnRootMismatch',
              seccompProfile: { type: 'RuntimeDefault' },
            },
            affinity: {
              podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [preferSpread] },
              ...((props.zoneNodeAffinity ?? true) ? { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: zoneNodes } } : {}),
            },
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } }],
            containers: [{
              name: 'agent',
              image: props.image,
              imagePullPolicy: 'IfNotPresent',
              args,
              env: Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
              ports: Object.entries(ports).map(([portName, port]) => ({ name: portName, containerPort: port, protocol: 'TCP' as const })),
              securityContext: RESTRICTED_CONTAINER_SECURITY_CONTEXT,
              resources: { requests: { ...(props.requests ?? { cpu: '250m', memory: '256Mi' }) }, limits: containerLimits(props) },
              // Readiness is the truthful one (503 while an agent is refused or crash-loops, the audit log cannot commit or
              // the plant image is stale); liveness only asks whether the process answers, so a full disk is not a restart loop.
              readinessProbe: { httpGet: { path: '/readyz', port: API_PORT }, periodSeconds: 5, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: '/healthz', port: API_PORT }, initialDelaySeconds: 10, periodSeconds: 10, failureThreshold: 6 },
              volumeMounts: [
                ...props.configVolumes.map((v) => ({ name: v.volume.name, mountPath: v.mountPath, readOnly: true })),
                ...secrets.map((s) => ({ name: s.name, mountPath: s.mountPath, readOnly: true })),
                { name: STATE_VOLUME, mountPath: STATE_DIR },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            }],
            volumes,
          },
        },
      },
    }, ['metadata.labels', 'metadata.annotations', ...(scales ? ['spec.replicas'] : [])]);

    add<IService>('service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns, labels },
      spec: {
        type: 'ClusterIP',
        selector,
        ports: [
          ...Object.entries(ports).map(([portName, port]) => ({ name: portName, port, targetPort: port, protocol: 'TCP' as const })),
          { name: 'http-envoy-prom', port: ISTIO_METRICS_PORT, targetPort: ISTIO_METRICS_PORT, protocol: 'TCP' as const },
        ],
      },
    });

    if (scales) {
      add<IHorizontalPodAutoscaler>('hpa', {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name, namespace: ns, labels },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name },
          minReplicas: min,
          maxReplicas: max,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpu } } }],
        },
      });
    }

    // maxUnavailable, not minAvailable: on a one-replica agent minAvailable 1 blocks every node drain; this lets a
    // drain move the agent (it restarts on its volume) while a multi-replica agent loses at most one at a time.
    add<IPodDisruptionBudget>('pdb', {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name, namespace: ns, labels },
      spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
    });
  }
}
