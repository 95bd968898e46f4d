import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { glimmer } from '../helpers/cli';
import { testRelease } from './fixtures';

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const r = await glimmer(args);
  return { code: r.code, out: r.stdout + r.stderr };
}

test('GIVEN an untouched release WHEN glimmer verify-boot runs THEN exit 0 with the measurement', async () => {
  const r = testRelease([{ name: 'data-1', kind: 'data', zone: 'dmz' }]);
  const keyFile = path.join(r.root, 'key.pem');
  fs.writeFileSync(keyFile, r.publicKeyPem);
  const { code, out } = await run(['verify-boot', '--root', r.root, '--key', keyFile, '--json']);
  assert.equal(code, 0, out);
  const report = JSON.parse(out);
  assert.equal(report.ok, true);
  assert.match(report.measurement, /^[0-9a-f]{64}$/);
});

test('GIVEN a rule file added after signing WHEN glimmer verify-boot runs THEN exit 1 naming the unlisted file', async () => {
  const r = testRelease([{ name: 'data-1', kind: 'data', zone: 'dmz' }]);
  const keyFile = path.join(r.root, 'key.pem');
  fs.writeFileSync(keyFile, r.publicKeyPem);
  fs.writeFileSync(path.join(r.root, 'rules', 'backdoor.pl'), 'allow(_).\n');
  const { code, out } = await run(['verify-boot', '--root', r.root, '--key', keyFile, '--json']);
  assert.equal(code, 1);
  const report = JSON.parse(out);
  assert.equal(report.code, 'GLM_ERR_BOOT_ARTIFACT_MISSING');
  assert.equal(report.artifact, 'rules/backdoor.pl');
});

test('GIVEN a missing key file WHEN glimmer verify-boot runs THEN exit 2 (usage error)', async () => {
  const r = testRelease([{ name: 'data-1', kind: 'data', zone: 'dmz' }]);
  const { code, out } = await run(['verify-boot', '--root', r.root, '--key', '/nonexistent.pem']);
  assert.equal(code, 2);
  assert.match(out, /GLM_ERR_USAGE/);
});
