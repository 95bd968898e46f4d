/**
 * Istio from its Helm charts in dependency order: base (CRDs) -> cni (optional) -> istiod -> ingress gateway, one
 * pinned chart version (>= 1.27). `COMPLIANCE_POLICY` (pqc: TLS 1.3 with X25519MLKEM768, i.e. ML-KEM-768, not
 * Kyber-512; or fips-140-2) is set on istiod, on every sidecar (proxyMetadata) and on the gateway. The mesh's own CRs
 * (PeerAuthentication, AuthorizationPolicy) are in MeshPolicies, in a later stack: their CRDs must exist at plan time.
 */
import { Construct } from 'constructs';
import { Release } from '@cdktf/provider-helm/lib/release';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import { k8sObject } from './k8s';
import { Fn, type ITerraformDependable } from './tf';
import { checkOneOf, checkPattern, invalidProp, isUnresolved } from './validate';

export const ISTIO_CHART_REPOSITORY = 'https://istio-release.storage.googleapis.com/charts';
export const GATEWAY_SERVICE_TYPES = ['LoadBalancer', 'NodePort', 'ClusterIP'] as const;

export interface IstioMeshProps {
  /** Chart version: a pinned release >= 1.27.0, or a token validated by Terraform. */
  readonly version: string;
  /** `pqc` or `fips-140-2`, or a token choosing between them. */
  readonly compliancePolicy: string;
  /** SPIFFE trust domain of the mesh. */
  readonly trustDomain: string;
  /**
   * Istio CNI: required when the workload namespaces enforce Pod Security `restricted` (the istio-init container
   * needs NET_ADMIN). @default true
   */
  readonly cni?: boolean;
  /** The zone namespaces enforce Pod Security `restricted`. @default true */
  readonly restrictedWorkloads?: boolean;
  /** Install the ingress gateway. @default true */
  readonly gateway?: boolean;
  /** @default 'LoadBalancer' */
  readonly gatewayServiceType?: (typeof GATEWAY_SERVICE_TYPES)[number];
  /** Annotations of the gateway Service (e.g. an internal AWS NLB). @default {} */
  readonly gatewayServiceAnnotations?: Readonly<Record<string, string>>;
  /** @default 'istio-system' */
  readonly namespace?: string;
  /** @default 'istio-ingress' */
  readonly gatewayNamespace?: string;
  /** Sidecars may only reach services in the mesh registry (REGISTRY_ONLY). @default true */
  readonly registryOnlyEgress?: boolean;
  /** Helm chart repository (a mirror, for air-gapped sites). @default ISTIO_CHART_REPOSITORY */
  readonly repository?: string;
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

export class IstioMesh extends Construct {
  readonly base: Release;
  readonly cni?: Release;
  readonly istiod: Release;
  readonly gateway?: Release;
  readonly namespaces: Manifest[];

  constructor(scope: Construct, id: string, props: IstioMeshProps) {
    super(scope, id);
    if (!isUnresolved(props.version)) {
      const m = /^1\.(\d+)\.(\d+)$/.exec(props.version);
      if (!m || Number(m[1]) < 27) invalidProp('IstioMesh', 'version', props.version, 'a pinned Istio release 1.27.0 or later (like 1.27.3)');
    }
    checkOneOf('IstioMesh', 'compliancePolicy', props.compliancePolicy, ['pqc', 'fips-140-2']);
    checkPattern('IstioMesh', 'trustDomain', props.trustDomain, /^[a-z0-9]([a-z0-9.-]{0,250}[a-z0-9])?$/, 'a DNS-like trust domain');
    const cni = props.cni ?? true;
    if (!cni && (props.restrictedWorkloads ?? true)) {
      invalidProp('IstioMesh', 'cni', cni, 'true while the workload namespaces enforce Pod Security restricted (istio-init needs NET_ADMIN without the CNI)');
    }
    const serviceType = checkOneOf('IstioMesh', 'gatewayServiceType', props.gatewayServiceType ?? 'LoadBalancer', GATEWAY_SERVICE_TYPES);
    const ns = props.namespace ?? 'istio-system';
    const gwNs = props.gatewayNamespace ?? 'istio-ingress';
    const repository = props.repository ?? ISTIO_CHART_REPOSITORY;
    const env = { COMPLIANCE_POLICY: props.compliancePolicy };

    // istio-system runs the CNI node agent (hostPath, privileged): an explicit, visible exception to restricted.
    const systemNs = k8sObject(this, 'namespace-system', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': cni ? 'privileged' : 'baseline', 'pod-security.kubernetes.io/warn': 'restricted' } },
    }, { dependsOn: props.dependsOn });
    const gatewayNs = k8sObject(this, 'namespace-gateway', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: gwNs, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'istio-injection': 'disabled' } },
    }, { dependsOn: props.dependsOn });
    this.namespaces = [systemNs, gatewayNs];

    const release = (name: string, chart: string, namespace: string, values: unknown, after: ITerraformDependable[]): Release =>
      new Release(this, name, {
        name,
        chart,
        repository,
        version: props.version,
        namespace,
        createNamespace: false,
        atomic: true,
        cleanupOnFail: true,
        wait: true,
        timeout: 600,
        values: [Fn.jsonencode(values)],
        dependsOn: after,
      });

    this.base = release('istio-base', 'base', ns, { defaultRevision: 'default' }, [systemNs]);
    let last: ITerraformDependable = this.base;
    if (cni) {
      this.cni = release('istio-cni', 'cni', ns, { cni: { excludeNamespaces: [ns, 'kube-system'] } }, [this.base]);
      last = this.cni;
    }
    this.istiod = release('istiod', 'istiod', ns, {
      pilot: { cni: { enabled: cni }, env },
      meshConfig: {
        trustDomain: props.trustDomain,
        outboundTrafficPolicy: { mode: (props.registryOnlyEgress ?? true) ? 'REGISTRY_ONLY' : 'ALLOW_ANY' },
        defaultConfig: { holdApplicationUntilProxyStarts: true, proxyMetadata: env },
      },
      global: { proxy: { privileged: false } },
    }, [last]);
    if (props.gateway ?? true) {
      this.gateway = release('istio-ingressgateway', 'gateway', gwNs, {
        env,
        service: { type: serviceType, annotations: { ...(props.gatewayServiceAnnotations ?? {}) } },
        seccompProfile: { type: 'RuntimeDefault' },
      }, [this.istiod, gatewayNs]);
    }
  }
}
