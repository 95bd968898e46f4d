/**
 * Istio from its Helm charts in dependency order: base (CRDs) -> cni (optional) -> istiod -> ingress gateway, one
 * pinned chart version. The mesh's own CRs (PeerAuthentication, AuthorizationPolicy, ServiceEntry) are in
 * MeshPolicies, in a later stack: their CRDs must exist at plan time.
 *
 * Post-quantum key exchange is one three-way choice, `pqMode` (the runtime's TLS reads the same variable):
 *   - `pqc-only`: COMPLIANCE_POLICY=pqc on istiod, every sidecar and the gateway: TLS 1.3 with X25519MLKEM768 only,
 *     so TLS 1.2 clients of the gateway (older plant devices, HMIs) are refused.
 *   - `hybrid-preferred`: no compliance policy; meshConfig.tlsDefaults.ecdhCurves offers X25519MLKEM768 first, then
 *     X25519 and P-256, on the gateway's client TLS and on non-mesh upstream TLS. Istio ignores tlsDefaults for
 *     ISTIO_MUTUAL, so sidecar-to-sidecar mTLS keeps Envoy's defaults.
 *   - `classical`: `fips-140-2` when FIPS is asked for (TLS 1.2, FIPS ciphers, P-256), else nothing.
 * COMPLIANCE_POLICY holds one value: pqc and fips-140-2 exclude each other, which TopologyVariables refuses loudly.
 */
import { Construct } from 'constructs';
import { Release } from '@cdktf/provider-helm/lib/release';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import { k8sObject, RESTRICTED_CONTAINER_SECURITY_CONTEXT } from './k8s';
import { Fn, type ITerraformDependable } from './tf';
import { checkOneOf, checkPattern, invalidProp, isUnresolved } from './validate';

export const ISTIO_CHART_REPOSITORY = 'https://istio-release.storage.googleapis.com/charts';
export const GATEWAY_SERVICE_TYPES = ['LoadBalancer', 'NodePort', 'ClusterIP'] as const;
/** Istio releases in support when pinned (1.27 and 1.28 are end of life). */
export const MIN_ISTIO_MINOR = 29;
export const COMPLIANCE_POLICIES = ['', 'pqc', 'fips-140-2'] as const;
/** `global.platform` values the Istio charts know (k3s needs it for the CNI's paths). '' is generic Kubernetes. */
export const ISTIO_PLATFORMS = ['', 'k3s', 'k3d', 'microk8s', 'minikube', 'openshift', 'eks'] as const;
/** The gateway chart's Service ports (values.yaml `service.ports` of the pinned chart): name -> target port. */
export const GATEWAY_TARGET_PORTS = { 'status-port': 15021, http2: 80, https: 443 } as const;
/** The ports clients reach on the gateway pod (the NetworkPolicy and AuthorizationPolicy open exactly these). */
export const GATEWAY_CLIENT_PORTS = [GATEWAY_TARGET_PORTS.http2, GATEWAY_TARGET_PORTS.https] as const;
/** The proxy's uid/gid in Istio's images. */
export const ISTIO_PROXY_UID = 1337;

export interface IstioMeshProps {
  /** Chart version: a pinned release >= 1.29.0, or a token validated by Terraform. */
  readonly version: string;
  /** COMPLIANCE_POLICY: '' (none), `pqc` or `fips-140-2`, or a token (TopologyVariables.compliancePolicy). */
  readonly compliancePolicy: string;
  /** meshConfig.tlsDefaults.ecdhCurves, or a token; empty: Envoy's defaults. @default [] */
  readonly tlsEcdhCurves?: readonly string[] | string;
  /** SPIFFE trust domain of the mesh. */
  readonly trustDomain: string;
  /**
   * Istio CNI: required when the workload namespaces enforce Pod Security `restricted` (the istio-init container
   * needs NET_ADMIN). @default true
   */
  readonly cni?: boolean;
  /** `global.platform` of the CNI chart (k3s keeps its CNI config elsewhere), or a token. @default '' */
  readonly platform?: string;
  /** The zone namespaces enforce Pod Security `restricted`. @default true */
  readonly restrictedWorkloads?: boolean;
  /** Install the ingress gateway. @default true */
  readonly gateway?: boolean;
  /** @default 'LoadBalancer' */
  readonly gatewayServiceType?: (typeof GATEWAY_SERVICE_TYPES)[number];
  /** Annotations of the gateway Service (e.g. the AWS Load Balancer Controller's). @default {} */
  readonly gatewayServiceAnnotations?: Readonly<Record<string, string>>;
  /** `service.loadBalancerClass` (e.g. `service.k8s.aws/nlb`, so the in-tree controller ignores it). @default - none */
  readonly gatewayLoadBalancerClass?: string;
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

/** The Helm values of each Istio release, as IstioMesh sets them (tests check them against the charts' schemas). */
export interface IstioValues {
  readonly base: Record<string, unknown>;
  readonly cni?: Record<string, unknown>;
  readonly istiod: Record<string, unknown>;
  readonly gateway?: Record<string, unknown>;
}

export class IstioMesh extends Construct {
  readonly base: Release;
  readonly cni?: Release;
  readonly istiod: Release;
  readonly gateway?: Release;
  readonly namespaces: Manifest[];
  readonly values: IstioValues;

