/**
 * Kubernetes NetworkPolicy semantics (networking.k8s.io/v1) over the rehearsal's hosts, rendered as one nftables
 * ruleset per host network namespace, the way a policy-enforcing CNI programs each pod's interface:
 *  - a pod selected by any policy with `Ingress` (`Egress`) in policyTypes is isolated in that direction; what the
 *    union of those policies' rules allows is accepted, everything else dropped (replies of allowed flows pass);
 *  - peers: podSelector (the policy's namespace), namespaceSelector (namespace labels, plus the automatic
 *    kubernetes.io/metadata.name), both combined, or ipBlock (cidr minus except); ports by number (TCP/UDP), endPort;
 *  - an empty `from`/`to` matches every peer, an absent `ports` every port.
 * Peers outside the rehearsal (kube-dns, istiod, monitoring) select no host and so allow nothing here.
 */
export interface Host {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ip: string;
}

interface LabelSelector { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] }
interface Peer { podSelector?: LabelSelector; namespaceSelector?: LabelSelector; ipBlock?: { cidr: string; except?: string[] } }
interface PortSpec { protocol?: string; port?: number | string; endPort?: number }
interface Rule { from?: Peer[]; to?: Peer[]; ports?: PortSpec[] }
export interface NetworkPolicy {
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec: { podSelector?: LabelSelector; policyTypes?: string[]; ingress?: Rule[]; egress?: Rule[] };
}

export function matches(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const inValues = has && (e.values ?? []).includes(labels[e.key] as string);
    if ((e.operator === 'In' && !inValues) || (e.operator === 'NotIn' && inValues) || (e.operator === 'Exists' && !has) || (e.operator === 'DoesNotExist' && has)) return false;
  }
  return true;
}

/** An nftables match for the rule's ports ('' = every port). */
function portMatches(ports: PortSpec[] | undefined): string[] {
  if (!ports || ports.length === 0) return [''];
  return ports.map((p) => {
    const proto = (p.protocol ?? 'TCP').toLowerCase();
    if (p.port === undefined) return `meta l4proto ${proto}`;
    // Named ports would need the target container's port names; the stacks use numbers only.
    if (typeof p.port === 'string' && !/^[0-9]+$/.test(p.port)) throw new Error(`named port ${p.port} is not supported by the rehearsal`);
    return `${proto} dport ${p.port}${p.endPort ? `-${p.endPort}` : ''}`;
  });
}

/** nftables address matches of a rule's peers for `host` (saddr for ingress, daddr for egress); [] = nothing. */
function peerMatches(peers: Peer[] | undefined, policyNs: string, hosts: readonly Host[], namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>, dir: 'saddr' | 'daddr'): string[] {
  if (!peers || peers.length === 0) return [''];
  const out: string[] = [];
  for (const peer of peers) {
    if (peer.ipBlock) {
      const except = peer.ipBlock.except?.length ? ` ip ${dir} != { ${peer.ipBlock.except.join(', ')} }` : '';
      out.push(`ip ${dir} ${peer.ipBlock.cidr}${except}`);
      continue;
    }
    const selected = hosts.filter((h) => {
      const nsOk = peer.namespaceSelector
        ? matches(peer.namespaceSelector, { ...(namespaceLabels.get(h.namespace) ?? {}), 'kubernetes.io/metadata.name': h.namespace })
        : h.namespace === policyNs;
      return nsOk && matches(peer.podSelector, h.labels);
    });
    for (const h of selected) out.push(`ip ${dir} ${h.ip}`);
  }
  return out;
}

export interface HostRules {
  readonly ingressIsolated: boolean;
  readonly egressIsolated: boolean;
  /** nftables statements accepting what the policies allow. */
  readonly ingress: string[];
  readonly egress: string[];
  /** The policies that select this host (for the report). */
  readonly policies: string[];
}

export function hostRules(host: Host, hosts: readonly Host[], policies: readonly NetworkPolicy[], namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>): HostRules {
  const selecting = policies.filter((p) => (p.metadata.namespace ?? 'default') === host.namespace && matches(p.spec.podSelector ?? {}, host.labels));
  const types = (p: NetworkPolicy) => p.spec.policyTypes ?? (p.spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
  const rules = (dir: 'ingress' | 'egress') => {
    const out: string[] = [];
    for (const p of selecting) {
      for (const rule of p.spec[dir] ?? []) {
        const addrs = peerMatches(dir === 'ingress' ? rule.from : rule.to, host.namespace, hosts.filter((h) => h !== host), namespaceLabels, dir === 'ingress' ? 'saddr' : 'daddr');
        for (const a of addrs) for (const port of portMatches(rule.ports)) out.push(`${[a, port].filter(Boolean).join(' ')} accept`.trim());
      }
    }
    return [...new Set(out)];
  };
  return {
    ingressIsolated: selecting.some((p) => types(p).includes('Ingress')),
    egressIsolated: selecting.some((p) => types(p).includes('Egress')),
    ingress: rules('ingress'),
    egress: rules('egress'),
    policies: selecting.map((p) => `${p.metadata.namespace}/${p.metadata.name}`),
  };
}

/**
 * The nftables ruleset of one host. `node` is the node's address on the pod network: the kubelet's probes reach the
 * API port from it (Kubernetes lets the node reach its pods whatever the policies say).
 */
export function nftRuleset(table: string, r: HostRules, node: { ip: string; probePorts: readonly number[] }): string {
  const chain = (name: string, hook: string, isolated: boolean, lo: string, statements: string[]) => [
    `  chain ${name} {`,
    `    type filter hook ${hook} priority 0; policy ${isolated ? 'drop' : 'accept'};`,
    `    ${lo} accept`,
    '    ct state established,related accept',
    ...statements.map((s) => `    ${s}`),
    '  }',
  ];
  return [
    `table inet ${table} {`,
    ...chain('ingress', 'input', r.ingressIsolated, 'iif lo', [...node.probePorts.map((p) => `ip saddr ${node.ip} tcp dport ${p} accept`), ...r.ingress]),
    ...chain('egress', 'output', r.egressIsolated, 'oif lo', r.egress),
    '}',
    '',
  ].join('\n');
}
