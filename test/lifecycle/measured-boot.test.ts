import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { isGlimmerError } from '../../runtime/errors';
import { buildManifest, extend, measuredBoot, parseManifest, sha256File, signManifest, verifyManifestSignature } from '../../runtime/lifecycle/manifest';
import { bootHooks, configuredArtifacts } from '../../runtime/lifecycle/boot';
import type { BootCommand } from '../../runtime/lifecycle/ipc';
import { ensureCa } from '../../runtime/trust/ca';
import { issueSvid } from '../../runtime/trust/svid';
import { MANIFEST_FILE, SIGNATURE_FILE, pinReleaseKey } from '../../runtime/lifecycle/release';
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

test('GIVEN the measurement chain WHEN extended THEN it is SHA-256(m || hash) from 32 zero bytes, and a file hash is the SHA-256 of its bytes (known answers)', () => {
  // SHA-256 of 'abc' (FIPS 180-2 example) and of the empty string.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-boot-'));
  fs.writeFileSync(path.join(root, 'abc'), 'abc');
  const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
  assert.equal(sha256File(path.join(root, 'abc')), abc);
  const once = crypto.createHash('sha256').update(Buffer.concat([Buffer.alloc(32), Buffer.from(abc, 'hex')])).digest('hex');
  assert.equal(extend(Buffer.alloc(32), abc).toString('hex'), once);
});

