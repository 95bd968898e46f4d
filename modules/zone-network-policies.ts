/**
 * NetworkPolicies that deny all traffic in every zone and open only: DNS, the Istio control plane, traffic inside the
 * zone, the conduits of the zone model (ingress in the receiving zone, egress in the sending zone, on the conduit's
 * ports), Prometheus scraping the sidecars' merged metrics, and the ingress gateway into the control zone.
 * The mesh's own namespaces are closed the same way: istiod takes xDS from pods and webhook calls from the API server;
 * the gateway takes client traffic and reaches only the control zone.
 */
import { Construct } from 'constructs';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyEgressRule } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyEgressRule';
import type { INetworkPolicySpec } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicySpec';
import { GATEWAY_CLIENT_PORTS, GATEWAY_TARGET_PORTS } from './istio-mesh';
import { k8sObject } from './k8s';
import type { ITerraformDependable } from './tf';
import { checkZoneModel, A2A_PORT, ISTIO_METRICS_PORT, LABELS, API_PORT, portsOf, type ConduitSpec, type ZoneSpec } from './zone-model';

export interface ZoneNetworkPoliciesProps {
  readonly zones: readonly ZoneSpec[];
  readonly conduits: readonly ConduitSpec[];
  /** Namespace of the zone the ingress gateway may reach (a zone name or a token such as lower(var.control_zone)). */
  readonly controlZoneNamespace: string;
  /** Namespace of the Istio ingress gateway. @default 'istio-ingress' */
  readonly gatewayNamespace?: string;
  /** Namespace of istiod. @default 'istio-system' */
  readonly istioNamespace?: string;
  /** Namespace of Prometheus. @default 'monitoring' */
  readonly monitoringNamespace?: string;
  /**
   * Zones where an agent serves A2A: an a2a conduit opens the A2A port back into its source zone only if something
   * there listens (a policy opening a port no Service targets is a hole with no purpose). @default - every zone
   */
  readonly a2aZones?: readonly string[];
  /** The namespaces, so policies are created after them. @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

const NS = 'kubernetes.io/metadata.name';
const tcp = (ports: readonly number[]) => ports.map((port) => ({ protocol: 'TCP' as const, port }));

export class ZoneNetworkPolicies extends Construct {
  readonly policies: Manifest[] = [];

  constructor(scope: Construct, id: string, props: ZoneNetworkPoliciesProps) {
    super(scope, id);
    checkZoneModel({ zones: props.zones, conduits: props.conduits, agents: [], trustDomain: 'unused' });
    const istio = props.istioNamespace ?? 'istio-system';
    const monitoring = props.monitoringNamespace ?? 'monitoring';
    const gateway = props.gatewayNamespace ?? 'istio-ingress';
    const deps = { dependsOn: props.dependsOn };
    const add = (idPart: string, object: INetworkPolicy) => this.policies.push(k8sObject<INetworkPolicy>(this, idPart, object, deps));
    const policy = (namespace: string, name: string, spec: Omit<INetworkPolicySpec, 'podSelector'> & Partial<Pick<INetworkPolicySpec, 'podSelector'>>): INetworkPolicy => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name, namespace },
      spec: { podSelector: {}, ...spec },
    });

    for (const zone of props.zones) {
      const z = zone.name;
      add(`${z}-default-deny`, policy(z, 'default-deny', { policyTypes: ['Ingress', 'Egress'] }));
      add(`${z}-allow-dns`, policy(z, 'allow-dns', {
        policyTypes: ['Egress'],
        egress: [{
          to: [{ namespaceSelector: { matchLabels: { [NS]: 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
          ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
        }],
      }));
      add(`${z}-allow-istio-control-plane`, policy(z, 'allow-istio-control-plane', {
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { [NS]: istio } } }], ports: tcp([15012]) }],
      }));
      add(`${z}-allow-same-zone`, policy(z, 'allow-same-zone', {
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: {} }] }],
        egress: [{ to: [{ podSelector: {} }] }],
      }));
      add(`${z}-allow-metrics-scrape`, policy(z, 'allow-metrics-scrape', {
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: monitoring } } }], ports: tcp([ISTIO_METRICS_PORT]) }],
      }));
    }
    for (const c of props.conduits) {
      const ports = tcp(portsOf(c.protocols));
      const name = `conduit-${c.from}-to-${c.to}`;
      add(`${c.to}-${name}-ingress`, policy(c.to, `${name}-ingress`, {
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { [LABELS.zone]: c.from } } }], ports }],
      }));
      add(`${c.from}-${name}-egress`, policy(c.from, `${name}-egress`, {
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { [LABELS.zone]: c.to } } }], ports }],
      }));
      if (!c.protocols.includes('a2a') || (props.a2aZones && !props.a2aZones.includes(c.from))) continue;
      // A2A is a conversation between agents: either end may call, as the runtime's PDP reads an a2a conduit.
      const back = `a2a-conduit-${c.to}-to-${c.from}`;
      add(`${c.from}-${back}-ingress`, policy(c.from, `${back}-ingress`, {
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { [LABELS.zone]: c.to } } }], ports: tcp([A2A_PORT]) }],
      }));
      add(`${c.to}-${back}-egress`, policy(c.to, `${back}-egress`, {
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { [LABELS.zone]: c.from } } }], ports: tcp([A2A_PORT]) }],
      }));
    }
    add('control-zone-allow-ingress-gateway', policy(props.controlZoneNamespace, 'allow-ingress-gateway', {
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS]: gateway } } }], ports: tcp([API_PORT]) }],
    }));

    const dns: INetworkPolicyEgressRule = { to: [{ namespaceSelector: { matchLabels: { [NS]: 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] };
    const anywhere = [{ ipBlock: { cidr: '0.0.0.0/0' } }];
    add('istio-default-deny', policy(istio, 'default-deny', { policyTypes: ['Ingress', 'Egress'] }));
    add('istio-allow-istiod', policy(istio, 'allow-istiod', {
      podSelector: { matchLabels: { app: 'istiod' } },
      policyTypes: ['Ingress', 'Egress'],
      // xDS and CA from every sidecar and gateway; the sidecar injector and validation webhooks from the API server.
      ingress: [{ from: [{ namespaceSelector: {} }], ports: tcp([15012, 15014]) }, { from: anywhere, ports: tcp([15017]) }],
      // the Kubernetes API (its address is outside the pod network) and DNS.
      egress: [{ to: anywhere, ports: tcp([443, 6443]) }, dns],
    }));
    add('gateway-default-deny', policy(gateway, 'default-deny', { policyTypes: ['Ingress', 'Egress'] }));
    add('gateway-allow-clients', policy(gateway, 'allow-clients', {
      podSelector: { matchLabels: { istio: 'ingressgateway' } },
      policyTypes: ['Ingress', 'Egress'],
      // The chart's Service targets 80/443 on the pod (not 8080/8443), and 15021 for the load balancer's health check.
      ingress: [{ from: anywhere, ports: tcp(GATEWAY_CLIENT_PORTS) }, { from: anywhere, ports: tcp([GATEWAY_TARGET_PORTS['status-port']]) }],
      egress: [
        { to: [{ namespaceSelector: { matchLabels: { [NS]: istio } } }], ports: tcp([15012]) },
        { to: [{ namespaceSelector: { matchLabels: { [NS]: props.controlZoneNamespace } } }], ports: tcp([API_PORT]) },
        dns,
      ],
    }));
  }
}
