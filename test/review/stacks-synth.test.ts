/**
 * plan-review on the real synthesized configurations of our own stacks (stacks/main.ts, both topologies, into a
 * temporary outdir). The stacks must stay clean: every finding must be one of the open items below, each with the
 * reason it stays open; a new finding fails the test.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { k8sObject } from '../../runtime/review/k8s';
import { loadReviewInput } from '../../runtime/review/resources';
import { reviewFile, type PlanReviewReport } from '../../runtime/review/plan-review';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Open items in the stacks (rule id + construct path), with why they are open. Empty: every item once listed here
 * (node root volumes on the default EBS key, istio namespaces without default-deny) is fixed, and the test below fails
 * on an entry that no review finds any more.
 */
const KNOWN_OPEN = new Map<string, string>([]);

describe('plan-review of the synthesized stacks', () => {
  let outdir: string;
  const reports = new Map<string, PlanReviewReport>();
  before(() => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-synth-'));
    const p = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'stacks', 'main.ts'), '--topology', 'all', '--outdir', outdir], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
    for (const stack of fs.readdirSync(path.join(outdir, 'stacks')).sort()) {
      reports.set(stack, reviewFile(path.join(outdir, 'stacks', stack, 'cdk.tf.json'), { zoneLevels: new Map([['enterprise', 1], ['dmz', 2], ['operations', 2], ['control', 3], ['safety', 3]]) }));
    }
  });
  after(() => fs.rmSync(outdir, { recursive: true, force: true }));

  test('GIVEN every synthesized stack WHEN reviewed THEN it parses as a cdk.tf.json, has no finding beyond the known open items, and every known open item still occurs (a fixed one must leave the list)', () => {
    assert.ok(reports.size >= 2, `stacks: ${[...reports.keys()].join(', ')}`);
    const unexpected: string[] = [];
    const seen = new Set<string>();
    for (const [stack, r] of reports) {
      assert.equal(r.input.kind, 'cdktf-config', stack);
      assert.ok(r.resourcesReviewed > 0, stack);
      for (const f of r.findings) {
        const key = `${f.ruleId} ${f.constructPath ?? f.address}`;
        seen.add(key);
        if (!KNOWN_OPEN.has(key)) unexpected.push(`${stack}: ${key}: ${f.message}`);
      }
    }
    assert.deepEqual(unexpected, []);
    assert.deepEqual([...KNOWN_OPEN.keys()].filter((k) => !seen.has(k)), [], 'known open items no review finds any more');
  });

  test('GIVEN the runtime stacks WHEN reviewed THEN mesh, pod and zone rules ran on real objects and passed', () => {
    for (const stack of [...reports.keys()].filter((s) => s.endsWith('-runtime'))) {
      const input = loadReviewInput(path.join(outdir, 'stacks', stack, 'cdk.tf.json'));
      const kinds = input.resources.map(k8sObject).map((o) => o?.kind);
      assert.ok(kinds.includes('PeerAuthentication') && kinds.includes('StatefulSet'), `${stack} has mesh policies and workloads`);
      assert.deepEqual(reports.get(stack)?.findings.map((f) => f.ruleId) ?? [], [], stack);
    }
  });

  test('GIVEN the cloud stack WHEN reviewed THEN its HSM, keys and Object Lock audit bucket raise no key, lock or lifecycle finding', () => {
    const cloud = reports.get('cloud');
    assert.ok(cloud, 'the cloud stack is synthesized');
    const input = loadReviewInput(path.join(outdir, 'stacks', 'cloud', 'cdk.tf.json'));
    for (const t of ['aws_cloudhsm_v2_cluster', 'aws_kms_key', 'aws_s3_bucket_object_lock_configuration']) assert.ok(input.resources.some((r) => r.type === t), t);
    assert.deepEqual(cloud.findings.filter((f) => /^GLM-(S3|KMS|LIFE|NET|MESH|POD)-/.test(f.ruleId)), []);
  });
});
