/**
 * Prometheus Operator objects for the runtime: a ServiceMonitor per zone namespace (scraping the sidecar's merged
 * metrics port, which carries the agent's /metrics) and one PrometheusRule with the alert groups of
 * monitoring/prometheus/custom_rules.yml. Needs the Prometheus Operator CRDs in the cluster.
 */
import { Construct } from 'constructs';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { escapeDeep, k8sObject } from './k8s';
import type { ITerraformDependable } from './tf';
import { checkPattern, DNS_LABEL, invalidProp } from './validate';
import { LABELS } from './zone-model';

export interface AlertRuleGroup {
  readonly name: string;
  readonly rules: readonly Record<string, unknown>[];
  readonly interval?: string;
}

export interface RuntimeMonitoringProps {
  /** Namespaces with agents: one ServiceMonitor each. */
  readonly namespaces: readonly string[];
  /** Alert groups (the `groups` of a Prometheus rule file). @default [] (no PrometheusRule) */
  readonly ruleGroups?: readonly AlertRuleGroup[];
  /** Namespace of the PrometheusRule. @default 'monitoring' */
  readonly ruleNamespace?: string;
  /** Labels the Prometheus instance selects ServiceMonitors and rules by. @default { release: 'prometheus' } */
  readonly selectorLabels?: Readonly<Record<string, string>>;
  /** @default '30s' */
  readonly scrapeInterval?: string;
  /** Terraform `count` of every object: 1, 0, or a token (the prometheus_operator variable). @default 1 */
  readonly enabled?: number;
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

export class RuntimeMonitoring extends Construct {
  readonly objects: Manifest[] = [];

  constructor(scope: Construct, id: string, props: RuntimeMonitoringProps) {
    super(scope, id);
    const extra = props.selectorLabels ?? { release: 'prometheus' };
    const interval = checkPattern(this, 'scrapeInterval', props.scrapeInterval ?? '30s', /^[1-9][0-9]*(s|m)$/, 'a duration like 30s or 1m');
    const deps = { dependsOn: props.dependsOn };
    const count = props.enabled ?? 1;
    for (const ns of props.namespaces) {
      checkPattern(this, 'namespaces', ns, DNS_LABEL, 'Kubernetes namespace names');
      this.objects.push(k8sObject<IServiceMonitor>(this, `${ns}-service-monitor`, {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'glimmer', namespace: ns, labels: { ...extra, [LABELS.partOf]: 'glimmer' } },
        spec: {
          selector: { matchLabels: { [LABELS.name]: 'glimmer' } },
          namespaceSelector: { matchNames: [ns] },
          endpoints: [{ port: 'http-envoy-prom', path: '/stats/prometheus', interval }],
        },
      }, { ...deps, count }));
    }
    const groups = props.ruleGroups ?? [];
    if (groups.length > 0) {
      const ruleNs = checkPattern(this, 'ruleNamespace', props.ruleNamespace ?? 'monitoring', DNS_LABEL, 'a Kubernetes namespace name');
      for (const g of groups) {
        if (typeof g.name !== 'string' || !Array.isArray(g.rules)) invalidProp(this, 'ruleGroups', g, 'groups with a name and a rules list');
      }
      this.objects.push(k8sObject<IPrometheusRule>(this, 'prometheus-rule', {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: { name: 'glimmer', namespace: ruleNs, labels: { ...extra, [LABELS.partOf]: 'glimmer' } },
        spec: { groups: escapeDeep(groups) as NonNullable<IPrometheusRule['spec']>['groups'] },
      }, { ...deps, count }));
    }
  }
}
