/**
 * What the pinned Helm charts accept, as data: the subset of each chart's values.schema.json the stacks' values touch,
 * and the chart defaults the checks rely on. Helm validates values against values.schema.json before it renders, so
 * a key the schema forbids fails the install; these constraints let `make test` catch that offline.
 *
 * Sources (read from the charts' repositories at the pinned release, not copied wholesale):
 *   - Istio gateway chart 1.30.3: manifests/charts/gateway/values.schema.json ($defs.values has
 *     "additionalProperties": false, so only the listed top-level keys are allowed), values.yaml (service.ports:
 *     status-port 15021, http2 80 -> 80, https 443 -> 443) and templates/deployment.yaml (pod/container securityContext).
 *   - Istio base, cni and istiod charts 1.30.3: no values.schema.json (any key is accepted; nothing to encode).
 *   - aws-load-balancer-controller chart: helm/aws-load-balancer-controller/values.schema.json (no
 *     additionalProperties; the types of the keys we set).
 *   - karpenter and metrics-server charts: no values.schema.json in their chart directories (nothing to encode; the
 *     keys we set, settings.clusterName/interruptionQueue and serviceAccount, are in their values.yaml).
 */

/** A JSON-schema subset: the keywords the charts above use for the keys we set. */
export interface SchemaNode {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: boolean | SchemaNode;
  readonly enum?: readonly unknown[];
  readonly items?: SchemaNode;
}

const obj = (properties: Record<string, SchemaNode> = {}, additionalProperties?: boolean): SchemaNode => ({ type: 'object', properties, ...(additionalProperties === undefined ? {} : { additionalProperties }) });

/** Istio gateway chart 1.30.3, $defs.values (the top level refers to it). */
export const ISTIO_GATEWAY_SCHEMA: SchemaNode = obj({
  _internal_defaults_do_not_set: obj(), global: obj(), enabled: { type: 'boolean' }, affinity: obj(),
  securityContext: { type: ['object', 'null'] }, containerSecurityContext: { type: ['object', 'null'] },
  kind: { type: 'string', enum: ['Deployment', 'DaemonSet'] }, annotations: obj(),
  autoscaling: obj({ enabled: { type: 'boolean' }, maxReplicas: { type: 'integer' }, minReplicas: { type: 'integer' }, targetCPUUtilizationPercentage: { type: 'integer' } }),
  env: obj(), envVarFrom: { type: 'array' }, strategy: obj(), minReadySeconds: { type: ['null', 'integer'] }, readinessProbe: { type: ['null', 'object'] },
  labels: obj(), name: { type: 'string' }, nodeSelector: obj(), podAnnotations: obj(), replicaCount: { type: ['integer', 'null'] },
  resources: obj(), revision: { type: 'string' }, defaultRevision: { type: 'string' }, compatibilityVersion: { type: 'string' }, runAsRoot: { type: 'boolean' },
  unprivilegedPort: { type: ['string', 'boolean'], enum: [true, false, 'auto'] },
  service: obj({
    annotations: obj(), selectorLabels: obj(), externalTrafficPolicy: { type: 'string' }, loadBalancerIP: { type: 'string' },
    loadBalancerSourceRanges: { type: 'array' }, ipFamilies: { type: 'array' }, ipFamilyPolicy: { type: 'string', enum: ['', 'SingleStack', 'PreferDualStack', 'RequireDualStack'] },
    ports: { type: 'array' }, type: { type: 'string' },
  }),
  serviceAccount: obj({ annotations: obj(), name: { type: 'string' }, create: { type: 'boolean' } }),
  rbac: obj({ enabled: { type: 'boolean' } }), tolerations: { type: 'array' }, topologySpreadConstraints: { type: 'array' },
  networkGateway: { type: 'string' }, networkGatewayPorts: obj(), imagePullPolicy: { type: 'string', enum: ['', 'Always', 'IfNotPresent', 'Never'] },
  imagePullSecrets: { type: 'array' }, podDisruptionBudget: obj(), terminationGracePeriodSeconds: { type: 'number' },
  volumes: { type: 'array' }, volumeMounts: { type: 'array' }, initContainers: { type: 'array' }, additionalContainers: { type: 'array' },
  priorityClassName: { type: 'string' }, lifecycle: obj(), pilot: obj(), platform: { type: 'string' }, profile: { type: 'string' },
}, false);

/** The gateway chart's default Service ports (values.yaml service.ports), which the stacks do not override. */
export const ISTIO_GATEWAY_SERVICE_PORTS = [
  { name: 'status-port', port: 15021, targetPort: 15021 },
  { name: 'http2', port: 80, targetPort: 80 },
  { name: 'https', port: 443, targetPort: 443 },
] as const;

/**
 * The gateway chart's pod template (templates/deployment.yaml), reduced to what Pod Security evaluates: the pod
 * securityContext is `securityContext` or else only the unprivileged-port sysctl; the container's is
 * `containerSecurityContext` or else drop ALL, no escalation, not privileged, read-only root, non-root. No volumes
 * unless `volumes` is set; the proxy image is `auto` until istiod's injector replaces it.
 */
