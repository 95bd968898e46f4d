import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { manifestSha256 } from '../../runtime/agents/cognitive';
import { isGlimmerError, type ErrorCode } from '../../runtime/errors';
import { loadAnomalyModel } from '../../runtime/reasoning/anomaly-model';
import { FP32_MODEL, INT8_MODEL, sha256Of } from '../../bench/scenarios/inference';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'reasoning');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-model-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function refused(file: string, code: ErrorCode, why: RegExp, expected = sha256Of(file)): Promise<void> {
  await assert.rejects(loadAnomalyModel({ file, expectedSha256: expected }), (e: unknown) => {
    assert.ok(isGlimmerError(e, code), `expected ${code}, got ${String((e as Error).message)}`);
    assert.match(e.message, why);
    return true;
  });
}

test('GIVEN the shipped int8 model WHEN loaded with the hash in models/SHA256SUMS THEN it keeps the contract and is dynamically quantized (DynamicQuantizeLinear + MatMulInteger)', async () => {
  const sums = fs.readFileSync(path.join(path.dirname(INT8_MODEL), 'SHA256SUMS'), 'utf8');
  const want = /^([0-9a-f]{64})\s+anomaly-int8\.onnx$/m.exec(sums)?.[1];
  assert.ok(want, 'SHA256SUMS lists the int8 model');
  const model = await loadAnomalyModel({ file: INT8_MODEL, expectedSha256: want });
  assert.equal(model.sha256, want);
  const [s] = await model.score(new Float32Array(60 * 16), 1);
  assert.ok(s && s.anomaly >= 0 && s.anomaly <= 1 && Object.keys(s.assetScores).length === 6);
  await model.close();
  const bytes = fs.readFileSync(INT8_MODEL).toString('latin1');
  assert.ok(bytes.includes('DynamicQuantizeLinear') && bytes.includes('MatMulInteger'));
  assert.ok(fs.statSync(INT8_MODEL).size < fs.statSync(FP32_MODEL).size, 'int8 is smaller than fp32');
  assert.ok(fs.statSync(INT8_MODEL).size < 4 * 1024 * 1024, 'a few MB at most');
});

test('GIVEN a model whose input has 30 time steps WHEN loaded THEN GLM_ERR_MODEL_CONTRACT names the expected shape', async () => {
  await refused(path.join(FIXTURES, 'wrong-shape.onnx'), 'GLM_ERR_MODEL_CONTRACT', /shape \[batch, 60, 16\]/);
});

test('GIVEN a model without the class_probs and asset_probs outputs WHEN loaded THEN GLM_ERR_MODEL_CONTRACT names the missing output', async () => {
  await refused(path.join(FIXTURES, 'wrong-outputs.onnx'), 'GLM_ERR_MODEL_CONTRACT', /output class_probs is missing/);
});

test('GIVEN a model with 3 classes instead of 4 WHEN loaded THEN GLM_ERR_MODEL_CONTRACT (found by the probe run)', async () => {
  await refused(path.join(FIXTURES, 'wrong-classes.onnx'), 'GLM_ERR_MODEL_CONTRACT', /class_probs must be \[batch, 4\], found \[1,3\]/);
});

test('GIVEN a model whose sha256 differs from the manifest entry WHEN loaded THEN GLM_ERR_MODEL_UNTRUSTED', async () => {
  await refused(INT8_MODEL, 'GLM_ERR_MODEL_UNTRUSTED', /sha256 [0-9a-f]{64}, the signed release manifest lists/, 'ab'.repeat(32));
});

test('GIVEN bytes that are not ONNX WHEN loaded THEN GLM_ERR_MODEL_UNREADABLE', async () => {
  const file = path.join(dir, 'garbage.onnx');
  fs.writeFileSync(file, 'not a model at all');
  await refused(file, 'GLM_ERR_MODEL_UNREADABLE', /is not a model onnxruntime can load/);
});

test('GIVEN a missing model file WHEN loaded THEN GLM_ERR_MODEL_UNREADABLE', async () => {
  await refused(path.join(dir, 'none.onnx'), 'GLM_ERR_MODEL_UNREADABLE', /cannot be read/, 'ab'.repeat(32));
});

test('GIVEN a release manifest that does not list the configured model WHEN the agent looks its hash up THEN GLM_ERR_MODEL_UNTRUSTED', () => {
  const manifest = path.join(dir, 'release-manifest.json');
  fs.writeFileSync(manifest, JSON.stringify({ version: 1, release: 'test', created: '2026-01-01T00:00:00Z', artifacts: [{ path: 'models/anomaly-int8.onnx', sha256: 'ab'.repeat(32) }] }));
  assert.equal(manifestSha256('models/anomaly-int8.onnx', manifest), 'ab'.repeat(32));
  assert.throws(() => manifestSha256('models/user-model.onnx', manifest), (e: unknown) => isGlimmerError(e, 'GLM_ERR_MODEL_UNTRUSTED') && /not listed/.test(e.message));
});
