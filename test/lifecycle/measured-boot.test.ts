import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { isGlimmerError } from '../../runtime/errors';
import { buildManifest, extend, measuredBoot, parseManifest, sha256File, signManifest } from '../../runtime/lifecycle/manifest';
import { pinReleaseKey } from '../../runtime/lifecycle/release';
import { CONFIG_PINS_ENV, parseConfigPins } from '../../runtime/lifecycle/config-pins';

function release(files: Record<string, string>, keyType: 'ed25519' | 'ec' = 'ed25519') {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-boot-'));
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
  const { privateKey, publicKey } = keyType === 'ed25519' ? crypto.generateKeyPairSync('ed25519') : crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const manifest = buildManifest(root, Object.keys(files), 'test-1');
  fs.writeFileSync(path.join(root, 'manifest.json'), manifest);
  fs.writeFileSync(path.join(root, 'manifest.sig'), signManifest(manifest, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()).toString('base64'));
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const input = (artifacts: string[]) => ({ root, manifestFile: path.join(root, 'manifest.json'), signatureFile: path.join(root, 'manifest.sig'), publicKeyPem, artifacts });
  return { root, input, publicKeyPem };
}

const FILES = { 'dist/agent.js': 'console.log(1)', 'config/glimmer.yml': 'a: 1', 'rules/industrial_safety.pl': 'safe(x).\n' };

test('GIVEN a signed manifest matching every artifact WHEN an agent boots THEN the measurement is the PCR-style chain over its artifacts in load order', () => {
  const { root, input } = release(FILES);
  const order = ['dist/agent.js', 'config/glimmer.yml', 'rules/industrial_safety.pl'];
  const m = measuredBoot(input(order));
  let expected: Buffer<ArrayBufferLike> = Buffer.alloc(32);
  for (const rel of order) expected = extend(expected, sha256File(path.join(root, rel)));
  assert.equal(m.value, expected.toString('hex'));
  assert.equal(m.artifacts.length, 3);
  // Order matters, as in a TPM PCR.
  assert.notEqual(measuredBoot(input([...order].reverse())).value, m.value);
});

test('GIVEN an ECDSA P-384 release key (as AWS KMS signs in CI) WHEN the manifest verifies THEN the boot passes', () => {
  const { input } = release(FILES, 'ec');
  assert.equal(measuredBoot(input(['dist/agent.js'])).artifacts.length, 1);
});

