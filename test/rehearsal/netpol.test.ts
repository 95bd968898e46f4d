/** NetworkPolicy semantics as the rehearsal applies them (netpol.ts): isolation, selectors, ports, ipBlocks. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { hostRules, nftRuleset, type Host, type NetworkPolicy } from './netpol';

const host = (name: string, namespace: string, ip: string): Host => ({ name, namespace, ip, labels: { 'app.kubernetes.io/name': 'glimmer', 'app.kubernetes.io/instance': name } });
const ind = host('industrial-1', 'control', '10.0.0.12');
const cog = host('cognitive-1', 'operations', '10.0.0.10');
const data = host('data-1', 'dmz', '10.0.0.11');
const hosts = [ind, cog, data];
const nsLabels = new Map([['control', { 'glimmer.io/zone': 'control' }], ['operations', { 'glimmer.io/zone': 'operations' }], ['dmz', { 'glimmer.io/zone': 'dmz' }]]);
const np = (namespace: string, name: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({ metadata: { name, namespace }, spec });
const policies: NetworkPolicy[] = [
  np('control', 'default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
  np('control', 'from-operations', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'glimmer.io/zone': 'operations' } } }], ports: [{ protocol: 'TCP', port: 5020 }, { protocol: 'TCP', port: 9443 }] }] }),
  np('control', 'plant-egress', { podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'industrial-1' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.0.0.100/32' } }], ports: [{ protocol: 'TCP', port: 502 }] }] }),
  np('operations', 'only-ingress', { podSelector: {}, policyTypes: ['Ingress'] }),
];

test('GIVEN default deny plus a conduit and a plant egress WHEN rules are derived per host THEN only the conduit source and ports, and the plant CIDR, are accepted; a host without egress policies is not egress-isolated', () => {
  const r = hostRules(ind, hosts, policies, nsLabels);
  assert.equal(r.ingressIsolated, true);
  assert.equal(r.egressIsolated, true);
  assert.deepEqual(r.ingress, ['ip saddr 10.0.0.10 tcp dport 5020 accept', 'ip saddr 10.0.0.10 tcp dport 9443 accept']);
  assert.deepEqual(r.egress, ['ip daddr 10.0.0.100/32 tcp dport 502 accept']);
  const c = hostRules(cog, hosts, policies, nsLabels);
  assert.equal(c.ingressIsolated, true);
  assert.equal(c.egressIsolated, false);
  assert.deepEqual(c.ingress, []);
  const d = hostRules(data, hosts, policies, nsLabels);
  assert.deepEqual([d.ingressIsolated, d.egressIsolated, d.policies], [false, false, []]);
});

test('GIVEN the derived rules WHEN rendered as an nftables ruleset THEN nft accepts it (checked with nft -c) with drop policies, loopback, replies and the node\'s probe port', () => {
  const text = nftRuleset('glimmer', hostRules(ind, hosts, policies, nsLabels), { ip: '10.0.0.1', probePorts: [8080] });
  assert.match(text, /hook input priority 0; policy drop;/);
  assert.match(text, /ip saddr 10\.0\.0\.1 tcp dport 8080 accept/);
  const check = spawnSync('nft', ['-c', '-f', '-'], { input: text, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
});
