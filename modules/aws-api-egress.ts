/**
 * The agents' way out to the AWS APIs they sign, store and unwrap keys with (KMS, S3, STS), through a mesh that runs
 * REGISTRY_ONLY and zones that deny all egress: one ServiceEntry per API (mesh-wide, MESH_EXTERNAL, TLS), an egress
 * NetworkPolicy per agent namespace for those ports, and on EKS the Pod Identity agent (169.254.170.23, plain HTTP on
 * the node), which the sidecar must not capture: its address is excluded from interception.
 */
import { Construct } from 'constructs';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import type { IServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1beta1/ServiceEntry';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyEgressRule } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyEgressRule';
import { k8sObject } from './k8s';
import type { ITerraformDependable } from './tf';
import { checkPattern, DNS_LABEL } from './validate';

/** Istio's pod annotation listing CIDRs the sidecar leaves alone. */
export const EXCLUDE_OUTBOUND = 'traffic.sidecar.istio.io/excludeOutboundIPRanges';
/** The EKS Pod Identity agent's link-local address and port (the SDK's container credentials endpoint). */
export const POD_IDENTITY_AGENT = { cidr: '169.254.170.23/32', port: 80 } as const;

/** One external API: its host names and TLS port (literals or tokens). */
export interface ExternalApi {
  /** ServiceEntry name suffix, e.g. `kms`. */
  readonly name: string;
  readonly hosts: readonly string[];
  /** A number, or a token of one. */
  readonly port: number | string;
}

export interface AwsApiEgressProps {
  /** The agent namespaces. */
  readonly namespaces: readonly string[];
  /** The APIs the agents call (`AuditStore.hosts`). */
  readonly hosts: readonly ExternalApi[];
  /** Their ports, for the NetworkPolicies (duplicates allowed). */
  readonly ports: readonly (number | string)[];
  /** EKS: allow and exclude the Pod Identity agent. @default false */
  readonly podIdentityAgent?: boolean;
  /** Istio root namespace (a ServiceEntry there is visible mesh-wide). @default 'istio-system' */
  readonly rootNamespace?: string;
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

export class AwsApiEgress extends Construct {
  readonly objects: Manifest[] = [];
  /** The CIDR the agents' pods exclude from the sidecar, or undefined. */
  readonly excludeOutboundCidr?: string;

  constructor(scope: Construct, id: string, props: AwsApiEgressProps) {
    super(scope, id);
    const root = props.rootNamespace ?? 'istio-system';
    const deps = { dependsOn: props.dependsOn };
    for (const api of props.hosts) {
      checkPattern(this, 'hosts.name', api.name, DNS_LABEL, 'a Kubernetes object name');
      this.objects.push(k8sObject<IServiceEntry>(this, `service-entry-${api.name}`, {
        apiVersion: 'networking.istio.io/v1beta1',
        kind: 'ServiceEntry',
        metadata: { name: `glimmer-${api.name}`, namespace: root },
        spec: {
          hosts: [...api.hosts],
          location: 'MESH_EXTERNAL',
          resolution: 'DNS',
          ports: [{ number: api.port as number, name: `tls-${api.name}`, protocol: 'TLS' }],
        },
      }, deps));
    }
    if (props.podIdentityAgent) this.excludeOutboundCidr = POD_IDENTITY_AGENT.cidr;
    const egress: INetworkPolicyEgressRule[] = [
      // The APIs resolve to public or VPC-endpoint addresses that change: the port, not the address, is the limit here;
      // the mesh (REGISTRY_ONLY + ServiceEntry hosts) limits the names.
      { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: props.ports.map((port) => ({ protocol: 'TCP' as const, port: port as number })) },
      ...(props.podIdentityAgent ? [{ to: [{ ipBlock: { cidr: POD_IDENTITY_AGENT.cidr } }], ports: [{ protocol: 'TCP' as const, port: POD_IDENTITY_AGENT.port }] }] : []),
    ];
    for (const ns of props.namespaces) {
      checkPattern(this, 'namespaces', ns, DNS_LABEL, 'a Kubernetes namespace name');
      this.objects.push(k8sObject<INetworkPolicy>(this, `${ns}-egress`, {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'allow-aws-apis', namespace: ns },
        spec: { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'glimmer' } }, policyTypes: ['Egress'], egress },
      }, deps));
    }
  }
}
