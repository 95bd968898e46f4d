/**
 * Fuzzing the plan parser and rules with fast-check: random JSON, random plan-shaped documents over the resource types
 * the rules read, and random mutations of the fixtures never throw anything but a typed GLM_ERR_REVIEW_* error.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { isGlimmerError } from '../../runtime/errors';
import { renderJunit, toSarif, renderText } from '../../runtime/review/formats';
import { reviewText } from '../../runtime/review/plan-review';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'plans');
const ZONES = new Map([['control', 3], ['dmz', 2]]);

function reviewOrTypedError(text: string): void {
  try {
    const r = reviewText(text, 'fuzz.json', { zoneLevels: ZONES });
    // The renderers must cope with whatever the rules produced.
    renderText(r);
    renderJunit(r);
    JSON.stringify(toSarif(r));
    assert.ok(r.exitCode === 0 || r.exitCode === 1);
  } catch (err) {
    if (!(isGlimmerError(err) && err.code.startsWith('GLM_ERR_REVIEW_'))) throw err;
  }
}

const TYPES = [
  'aws_s3_bucket', 'aws_s3_bucket_object_lock_configuration', 'aws_s3_bucket_server_side_encryption_configuration', 'aws_kms_key',
  'aws_cloudhsm_v2_cluster', 'aws_ebs_volume', 'aws_eks_cluster', 'aws_lb', 'aws_security_group', 'aws_launch_template', 'aws_ecr_repository',
  'kubernetes_namespace_v1', 'kubernetes_network_policy_v1', 'kubernetes_deployment_v1', 'kubernetes_cron_job_v1', 'kubernetes_service_v1', 'kubernetes_manifest',
];
const KEYS = [
  'bucket', 'object_lock_enabled', 'rule', 'default_retention', 'days', 'years', 'mode', 'tags', 'metadata', 'spec', 'template', 'container',
  'security_context', 'privileged', 'manifest', 'kind', 'apiVersion', 'namespace', 'labels', 'mtls', 'podSelector', 'policyTypes', 'ingress',
  'type', 'vpc_config', 'endpoint_public_access', 'encryption_config', 'apply_server_side_encryption_by_default', 'sse_algorithm', 'containers',
  'securityContext', 'hostNetwork', 'pod_selector', 'policy_types', 'internal', 'block_device_mappings', 'ebs', 'encrypted', 'input',
];
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(true, false, null, 0, 3, 30, 'STRICT', 'PERMISSIVE', 'Ingress', 'Egress', 'LoadBalancer', 'COMPLIANCE', 'aws:kms', 'true', '${var.x}', 'istio-system', 'security.istio.io/v1', 'PeerAuthentication', 'Deployment', 'NetworkPolicy'),
    fc.string({ maxLength: 8 }),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('v'), { maxKeys: 5 }),
  ),
})).v;
const change = fc.record({
  address: fc.string({ minLength: 1, maxLength: 20 }),
  mode: fc.constantFrom('managed', 'data'),
  type: fc.constantFrom(...TYPES),
  name: fc.string({ minLength: 1, maxLength: 10 }),
  change: fc.record({
    actions: fc.constantFrom(['create'], ['delete'], ['update'], ['no-op'], ['delete', 'create'], ['create', 'delete'], ['read']),
    before: fc.option(fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 6 })),
    after: fc.option(fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 6 })),
    after_unknown: value,
  }),
});

/** Replaces the value at a random path of a document with another value, or deletes it. */
function mutate(doc: unknown, choices: number[], replacement: unknown): unknown {
  const root = structuredClone(doc);
  let cur: unknown = root;
  for (const [i, c] of choices.entries()) {
    if (cur === null || typeof cur !== 'object') break;
    const keys = Array.isArray(cur) ? cur.map((_, k) => k) : Object.keys(cur);
    if (keys.length === 0) break;
    const key = keys[c % keys.length] as string | number;
    const child = (cur as Record<string | number, unknown>)[key];
    if (i === choices.length - 1 || child === null || typeof child !== 'object') {
      if (replacement === undefined && !Array.isArray(cur)) delete (cur as Record<string, unknown>)[key as string];
      else (cur as Record<string | number, unknown>)[key] = replacement;
      break;
    }
    cur = child;
  }
  return root;
}

describe('plan-review fuzzing', () => {
  test('GIVEN arbitrary JSON values WHEN reviewed THEN only typed GLM_ERR_REVIEW_* errors are thrown', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => reviewOrTypedError(JSON.stringify(v))), { numRuns: 400 });
  });

  test('GIVEN arbitrary strings and truncated fixtures WHEN reviewed THEN only typed errors are thrown', () => {
    const text = fs.readFileSync(path.join(FIXTURES, 'edge-insecure.plan.json'), 'utf8');
    fc.assert(fc.property(fc.string({ maxLength: 64 }), fc.nat({ max: text.length }), (s, cut) => {
      reviewOrTypedError(s);
      reviewOrTypedError(text.slice(0, cut));
    }), { numRuns: 200 });
  });

  test('GIVEN plan-shaped documents with random resources of the reviewed types WHEN reviewed THEN only typed errors are thrown', () => {
    fc.assert(fc.property(
      fc.constantFrom('1.0', '1.2', '1.99', '2.0'),
      fc.array(change, { maxLength: 12 }),
      (fv, changes) => reviewOrTypedError(JSON.stringify({ format_version: fv, resource_changes: changes, planned_values: { root_module: { resources: [] } } })),
    ), { numRuns: 400 });
  });

  test('GIVEN random cdk.tf.json-shaped documents WHEN reviewed THEN only typed errors are thrown', () => {
    fc.assert(fc.property(
      fc.dictionary(fc.constantFrom(...TYPES), fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), value, { maxKeys: 3 }), { maxKeys: 6 }),
      (resource) => reviewOrTypedError(JSON.stringify({ resource, variable: { x: { default: 3 } } })),
    ), { numRuns: 300 });
  });

  test('GIVEN the fixtures with a random value replaced or deleted WHEN reviewed THEN only typed errors are thrown', () => {
    const docs = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')));
    fc.assert(fc.property(
      fc.nat({ max: docs.length - 1 }),
      fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 10 }),
      fc.option(value, { nil: undefined }),
      (d, choices, replacement) => reviewOrTypedError(JSON.stringify(mutate(docs[d], choices, replacement))),
    ), { numRuns: 500 });
  });
});