  constructor(scope: Construct, id: string, props: IstioMeshProps) {
    super(scope, id);
    if (!isUnresolved(props.version)) {
      const m = /^1\.(\d+)\.(\d+)$/.exec(props.version);
      if (!m || Number(m[1]) < MIN_ISTIO_MINOR) invalidProp(this, 'version', props.version, `a pinned Istio release 1.${MIN_ISTIO_MINOR}.0 or later (like 1.30.3)`);
    }
    checkOneOf(this, 'compliancePolicy', props.compliancePolicy, COMPLIANCE_POLICIES);
    checkOneOf(this, 'platform', props.platform ?? '', ISTIO_PLATFORMS);
    checkPattern(this, 'trustDomain', props.trustDomain, /^[a-z0-9]([a-z0-9.-]{0,250}[a-z0-9])?$/, 'a DNS-like trust domain');
    const cni = props.cni ?? true;
    if (!cni && (props.restrictedWorkloads ?? true)) {
      invalidProp(this, 'cni', cni, 'true while the workload namespaces enforce Pod Security restricted (istio-init needs NET_ADMIN without the CNI)');
    }
    const serviceType = checkOneOf(this, 'gatewayServiceType', props.gatewayServiceType ?? 'LoadBalancer', GATEWAY_SERVICE_TYPES);
    const ns = props.namespace ?? 'istio-system';
    const gwNs = props.gatewayNamespace ?? 'istio-ingress';
    const repository = props.repository ?? ISTIO_CHART_REPOSITORY;
    const env = { COMPLIANCE_POLICY: props.compliancePolicy };

    // istio-system runs the CNI node agent (hostPath, privileged): an explicit, visible exception to restricted.
    const systemNs = k8sObject<INamespace>(this, 'namespace-system', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': cni ? 'privileged' : 'baseline', 'pod-security.kubernetes.io/warn': 'restricted' } },
    }, { dependsOn: props.dependsOn });
    // No `istio-injection` label: the gateway chart labels its pod `sidecar.istio.io/inject: "true"`, which istiod's
    // object-selector webhook injects only in namespaces WITHOUT an istio-injection label (`disabled` matches no
    // webhook, so the pod would keep `image: auto` and never start).
    const gatewayNs = k8sObject<INamespace>(this, 'namespace-gateway', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: gwNs, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    }, { dependsOn: props.dependsOn });
    this.namespaces = [systemNs, gatewayNs];

    const release = (name: string, chart: string, namespace: string, values: Record<string, unknown>, after: ITerraformDependable[]): Release =>
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

    const curves = props.tlsEcdhCurves ?? [];
    const baseValues = { defaultRevision: 'default' };
    const cniValues = { global: { platform: props.platform ?? '' }, cni: { excludeNamespaces: [ns, 'kube-system'] } };
    const istiodValues = {
      pilot: { cni: { enabled: cni }, env },
      meshConfig: {
        trustDomain: props.trustDomain,
        outboundTrafficPolicy: { mode: (props.registryOnlyEgress ?? true) ? 'REGISTRY_ONLY' : 'ALLOW_ANY' },
        tlsDefaults: { ecdhCurves: curves },
        defaultConfig: { holdApplicationUntilProxyStarts: true, proxyMetadata: env },
      },
      global: { proxy: { privileged: false } },
    };
    // Pod Security restricted: the chart's default pod securityContext only sets the unprivileged-port sysctl (kept
    // here, the proxy binds 80/443 as uid 1337) and its container context has no seccomp profile.
    const gatewayValues = {
      env,
      service: {
        type: serviceType,
        annotations: { ...(props.gatewayServiceAnnotations ?? {}) },
        ...(props.gatewayLoadBalancerClass ? { loadBalancerClass: props.gatewayLoadBalancerClass } : {}),
      },
      securityContext: {
        runAsNonRoot: true,
        runAsUser: ISTIO_PROXY_UID,
        runAsGroup: ISTIO_PROXY_UID,
        fsGroup: ISTIO_PROXY_UID,
        seccompProfile: { type: 'RuntimeDefault' },
        sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }],
      },
      containerSecurityContext: RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    };

    this.base = release('istio-base', 'base', ns, baseValues, [systemNs]);
    let last: ITerraformDependable = this.base;
    if (cni) {
      this.cni = release('istio-cni', 'cni', ns, cniValues, [this.base]);
      last = this.cni;
    }
    this.istiod = release('istiod', 'istiod', ns, istiodValues, [last]);
    if (props.gateway ?? true) {
      this.gateway = release('istio-ingressgateway', 'gateway', gwNs, gatewayValues, [this.istiod, gatewayNs]);
    }
    this.values = {
      base: baseValues,
      ...(cni ? { cni: cniValues } : {}),
      istiod: istiodValues,
      ...((props.gateway ?? true) ? { gateway: gatewayValues } : {}),
    };
  }
}
