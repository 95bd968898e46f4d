/**
 * Kubernetes objects in a plan, whichever way they are written: the kubernetes provider's typed resources
 * (`kubernetes_deployment_v1`, snake_case blocks as lists) or `kubernetes_manifest` (the object itself, camelCase).
 * Both are read through one view so that every rule checks both spellings.
 */
import { at, block, blocks, get, isObj, str, stringMap, type Json, type JsonObject } from './json';
import type { ResourceView } from './resources';

export type K8sStyle = 'provider' | 'manifest';

export interface K8sObject {
  readonly view: ResourceView;
  readonly style: K8sStyle;
  readonly kind: string;
  readonly apiVersion: string;
  readonly name: string;
  /** Namespace the object lives in (`default` when unset, as the provider and kubectl do); '' for cluster-scoped kinds. */
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly spec: JsonObject | undefined;
}

const PROVIDER_KINDS: Record<string, string> = {
  kubernetes_namespace: 'Namespace', kubernetes_namespace_v1: 'Namespace',
  kubernetes_service: 'Service', kubernetes_service_v1: 'Service',
  kubernetes_network_policy: 'NetworkPolicy', kubernetes_network_policy_v1: 'NetworkPolicy',
  kubernetes_deployment: 'Deployment', kubernetes_deployment_v1: 'Deployment',
  kubernetes_stateful_set: 'StatefulSet', kubernetes_stateful_set_v1: 'StatefulSet',
  kubernetes_daemonset: 'DaemonSet', kubernetes_daemon_set_v1: 'DaemonSet',
  kubernetes_job: 'Job', kubernetes_job_v1: 'Job',
  kubernetes_cron_job: 'CronJob', kubernetes_cron_job_v1: 'CronJob',
  kubernetes_pod: 'Pod', kubernetes_pod_v1: 'Pod',
  kubernetes_replication_controller: 'ReplicationController', kubernetes_replication_controller_v1: 'ReplicationController',
  kubernetes_ingress: 'Ingress', kubernetes_ingress_v1: 'Ingress',
};
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'Node', 'PersistentVolume']);

export function k8sObject(view: ResourceView): K8sObject | undefined {
  if (view.type === 'kubernetes_manifest') {
    const m = get(view.values, 'manifest');
    if (!isObj(m)) return undefined;
    const kind = str(get(m, 'kind')) ?? '';
    const meta = get(m, 'metadata');
    const ns = str(get(meta, 'namespace'));
    return {
      view, style: 'manifest', kind, apiVersion: str(get(m, 'apiVersion')) ?? '', name: str(get(meta, 'name')) ?? '',
      namespace: CLUSTER_SCOPED.has(kind) ? '' : ns ?? 'default',
      labels: stringMap(get(meta, 'labels')), annotations: stringMap(get(meta, 'annotations')),
      spec: isObj(get(m, 'spec')) ? (get(m, 'spec') as JsonObject) : undefined,
    };
  }
  const kind = Object.hasOwn(PROVIDER_KINDS, view.type) ? PROVIDER_KINDS[view.type] : undefined;
  if (kind === undefined) return undefined;
  const meta = block(view.values, 'metadata');
  return {
    view, style: 'provider', kind, apiVersion: '', name: str(get(meta, 'name')) ?? '',
    namespace: kind === 'Namespace' ? '' : str(get(meta, 'namespace')) ?? 'default',
    labels: stringMap(get(meta, 'labels')), annotations: stringMap(get(meta, 'annotations')),
    spec: block(view.values, 'spec'),
  };
}

