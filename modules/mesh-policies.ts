/**
 * The mesh's zero-trust CRs: STRICT mTLS mesh-wide, a mesh-wide allow-nothing AuthorizationPolicy (default deny), and
 * explicit ALLOW policies: inside a zone, one per conduit of the zone model (source zone's identities, the conduit's
 * ports), and from the ingress gateway into the control zone. These need Istio's CRDs at plan time: a later stack.
 */
import { Construct } from 'constructs';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import type { IAuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import type { IPeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication';
import { GATEWAY_CLIENT_PORTS } from './istio-mesh';
import { k8sObject } from './k8s';
import type { ITerraformDependable } from './tf';
import { checkPattern } from './validate';
import { checkZoneModel, A2A_PORT, API_PORT, portsOf, type ConduitSpec, type ZoneSpec } from './zone-model';

/** Istio serves PeerAuthentication as security.istio.io/v1; the models ship its (identical) v1beta1 schema only. */
type PeerAuthenticationV1 = Omit<IPeerAuthentication, 'apiVersion'> & { apiVersion: 'security.istio.io/v1' };

export interface MeshPoliciesProps {
  readonly zones: readonly ZoneSpec[];
  readonly conduits: readonly ConduitSpec[];
  readonly trustDomain: string;
  /** Namespace of the zone the ingress gateway may reach (zone name or token). */
  readonly controlZoneNamespace: string;
  /** Istio root namespace (mesh-wide policies live there). @default 'istio-system' */
  readonly rootNamespace?: string;
  /** Namespace and service account of the ingress gateway. @default 'istio-ingress', 'istio-ingressgateway' */
  readonly gatewayNamespace?: string;
  readonly gatewayServiceAccount?: string;
  /**
   * Zones where an agent serves A2A: an a2a conduit opens the A2A port back into its source zone only if something
   * there listens (a policy opening a port no Service targets is a hole with no purpose). @default - every zone
   */
  readonly a2aZones?: readonly string[];
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

export class MeshPolicies extends Construct {
  readonly objects: Manifest[] = [];

  constructor(scope: Construct, id: string, props: MeshPoliciesProps) {
    super(scope, id);
    checkZoneModel({ zones: props.zones, conduits: props.conduits, agents: [], trustDomain: props.trustDomain });
    const td = checkPattern(this, 'trustDomain', props.trustDomain, /^[a-z0-9]([a-z0-9.-]{0,250}[a-z0-9])?$/, 'a DNS-like trust domain');
    const root = props.rootNamespace ?? 'istio-system';
    const gwNs = props.gatewayNamespace ?? 'istio-ingress';
    const gwSa = props.gatewayServiceAccount ?? 'istio-ingressgateway';
    type Policy = IAuthorizationPolicy | PeerAuthenticationV1;
    const add = (idPart: string, object: Policy) => this.objects.push(k8sObject<Policy>(this, idPart, object, { dependsOn: props.dependsOn }));
    const allow = (namespace: string, name: string, principals: string[], ports?: readonly number[]): IAuthorizationPolicy => ({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name, namespace },
      spec: {
        action: 'ALLOW',
        rules: [{ from: [{ source: { principals } }], ...(ports ? { to: [{ operation: { ports: ports.map(String) } }] } : {}) }],
      },
    });

    add('peer-authentication-strict', {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default', namespace: root },
      spec: { mtls: { mode: 'STRICT' } },
    });
    add('deny-all', {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'allow-nothing', namespace: root },
      spec: {},
    });
    add('gateway-allow-inbound', {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'allow-inbound', namespace: gwNs },
      // AuthorizationPolicy ports are the pod's (the Service's target ports), 80/443 for the gateway chart.
      spec: { selector: { matchLabels: { istio: 'ingressgateway' } }, action: 'ALLOW', rules: [{ to: [{ operation: { ports: GATEWAY_CLIENT_PORTS.map(String) } }] }] },
    });
    for (const zone of props.zones) {
      add(`${zone.name}-allow-same-zone`, allow(zone.name, 'allow-same-zone', [`${td}/ns/${zone.name}/sa/*`]));
    }
    for (const c of props.conduits) {
      add(`${c.to}-conduit-${c.from}`, allow(c.to, `conduit-${c.from}-to-${c.to}`, [`${td}/ns/${c.from}/sa/*`], portsOf(c.protocols)));
      // A2A is a conversation between agents: either end may call, as the runtime's PDP reads an a2a conduit.
      if (c.protocols.includes('a2a') && (!props.a2aZones || props.a2aZones.includes(c.from))) add(`${c.from}-a2a-conduit-${c.to}`, allow(c.from, `a2a-conduit-${c.to}-to-${c.from}`, [`${td}/ns/${c.to}/sa/*`], [A2A_PORT]));
    }
    add('control-zone-allow-ingress-gateway', allow(props.controlZoneNamespace, 'allow-ingress-gateway', [`${td}/ns/${gwNs}/sa/${gwSa}`], [API_PORT]));
  }
}
