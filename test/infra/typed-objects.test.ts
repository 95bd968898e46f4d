/**
 * Kubernetes objects in modules/ are typed by the upstream models (k8sObject<IModel>): a misspelt or misplaced field is
 * a compile error, not a surprise at apply. Proved by compiling small files with the repository's compiler settings
 * (in a temporary folder beside this test, outside the folders the layering check reads).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

const ROOT = path.resolve(__dirname, '..', '..');

function compile(source: string): { status: number | null; output: string } {
  const dir = fs.mkdtempSync(path.join(__dirname, '.typed-probe-'));
  try {
    fs.writeFileSync(path.join(dir, 'probe.ts'), source);
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../../../tsconfig.json', include: ['probe.ts'] }));
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const header = `import { TerraformStack, Testing } from '../../../modules/tf';
import { k8sObject } from '../../../modules/k8s';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
const s = new TerraformStack(Testing.app(), 's');
`;

test('GIVEN a StatefulSet with a misspelt field (volumeClaimTemplate) WHEN compiled THEN tsc refuses it; the correct field compiles', { timeout: 240_000 }, () => {
  const bad = compile(`${header}k8sObject<IStatefulSet>(s, 'x', { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'x' }, spec: { selector: {}, serviceName: 'x', template: {}, volumeClaimTemplate: [] } });\n`);
  assert.notEqual(bad.status, 0);
  assert.match(bad.output, /error TS\d+: Object literal may only specify known properties, but 'volumeClaimTemplate' does not exist in type 'IStatefulSetSpec'/);
  const untyped = compile(`${header}k8sObject(s, 'x', { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'x' } });\n`);
  assert.notEqual(untyped.status, 0, 'an object without its model type is refused too');
  const good = compile(`${header}k8sObject<IStatefulSet>(s, 'x', { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'x' }, spec: { selector: {}, serviceName: 'x', template: {}, volumeClaimTemplates: [] } });\n`);
  assert.equal(good.status, 0, good.output);
});