/** Field names of a pod spec in each style. */
export const POD_FIELDS = {
  provider: {
    containers: ['container', 'init_container'], securityContext: 'security_context', hostNetwork: 'host_network', hostPID: 'host_pid',
    hostIPC: 'host_ipc', privileged: 'privileged', allowPrivilegeEscalation: 'allow_privilege_escalation', runAsNonRoot: 'run_as_non_root',
    runAsUser: 'run_as_user', readOnlyRootFilesystem: 'read_only_root_filesystem', capabilities: 'capabilities', add: 'add', drop: 'drop',
  },
  manifest: {
    containers: ['containers', 'initContainers', 'ephemeralContainers'], securityContext: 'securityContext', hostNetwork: 'hostNetwork', hostPID: 'hostPID',
    hostIPC: 'hostIPC', privileged: 'privileged', allowPrivilegeEscalation: 'allowPrivilegeEscalation', runAsNonRoot: 'runAsNonRoot',
    runAsUser: 'runAsUser', readOnlyRootFilesystem: 'readOnlyRootFilesystem', capabilities: 'capabilities', add: 'add', drop: 'drop',
  },
} as const;

/** The pod spec of a workload (Pod, Deployment, ..., CronJob), or undefined for other kinds. */
export function podSpec(o: K8sObject): JsonObject | undefined {
  const s = o.spec;
  if (s === undefined) return undefined;
  if (o.style === 'provider') {
    switch (o.kind) {
      case 'Pod': return s;
      case 'CronJob': return block(s, 'job_template', 'spec', 'template', 'spec');
      case 'Deployment': case 'StatefulSet': case 'DaemonSet': case 'Job': case 'ReplicationController': return block(s, 'template', 'spec');
      default: return undefined;
    }
  }
  const obj = (v: Json | undefined) => (isObj(v) ? v : undefined);
  switch (o.kind) {
    case 'Pod': return s;
    case 'CronJob': return obj(at(s, 'jobTemplate', 'spec', 'template', 'spec'));
    case 'Deployment': case 'StatefulSet': case 'DaemonSet': case 'ReplicaSet': case 'Job': case 'ReplicationController': return obj(at(s, 'template', 'spec'));
    default: return undefined;
  }
}

/** Containers of a pod spec with their kind of list (`container`, `initContainers`, ...). */
export function containers(o: K8sObject, pod: JsonObject): { list: string; name: string; c: JsonObject }[] {
  const out: { list: string; name: string; c: JsonObject }[] = [];
  for (const list of POD_FIELDS[o.style].containers) {
    blocks(get(pod, list)).forEach((c, i) => out.push({ list, name: str(get(c, 'name')) ?? `#${i}`, c }));
  }
  return out;
}

/** The security context block of a pod or container, in either style. */
export function securityContext(o: K8sObject, holder: JsonObject): JsonObject | undefined {
  return blocks(get(holder, POD_FIELDS[o.style].securityContext))[0];
}

/** True when a label selector selects every pod (`podSelector: {}`). */
export function selectsAll(o: K8sObject, selector: Json | undefined): boolean {
  if (selector === undefined || selector === null) return o.style === 'manifest' ? false : true;
  const sel = blocks(selector)[0];
  if (sel === undefined) return Array.isArray(selector);
  const labels = get(sel, o.style === 'provider' ? 'match_labels' : 'matchLabels');
  const exprs = get(sel, o.style === 'provider' ? 'match_expressions' : 'matchExpressions');
  const emptyLabels = labels === undefined || labels === null || (isObj(labels) && Object.keys(labels).length === 0);
  const emptyExprs = exprs === undefined || exprs === null || (Array.isArray(exprs) && exprs.length === 0);
  return emptyLabels && emptyExprs;
}

const NAMESPACE_REF = /^\$\{([A-Za-z_][\w-]*\.[A-Za-z_][\w-]*)\.(?:metadata(?:\[0\])?\.name|id|manifest\.metadata\.name)\}$/;

/**
 * Resolves namespaces written as references (`${kubernetes_namespace_v1.zone.metadata[0].name}`, as cdktf synthesizes
 * them) to the referenced Namespace's name, so policies and workloads land in the right namespace.
 */
export function resolveNamespaceRefs(objects: K8sObject[]): K8sObject[] {
  const names = new Map<string, string>();
  for (const o of objects) if (o.kind === 'Namespace' && o.name !== '') names.set(o.view.configAddress, o.name);
  return objects.map((o) => {
    const m = NAMESPACE_REF.exec(o.namespace);
    const target = m ? names.get(m[1] as string) : undefined;
    return target === undefined ? o : { ...o, namespace: target };
  });
}