export function istioGatewayPodSpec(values: Record<string, unknown>): Record<string, unknown> {
  const pod = (values.securityContext as Record<string, unknown> | undefined) ?? { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] };
  const container = (values.containerSecurityContext as Record<string, unknown> | undefined) ?? {
    capabilities: { drop: ['ALL'] }, allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, runAsNonRoot: true,
  };
  return { securityContext: pod, containers: [{ name: 'istio-proxy', image: 'auto', securityContext: container }], volumes: values.volumes ?? [] };
}

/** aws-load-balancer-controller chart values.schema.json: the keys the stacks set (no additionalProperties). */
export const AWS_LOAD_BALANCER_CONTROLLER_SCHEMA: SchemaNode = obj({
  clusterName: { type: ['null', 'string'] }, region: { type: ['null', 'string'] }, vpcId: { type: ['null', 'string'] },
  serviceAccount: obj({ annotations: obj(), automountServiceAccountToken: { type: 'boolean' }, create: { type: 'boolean' }, name: { type: ['null', 'string'] } }),
});

const isExpression = (v: unknown) => typeof v === 'string' && /^\$\{[\s\S]*\}$/.test(v);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Violations of `schema` by `value` (paths like `service.loadBalancerClass`); Terraform expressions pass scalar types. */
export function schemaViolations(value: unknown, schema: SchemaNode, at = ''): string[] {
  const problems: string[] = [];
  const where = at || '(root)';
  if (schema.type !== undefined && !isExpression(value)) {
    const types = typeof schema.type === 'string' ? [schema.type] : schema.type;
    const t = typeOf(value);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) problems.push(`${where}: ${t} is not ${types.join(' or ')}`);
  }
  if (schema.enum && !isExpression(value) && !schema.enum.includes(value)) problems.push(`${where}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) {
      const child = schema.properties?.[k];
      if (child) problems.push(...schemaViolations(v, child, at ? `${at}.${k}` : k));
      else if (schema.additionalProperties === false) problems.push(`${at ? `${at}.` : ''}${k}: not allowed (additionalProperties: false)`);
    }
  }
  return problems;
}

type Requirement = { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: readonly string[] };
export interface InjectionWebhook { readonly name: string; readonly namespaceSelector: readonly Requirement[]; readonly objectSelector: readonly Requirement[] }

/**
 * istiod chart 1.30.3 (manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml), default
 * revision, enableNamespacesByDefault false: the sidecar injector's four webhooks and their selectors. A pod is
 * injected (its `image: auto` replaced, the proxy's settings applied) only when one of them matches.
 */
export const ISTIOD_INJECTION_WEBHOOKS: readonly InjectionWebhook[] = [
  { name: 'rev.namespace.sidecar-injector.istio.io', namespaceSelector: [{ key: 'istio.io/rev', operator: 'In', values: ['default'] }, { key: 'istio-injection', operator: 'DoesNotExist' }], objectSelector: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }] },
  { name: 'rev.object.sidecar-injector.istio.io', namespaceSelector: [{ key: 'istio.io/rev', operator: 'DoesNotExist' }, { key: 'istio-injection', operator: 'DoesNotExist' }], objectSelector: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }, { key: 'istio.io/rev', operator: 'In', values: ['default'] }] },
  { name: 'namespace.sidecar-injector.istio.io', namespaceSelector: [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }], objectSelector: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }] },
  { name: 'object.sidecar-injector.istio.io', namespaceSelector: [{ key: 'istio-injection', operator: 'DoesNotExist' }, { key: 'istio.io/rev', operator: 'DoesNotExist' }], objectSelector: [{ key: 'sidecar.istio.io/inject', operator: 'In', values: ['true'] }, { key: 'istio.io/rev', operator: 'DoesNotExist' }] },
];

/** The labels the gateway chart puts on its pod template (templates/_helpers.tpl gateway.sidecarInjectionLabels). */
export const ISTIO_GATEWAY_POD_LABELS = { 'sidecar.istio.io/inject': 'true' } as const;

function selects(requirements: readonly Requirement[], labels: Readonly<Record<string, string>>): boolean {
  return requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    if (r.operator === 'Exists') return has;
    if (r.operator === 'DoesNotExist') return !has;
    if (r.operator === 'In') return has && (r.values ?? []).includes(labels[r.key] as string);
    return !has || !(r.values ?? []).includes(labels[r.key] as string);
  });
}

/** The injection webhooks that mutate a pod with these labels in a namespace with these labels. */
export function injectingWebhooks(namespaceLabels: Readonly<Record<string, string>>, podLabels: Readonly<Record<string, string>>): string[] {
  return ISTIOD_INJECTION_WEBHOOKS.filter((w) => selects(w.namespaceSelector, namespaceLabels) && selects(w.objectSelector, podLabels)).map((w) => w.name);
}