test('GIVEN a tampered rule file WHEN the agent boots THEN GLM_ERR_BOOT_ARTIFACT_MISMATCH names the rule file', () => {
  const { root, input } = release(FILES);
  fs.appendFileSync(path.join(root, 'rules/industrial_safety.pl'), 'safe(_).\n');
  assert.throws(() => measuredBoot(input(Object.keys(FILES))), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISMATCH') && err.message.includes('rules/industrial_safety.pl') && err.details.artifact === 'rules/industrial_safety.pl');
});

test('GIVEN an artifact the manifest does not list WHEN the agent loads it THEN GLM_ERR_BOOT_ARTIFACT_MISSING names it', () => {
  const { root, input } = release(FILES);
  fs.writeFileSync(path.join(root, 'rules/extra.pl'), 'x.');
  assert.throws(() => measuredBoot(input(['rules/extra.pl'])), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISSING') && err.message.includes('rules/extra.pl'));
});

test('GIVEN a listed artifact that was deleted WHEN the agent boots THEN GLM_ERR_BOOT_ARTIFACT_MISSING names it', () => {
  const { root, input } = release(FILES);
  fs.rmSync(path.join(root, 'config/glimmer.yml'));
  assert.throws(() => measuredBoot(input(['config/glimmer.yml'])), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISSING') && err.message.includes('config/glimmer.yml'));
});

test('GIVEN a manifest edited after signing (hash swapped to the tampered file) WHEN the agent boots THEN GLM_ERR_BOOT_MANIFEST_SIGNATURE', () => {
  const { root, input } = release(FILES);
  const file = path.join(root, 'rules/industrial_safety.pl');
  fs.appendFileSync(file, 'evil.\n');
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8'));
  manifest.artifacts.find((a: { path: string }) => a.path === 'rules/industrial_safety.pl').sha256 = sha256File(file);
  fs.writeFileSync(path.join(root, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  assert.throws(() => measuredBoot(input(Object.keys(FILES))), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_SIGNATURE'));
});

test('GIVEN a manifest signed by another key WHEN the agent boots THEN GLM_ERR_BOOT_MANIFEST_SIGNATURE', () => {
  const a = release(FILES);
  const other = crypto.generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.throws(() => measuredBoot({ ...a.input(['dist/agent.js']), publicKeyPem: other }), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_SIGNATURE'));
});

test('GIVEN no manifest on disk WHEN the agent boots THEN GLM_ERR_BOOT_MANIFEST_INVALID tells to run make build', () => {
  const { root, input } = release(FILES);
  fs.rmSync(path.join(root, 'manifest.sig'));
  assert.throws(() => measuredBoot(input(['dist/agent.js'])), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_INVALID') && err.message.includes('make build'));
});

test('GIVEN malformed manifests WHEN parsed THEN each is refused with GLM_ERR_BOOT_MANIFEST_INVALID naming the problem', () => {
  const cases: [string, RegExp][] = [
    ['not json', /not valid JSON/],
    ['[]', /not a JSON object/],
    ['{"version":2}', /version must be 1/],
    ['{"version":1,"release":"r","created":"c","artifacts":[{"path":"../etc/passwd","sha256":"' + 'a'.repeat(64) + '"}]}', /relative without/],
    ['{"version":1,"release":"r","created":"c","artifacts":[{"path":"a","sha256":"XYZ"}]}', /64 lowercase hex/],
    ['{"version":1,"release":"r","created":"c","artifacts":[{"path":"a","sha256":"' + 'a'.repeat(64) + '"},{"path":"a","sha256":"' + 'b'.repeat(64) + '"}]}', /listed twice/],
  ];
  for (const [text, why] of cases) {
    assert.throws(() => parseManifest(Buffer.from(text), 'm.json'), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_INVALID') && why.test(err.message), text);
  }
});

test('GIVEN arbitrary bytes WHEN parsed as a manifest THEN only a typed error or a valid manifest comes out (fuzz)', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)), fc.json().map((j) => Buffer.from(j))), (bytes) => {
      try {
        const m = parseManifest(bytes, 'fuzz');
        assert.equal(m.version, 1);
      } catch (err) {
        assert.ok(isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_INVALID'), String(err));
      }
    }),
    { numRuns: 3000 },
  );
});

test('GIVEN a pinned release key WHEN a different key ships later THEN it is refused; the same key is accepted', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-pin-'));
  const k1 = crypto.generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const k2 = crypto.generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.equal(pinReleaseKey(dir, k1), k1);
  assert.equal(pinReleaseKey(dir, k1), k1);
  assert.throws(() => pinReleaseKey(dir, k2), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_SIGNATURE'));
});

// --- deployment configuration outside the release (a pod's ConfigMap), pinned by GLIMMER_CONFIG_SHA256 ---

function podConfig(text: string): { dir: string; file: string; sha: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-pod-config-'));
  const file = path.join(dir, 'glimmer.yml');
  fs.writeFileSync(file, text);
  return { dir, file, sha: sha256File(file) };
}

test('GIVEN a config file outside the release pinned by its sha256 WHEN the agent boots THEN it is measured into the chain like a release artifact', () => {
  const { root, input } = release(FILES);
  const pod = podConfig('plant:\n  mode: external\n');
  const rel = path.relative(root, pod.file);
  const m = measuredBoot({ ...input(['dist/agent.js', rel]), configPins: parseConfigPins(`glimmer.yml=${pod.sha}`) });
  assert.equal(m.value, extend(extend(Buffer.alloc(32), sha256File(path.join(root, 'dist/agent.js'))), pod.sha).toString('hex'));
});

test('GIVEN a config file outside the release WHEN no pin names it THEN GLM_ERR_BOOT_ARTIFACT_MISSING says it is not pinned', () => {
  const { root, input } = release(FILES);
  const rel = path.relative(root, podConfig('a: 1\n').file);
  assert.throws(() => measuredBoot({ ...input([rel]), configPins: {} }), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISSING') && err.message.includes(CONFIG_PINS_ENV));
});

test('GIVEN a pinned config file changed after the pin was made WHEN the agent boots THEN GLM_ERR_BOOT_ARTIFACT_MISMATCH names the pin', () => {
  const { root, input } = release(FILES);
  const pod = podConfig('a: 1\n');
  fs.appendFileSync(pod.file, 'b: 2\n');
  assert.throws(() => measuredBoot({ ...input([path.relative(root, pod.file)]), configPins: { 'glimmer.yml': pod.sha } }),
    (err) => isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISMATCH') && err.message.includes(`its ${CONFIG_PINS_ENV} pin`));
});

test('GIVEN a config file inside the release WHEN a pin names the same file name THEN the signed manifest still decides', () => {
  const { root, input } = release(FILES);
  fs.appendFileSync(path.join(root, 'config/glimmer.yml'), 'b: 2\n');
  const pin = sha256File(path.join(root, 'config/glimmer.yml'));
  assert.throws(() => measuredBoot({ ...input(['config/glimmer.yml']), configPins: { 'glimmer.yml': pin } }), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISMATCH'));
});

test('GIVEN GLIMMER_CONFIG_SHA256 values WHEN parsed THEN pins come out by file name and malformed or duplicate entries are refused with GLM_ERR_BOOT_CONFIG_PIN_INVALID', () => {
  const a = 'a'.repeat(64);
  const b = 'b'.repeat(64);
  assert.deepEqual(parseConfigPins(`glimmer.yml=${a}, cognitive.yml=${b}`), { 'glimmer.yml': a, 'cognitive.yml': b });
  assert.deepEqual(parseConfigPins(undefined), {});
  assert.deepEqual(parseConfigPins(''), {});
  for (const bad of [`glimmer.yml=${a.toUpperCase()}`, `glimmer.yml=${a.slice(1)}`, `../x=${a}`, 'glimmer.yml', `glimmer.yml=${a},glimmer.yml=${b}`]) {
    assert.throws(() => parseConfigPins(bad), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_CONFIG_PIN_INVALID'), bad);
  }
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
    try {
      const pins = parseConfigPins(s);
      for (const [name, sha] of Object.entries(pins)) assert.ok(/^[A-Za-z0-9._-]+$/.test(name) && /^[0-9a-f]{64}$/.test(sha));
    } catch (err) {
      assert.ok(isGlimmerError(err, 'GLM_ERR_BOOT_CONFIG_PIN_INVALID'), String(err));
    }
  }), { numRuns: 2000 });
});

test('GIVEN rule files mounted outside the release (GLIMMER_RULES_DIR) pinned by GLIMMER_RULES_SHA256 WHEN the agent boots THEN each is measured against its own path pin; an unpinned, tampered or same-named file elsewhere is refused', async () => {
  const { rulesPins, ruleArtifact } = await import('../../runtime/config/rules-dir');
  const { root, input } = release(FILES);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-rules-mount-'));
  fs.mkdirSync(path.join(dir, 'compliance'));
  fs.writeFileSync(path.join(dir, 'industrial_safety.pl'), 'safe(y).\n');
  fs.writeFileSync(path.join(dir, 'compliance', 'checks.pl'), 'check(1).\n');
  const env = { GLIMMER_RULES_DIR: dir, GLIMMER_RULES_SHA256: `industrial_safety.pl=${sha256File(path.join(dir, 'industrial_safety.pl'))},compliance/checks.pl=${sha256File(path.join(dir, 'compliance', 'checks.pl'))}` };
  const rel = (r: string) => path.relative(root, ruleArtifact(r, env));
  assert.equal(ruleArtifact('compliance/checks.pl', env), path.join(dir, 'compliance', 'checks.pl'));
  assert.equal(ruleArtifact('compliance/checks.pl', {}), 'rules/compliance/checks.pl');
  const pins = rulesPins(env);
  const m = measuredBoot({ ...input([rel('industrial_safety.pl'), rel('compliance/checks.pl')]), configPins: pins });
  assert.equal(m.artifacts.length, 2);
  // A pin is for its path: the same file name in another directory is not pinned by it.
  fs.writeFileSync(path.join(dir, 'checks.pl'), 'check(1).\n');
  assert.throws(() => measuredBoot({ ...input([rel('checks.pl')]), configPins: pins }), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISSING'));
  fs.appendFileSync(path.join(dir, 'industrial_safety.pl'), 'unsafe(z).\n');
  assert.throws(() => measuredBoot({ ...input([rel('industrial_safety.pl')]), configPins: pins }), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISMATCH'));
  for (const bad of ['../x.pl=' + 'a'.repeat(64), 'x.pl=ABC', 'x.pl']) {
    assert.throws(() => rulesPins({ GLIMMER_RULES_DIR: dir, GLIMMER_RULES_SHA256: bad }), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_CONFIG_PIN_INVALID'));
  }
});