test('GIVEN files listed twice and out of order WHEN a manifest is built THEN it lists each once, sorted, with version 1, the release, an ISO creation time and a final newline', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-boot-'));
  fs.writeFileSync(path.join(root, 'b'), 'abc');
  fs.writeFileSync(path.join(root, 'a'), '');
  const bytes = buildManifest(root, ['b', 'a', 'b'], 'r-7');
  assert.equal(bytes.toString('utf8').slice(-2), '}\n');
  const m = parseManifest(bytes, 'built');
  assert.equal(m.version, 1);
  assert.equal(m.release, 'r-7');
  assert.match(m.created, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.deepEqual(m.artifacts, [
    { path: 'a', sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
    { path: 'b', sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
  ]);
});

test('GIVEN more malformed manifests WHEN parsed THEN each is refused naming the problem; exactly 1 MiB is still read', () => {
  const hex = 'a'.repeat(64);
  const cases: [string, RegExp][] = [
    ['null', /not a JSON object/],
    ['"text"', /not a JSON object/],
    ['{"version":"1"}', /version must be 1, received "1"/],
    ['{"version":1,"release":1,"created":"c","artifacts":[]}', /release and created must be strings/],
    ['{"version":1,"release":"r","created":2,"artifacts":[]}', /release and created must be strings/],
    ['{"version":1,"release":"r","created":"c","artifacts":{}}', /artifacts must be an array/],
    ['{"version":1,"release":"r","created":"c","artifacts":[null]}', /artifacts\[0\] must have string path and sha256/],
    ['{"version":1,"release":"r","created":"c","artifacts":[7]}', /artifacts\[0\] must have string path and sha256/],
    [`{"version":1,"release":"r","created":"c","artifacts":[{"path":1,"sha256":"${hex}"}]}`, /artifacts\[0\] must have string path and sha256/],
    ['{"version":1,"release":"r","created":"c","artifacts":[{"path":"a","sha256":1}]}', /artifacts\[0\] must have string path and sha256/],
    [`{"version":1,"release":"r","created":"c","artifacts":[{"path":"a","sha256":"${'A'.repeat(64)}"}]}`, /artifacts\[0\]\.sha256 must be 64 lowercase hex digits, received "A{64}"/],
    [`{"version":1,"release":"r","created":"c","artifacts":[{"path":"a","sha256":"${hex}0"}]}`, /64 lowercase hex/],
    [`{"version":1,"release":"r","created":"c","artifacts":[{"path":"/etc/passwd","sha256":"${hex}"}]}`, /artifacts\[0\]\.path must be relative without '\.\.', received "\/etc\/passwd"/],
    [`{"version":1,"release":"r","created":"c","artifacts":[{"path":"a/../../b","sha256":"${hex}"}]}`, /relative without/],
    [`{"version":1,"release":"r","created":"c","artifacts":[{"path":"a","sha256":"${hex}"},{"path":"a","sha256":"${hex}"}]}`, /artifacts\[1\]\.path "a" is listed twice/],
  ];
  for (const [text, why] of cases) {
    assert.throws(() => parseManifest(Buffer.from(text), 'm.json'), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_INVALID') && why.test(err.message) && err.message.startsWith('release manifest m.json: '), text);
  }
  // A name with '..' inside a segment is not a parent reference.
  assert.equal(parseManifest(Buffer.from(`{"version":1,"release":"r","created":"c","artifacts":[{"path":"a..b","sha256":"${hex}"}]}`), 'm').artifacts[0]?.path, 'a..b');
  const body = `{"version":1,"release":"r","created":"c","artifacts":[]}`;
  const exact = Buffer.from(body + ' '.repeat(1024 * 1024 - body.length));
  assert.equal(parseManifest(exact, 'm').artifacts.length, 0);
  assert.throws(() => parseManifest(Buffer.concat([exact, Buffer.from(' ')]), 'm'), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_INVALID') && /larger than 1048576 bytes/.test(err.message));
});

test('GIVEN a release key that is not Ed25519 or ECDSA, or not a public key at all, or a P-384 signature over SHA-256 WHEN the manifest is checked THEN GLM_ERR_BOOT_MANIFEST_SIGNATURE says which', () => {
  const { input } = release(FILES);
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.throws(() => measuredBoot({ ...input(['dist/agent.js']), publicKeyPem: rsa }), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_SIGNATURE') && err.message === 'release key type "rsa" is not supported (Ed25519 or ECDSA P-384)');
  assert.throws(() => measuredBoot({ ...input(['dist/agent.js']), publicKeyPem: 'not a pem' }), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_SIGNATURE') && /not a valid PEM public key/.test(err.message));
  // A P-384 manifest signature checked with SHA-384: a P-384 key signing SHA-256 does not verify.
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const bytes = Buffer.from('{}');
  const pub = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.doesNotThrow(() => verifyManifestSignature(bytes, signManifest(bytes, ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), pub, 'm'));
  assert.throws(() => verifyManifestSignature(bytes, crypto.sign('sha256', bytes, ec.privateKey), pub, 'm'), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_SIGNATURE') && /release manifest m: signature does not verify against the pinned release key/.test(err.message));
});

test('GIVEN a boot refusal WHEN it names the artifact THEN the message says unlisted, unreadable or both hashes, and the details carry them', () => {
  const { root, input } = release(FILES);
  fs.writeFileSync(path.join(root, 'rules/extra.pl'), 'x.');
  assert.throws(() => measuredBoot(input(['rules/extra.pl'])), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISSING') && err.message === 'measured boot: rules/extra.pl is loaded but not listed in the signed release manifest' && err.details.artifact === 'rules/extra.pl');
  fs.rmSync(path.join(root, 'config/glimmer.yml'));
  assert.throws(() => measuredBoot(input(['config/glimmer.yml'])), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISSING') && err.message === 'measured boot: config/glimmer.yml is listed in the release manifest but cannot be read' && err.details.artifact === 'config/glimmer.yml');
  const file = path.join(root, 'dist/agent.js');
  const listed = sha256File(file);
  fs.appendFileSync(file, '\n');
  const now = sha256File(file);
  assert.throws(() => measuredBoot(input(['dist/agent.js'])), (err) =>
    isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISMATCH') &&
    err.message === `measured boot: dist/agent.js has sha256 ${now}, the signed release manifest says ${listed}` &&
    err.details.expected === listed && err.details.actual === now);
});

/** The extend-only chain written out with node:crypto: m = SHA-256(m || SHA-256(file)) from 32 zero bytes. */
function chainOf(root: string, files: readonly string[]): string {
  let m = Buffer.alloc(32);
  for (const f of files) m = crypto.createHash('sha256').update(m).update(crypto.createHash('sha256').update(fs.readFileSync(path.join(root, f))).digest()).digest();
  return m.toString('hex');
}

test('GIVEN a cognitive agent configuration WHEN its artifacts are listed THEN its rulesets and model paths come out in order; other kinds load none from the configuration', () => {
  const config = {
    cognitive: { hybrid_reasoning: {
      symbolic_components: [{ type: 'prolog-engine', rulesets: ['a.pl', 'b.pl'] }, { type: 'prolog-engine', rulesets: ['c.pl'] }],
      neural_components: [{ type: 'transformer', model: 'm', precision: 'int8', quantization: 'none', path: 'models/m.onnx' }, { type: 'transformer', model: 'n', precision: 'int8', quantization: 'none' }],
    } },
  };
  const env = { ...process.env };
  delete process.env.GLIMMER_RULES_DIR;
  try {
    assert.deepEqual(configuredArtifacts({ spec: { kind: 'cognitive' }, config } as unknown as Pick<BootCommand, 'spec' | 'config'>), ['rules/a.pl', 'rules/b.pl', 'rules/c.pl', 'models/m.onnx']);
    assert.deepEqual(configuredArtifacts({ spec: { kind: 'industrial' }, config } as unknown as Pick<BootCommand, 'spec' | 'config'>), []);
  } finally {
    Object.assign(process.env, env);
  }
});

test('GIVEN an agent boot command WHEN its BOOTSTRAPPING hooks run THEN the SVID check and the measurement are audited in that order; a foreign SVID or a tampered artifact is audited with its code (and artifact) and rethrown', async () => {
  const ca = await ensureCa(fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-boot-ca-')), 'plant.example');
  const svid = await issueSvid(ca, { zone: 'control', agent: 'industrial-1' });
  const files = { 'dist/agent.js': 'x', 'config/glimmer.yml': 'a: 1', 'config/cognitive.yml': 'b: 2', 'rules/industrial_safety.pl': 'safe(x).\n' };
  const { root, publicKeyPem } = release(files);
  // The agent reads the release's own manifest location.
  fs.copyFileSync(path.join(root, 'manifest.json'), path.join(root, MANIFEST_FILE));
  fs.copyFileSync(path.join(root, 'manifest.sig'), path.join(root, SIGNATURE_FILE));
  const command = (certPem: string) => ({
    spec: { name: 'industrial-1', zone: 'control', kind: 'industrial' },
    config: { file: path.join(root, 'config/glimmer.yml'), cognitive: { file: path.join(root, 'config/cognitive.yml') }, topology: { trust_domain: 'plant.example' } },
    identity: { certPem, bundlePem: ca.bundlePem },
    root,
    releaseKeyPem: publicKeyPem,
    configPins: {},
  }) as unknown as BootCommand;
  const records: Record<string, unknown>[] = [];
  const hooks = bootHooks(command(svid.certPem), [path.join(root, 'rules/industrial_safety.pl')], (r) => records.push(r as unknown as Record<string, unknown>));
  assert.deepEqual(hooks.map(([state]) => state), ['BOOTSTRAPPING', 'BOOTSTRAPPING']);
  const transition = { from: 'INIT', to: 'BOOTSTRAPPING', reason: 'boot' } as unknown as Parameters<(typeof hooks)[0][1]>[0];
  for (const [, hook] of hooks) await hook(transition);
  const order = ['dist/agent.js', 'config/glimmer.yml', 'config/cognitive.yml', 'rules/industrial_safety.pl'];
  assert.deepEqual(records as unknown[], [
    { type: 'agent.identity.valid', agent: 'industrial-1', spiffe_id: 'spiffe://plant.example/zone/control/agent/industrial-1' },
    { type: 'agent.boot.measured', agent: 'industrial-1', measurement: chainOf(root, order), artifacts: 4 },
  ]);

  records.length = 0;
  const other = await issueSvid(ca, { zone: 'control', agent: 'industrial-2' });
  const [[, identity] = [], [, measured] = []] = bootHooks(command(other.certPem), [], (r) => records.push(r as unknown as Record<string, unknown>));
  // A valid SVID of the trust domain, but naming another agent.
  assert.throws(() => identity?.(transition), (err) => isGlimmerError(err, 'GLM_ERR_CERT_IDENTITY_MISMATCH'));
  assert.deepEqual(records as unknown[], [{ type: 'agent.identity.refused', agent: 'industrial-1', code: 'GLM_ERR_CERT_IDENTITY_MISMATCH' }]);

  records.length = 0;
  fs.appendFileSync(path.join(root, 'config/cognitive.yml'), 'c: 3\n');
  assert.throws(() => measured?.(transition), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISMATCH'));
  assert.deepEqual(records as unknown[], [{ type: 'agent.boot.refused', agent: 'industrial-1', code: 'GLM_ERR_BOOT_ARTIFACT_MISMATCH', artifact: 'config/cognitive.yml' }]);
  records.length = 0;
  fs.rmSync(path.join(root, SIGNATURE_FILE));
  assert.throws(() => measured?.(transition), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_INVALID'));
  assert.deepEqual(records as unknown[], [{ type: 'agent.boot.refused', agent: 'industrial-1', code: 'GLM_ERR_BOOT_MANIFEST_INVALID', artifact: null }]);
});

test('GIVEN a measured boot WHEN it passes THEN it returns each artifact with its hash in load order; an outside file with no pins at all is refused as unpinned; a bad key or an unreadable manifest keeps its cause', () => {
  const { input } = release({ a: 'abc', b: '' });
  const m = measuredBoot(input(['b', 'a']));
  assert.deepEqual(m.artifacts, [
    { path: 'b', sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
    { path: 'a', sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
  ]);
  assert.throws(() => measuredBoot(input(['../outside.yml'])), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_ARTIFACT_MISSING') && err.message === `measured boot: ../outside.yml is outside the release and not pinned by ${CONFIG_PINS_ENV}`);
  assert.throws(() => measuredBoot({ ...input(['a']), publicKeyPem: 'not a pem' }), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_SIGNATURE') && err.cause !== undefined);
  assert.throws(() => measuredBoot({ ...input(['a']), manifestFile: '/nonexistent/manifest.json' }), (err) => isGlimmerError(err, 'GLM_ERR_BOOT_MANIFEST_INVALID') && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT');
});
