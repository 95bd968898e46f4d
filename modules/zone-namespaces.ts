/**
 * One namespace per IEC 62443 zone, labelled with its ISA-95 level and security level, Pod Security `restricted`
 * (enforced, audited, warned) and Istio sidecar injection (restricted pods need the Istio CNI: see IstioMesh).
 */
import { Construct } from 'constructs';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import { k8sObject } from './k8s';
import { checkOneOf, checkPattern, DNS_LABEL } from './validate';
import { LABELS, type ZoneSpec } from './zone-model';

export const POD_SECURITY_LEVELS = ['restricted', 'baseline'] as const;

export interface ZoneNamespacesProps {
  readonly zones: readonly ZoneSpec[];
  /** Pod Security Standard enforced in every zone; baseline is an explicit opt-out. @default 'restricted' */
  readonly podSecurity?: (typeof POD_SECURITY_LEVELS)[number];
  /** Label `istio-injection=enabled`. @default true */
  readonly istioInjection?: boolean;
}

export class ZoneNamespaces extends Construct {
  readonly namespaces: Map<string, Manifest> = new Map();

  constructor(scope: Construct, id: string, props: ZoneNamespacesProps) {
    super(scope, id);
    const pss = checkOneOf(this, 'podSecurity', props.podSecurity ?? 'restricted', POD_SECURITY_LEVELS);
    for (const zone of props.zones) {
      checkPattern(this, 'zones.name', zone.name, DNS_LABEL, 'a Kubernetes namespace name');
      this.namespaces.set(zone.name, k8sObject<INamespace>(this, zone.name, {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: zone.name,
          labels: {
            [LABELS.zone]: zone.name,
            [LABELS.isa95Level]: String(zone.isa95Level),
            [LABELS.securityLevel]: String(zone.securityLevel),
            'pod-security.kubernetes.io/enforce': pss,
            'pod-security.kubernetes.io/enforce-version': 'latest',
            'pod-security.kubernetes.io/audit': 'restricted',
            'pod-security.kubernetes.io/warn': 'restricted',
            ...((props.istioInjection ?? true) ? { 'istio-injection': 'enabled' } : {}),
          },
        },
      }));
    }
  }
}
