/**
 * Contracts of the synthesized JSON: logical ids never change silently (renaming one replaces a KMS key or an HSM),
 * secrets never reach cdk.tf.json, and every topology variable is declared with its validation.
 * Update the snapshot deliberately with GLIMMER_UPDATE_SNAPSHOT=1 after reviewing which resources would be replaced
 * (refused under CI, where the switch would only make the comparison pass).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { snapshotUpdateRequested, synthAll, type TfJson } from './helpers';

const SNAPSHOT = path.join(__dirname, 'logical-ids.snapshot.json');
const { stacks, text } = synthAll();

function logicalIds(stack: TfJson): string[] {
  const ids: string[] = [];
  for (const [type, byId] of Object.entries(stack.resource ?? {})) for (const id of Object.keys(byId)) ids.push(`${type}.${id}`);
  for (const [type, byId] of Object.entries(stack.data ?? {})) for (const id of Object.keys(byId)) ids.push(`data.${type}.${id}`);
  for (const name of Object.keys(stack.variable ?? {})) ids.push(`var.${name}`);
  for (const name of Object.keys(stack.output ?? {})) ids.push(`output.${name}`);
  return ids.sort();
}

test('GIVEN every stack WHEN its logical ids are compared with the committed snapshot THEN none was added, renamed or removed unnoticed', () => {
  const current = Object.fromEntries(Object.entries(stacks).map(([name, s]) => [name, logicalIds(s)]));
  if (snapshotUpdateRequested(process.env)) fs.writeFileSync(SNAPSHOT, `${JSON.stringify(current, null, 2)}\n`);
  const committed = JSON.parse(fs.readFileSync(SNAPSHOT, 'utf8')) as Record<string, string[]>;
  assert.deepEqual(current, committed);
});

test('GIVEN the stateful resources WHEN their logical ids are read THEN the HSM, the keys and the audit bucket keep the ids of the snapshot', () => {
  const committed = JSON.parse(fs.readFileSync(SNAPSHOT, 'utf8')) as Record<string, string[]>;
  for (const type of ['aws_cloudhsm_v2_cluster', 'aws_kms_key', 'aws_s3_bucket.', 'aws_kms_custom_key_store']) {
    const ids = (committed.cloud ?? []).filter((id) => id.startsWith(type));
    assert.ok(ids.length > 0, type);
    for (const id of ids) assert.ok(logicalIds(stacks.cloud!).includes(id), `${id} changed: terraform would replace it`);
  }
});

test('GIVEN secrets in the environment (TF_VAR_custom_key_store_password) WHEN the stacks are synthesized THEN no cdk.tf.json contains them and sensitive variables have no default', () => {
  const secret = 'Kms-User-Pa55word-never-in-json';
  const previous = process.env.TF_VAR_custom_key_store_password;
  process.env.TF_VAR_custom_key_store_password = secret;
  try {
    // The stacks never read it (Terraform does, at plan): the synthesized text cannot contain it.
    for (const [name, json] of Object.entries(text)) assert.ok(!json.includes(secret), `${name} contains the secret`);
  } finally {
    if (previous === undefined) delete process.env.TF_VAR_custom_key_store_password;
    else process.env.TF_VAR_custom_key_store_password = previous;
  }
  for (const [name, s] of Object.entries(stacks)) {
    for (const [v, spec] of Object.entries(s.variable ?? {})) {
      if (spec.sensitive) assert.equal(spec.default ?? null, null, `${name}: sensitive variable ${v} has a default`);
    }
    for (const [type, byId] of Object.entries(s.resource ?? {})) {
      for (const [id, r] of Object.entries(byId)) {
        for (const key of Object.keys(r)) {
          if (/password|secret|token/i.test(key)) assert.match(String(r[key]), /^\$\{var\.[a-z_]+\}$/, `${name}: ${type}.${id}.${key} is not a variable reference`);
        }
      }
    }
  }
  assert.equal((stacks.cloud!.resource!.aws_kms_custom_key_store as Record<string, Record<string, unknown>>)[Object.keys(stacks.cloud!.resource!.aws_kms_custom_key_store!)[0]!]!.key_store_password, '${var.custom_key_store_password}');
});

const TOPOLOGY_VARIABLES = ['deployment_model', 'control_zone', 'safety_zone_level', 'cluster_autoscaling', 'service_mesh', 'quantum_safe', 'tpm_attestation'];

test('GIVEN every stack WHEN its variables are read THEN the seed topology variables are declared, validated, and name their allowed values', () => {
  for (const [name, s] of Object.entries(stacks)) {
    for (const v of TOPOLOGY_VARIABLES) assert.ok(s.variable?.[v], `${name} lacks variable ${v}`);
    const dm = s.variable!.deployment_model!.validation as Array<{ error_message: string }>;
    assert.match(dm[0]!.error_message, /must be one of ISA95_ZONED, HYPERSCALE/);
    assert.equal(s.variable!.deployment_model!.default, name.startsWith('cloud') ? 'HYPERSCALE' : 'ISA95_ZONED');
    assert.match((s.variable!.safety_zone_level!.validation as Array<{ error_message: string }>)[0]!.error_message, /1\.\.4/);
    assert.match((s.variable!.control_zone!.validation as Array<{ error_message: string }>)[0]!.error_message, /must be one of DMZ/);
  }
});

test('GIVEN every synthesized stack WHEN glimmer plan-review reads its cdk.tf.json THEN there is no blocking finding', async () => {
  const { reviewText } = await import('../../runtime/review/plan-review');
  for (const [name, json] of Object.entries(text)) {
    const report = reviewText(json, `${name}/cdk.tf.json`);
    assert.equal(report.summary.blocking, 0, `${name}: ${JSON.stringify(report.findings.map((f) => [f.ruleId, f.message]))}`);
    assert.ok(report.resourcesReviewed > 0);
  }
});

test('GIVEN GLIMMER_UPDATE_SNAPSHOT=1 WHEN CI is set THEN the update is refused instead of rewriting the snapshot; without CI it is honoured, and without the switch nothing is written', () => {
  assert.throws(() => snapshotUpdateRequested({ GLIMMER_UPDATE_SNAPSHOT: '1', CI: 'true' }), /refused under CI/);
  assert.equal(snapshotUpdateRequested({ GLIMMER_UPDATE_SNAPSHOT: '1' }), true);
  assert.equal(snapshotUpdateRequested({ CI: 'true' }), false);
  assert.equal(snapshotUpdateRequested({}), false);
});
