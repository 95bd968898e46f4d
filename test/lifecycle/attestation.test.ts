/**
 * TPM attestation against a real TPM 2.0 (swtpm, EK certificate from swtpm_setup's local CA), driven through
 * tpm2-tools: clean attestation and SVID, a tampered rule file, a replayed quote, a key sealed under an old policy,
 * an untrusted EK, an unreachable TPM and a pinned policy digest.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { launchArtifacts } from '../../runtime/agents/artifacts';
import { loadConfig } from '../../runtime/config/load';
import type { AgentSpec } from '../../runtime/config/types';
import { isGlimmerError } from '../../runtime/errors';
import { Attestor, policyDigestFor } from '../../runtime/lifecycle/attestation/attestor';
import { identitySource, parsePolicyPins } from '../../runtime/lifecycle/attestation/identity';
import { ATTESTATION_PCR, parseQuote, pcrAfter, pcrPolicyDigest, verifyQuote } from '../../runtime/lifecycle/attestation/quote';
import { Tpm } from '../../runtime/lifecycle/attestation/tpm';
import { measuredBoot } from '../../runtime/lifecycle/manifest';
import { MANIFEST_FILE, PCR_POLICY_FILE, PUBLIC_KEY_FILE, SIGNATURE_FILE, releaseFiles } from '../../runtime/lifecycle/release';
import type { AuditRecordInput } from '../../runtime/model/messages';
import { ensureCa } from '../../runtime/trust/ca';
import { validateSvid } from '../../runtime/trust/svid';
import { startSwtpm, type TestTpm } from '../helpers/swtpm';

const ROOT = path.join(__dirname, '..', '..');
const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));
const tpms: TestTpm[] = [];
after(async () => Promise.all(tpms.map((t) => t.stop())));

async function freshTpm(): Promise<TestTpm> {
  const t = await startSwtpm();
  tpms.push(t);
  return t;
}

/** A copy of the built release (bundles, config, rules, models, signed manifest) that a test may tamper with. */
function releaseCopy(): string {
  const root = tmp('glimmer-release-');
  for (const rel of [...releaseFiles(ROOT), MANIFEST_FILE, SIGNATURE_FILE, PUBLIC_KEY_FILE]) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, rel), path.join(root, rel));
  }
  return root;
}

function attestor(t: TestTpm, root: string, records: AuditRecordInput[], ekCaFile = t.ekCaFile): Attestor {
  return new Attestor({
    tpm: new Tpm({ tcti: t.tcti, dir: path.join(t.dir, 'glimmer') }),
    ekCaPem: fs.readFileSync(ekCaFile, 'utf8'),
    root,
    manifestFile: path.join(root, MANIFEST_FILE),
    dir: path.join(t.dir, 'glimmer'),
    audit: (r) => records.push(r),
  });
}

const COGNITIVE: AgentSpec = { name: 'cognitive-1', kind: 'cognitive', zone: 'operations', required_safety_level: 2 };
const ARTIFACTS = ['dist/agent-cognitive.js', 'config/glimmer.yml', 'config/cognitive.yml', 'rules/industrial_safety.pl', 'rules/iso55001_asset_rules.pl'];

test('GIVEN a clean release and a fresh TPM WHEN an agent is attested THEN the AK is certified, the quote verifies, PCR 23 equals the measured-boot measurement, its policy is the one make build wrote, and the SVID certifies the TPM-sealed key', async () => {
  const t = await freshTpm();
  const records: AuditRecordInput[] = [];
  const a = attestor(t, ROOT, records);
  await a.provision();
  assert.equal(records[0]?.type, 'attestation.ak.certified');
  const config = loadConfig();
  const spec = config.agents.find((s) => s.kind === 'cognitive') as AgentSpec;
  const artifacts = launchArtifacts(spec, config, ROOT);
  const ca = await ensureCa(tmp('glimmer-ca-'), config.topology.trust_domain);
  const issue = identitySource({ ca, attestation: { attestor: a, artifactsOf: () => artifacts } });
  const first = await issue(spec);
  const id = validateSvid(first.certPem, { bundlePem: ca.bundlePem, trustDomain: config.topology.trust_domain, expect: { zone: spec.zone, agent: spec.name } });
  assert.equal(id.spiffeId, `spiffe://${config.topology.trust_domain}/zone/${spec.zone}/agent/${spec.name}`);
  const quoteRecord = records.find((r) => r.type === 'attestation.quote') as Record<string, string>;
  const measured = measuredBoot({ root: ROOT, manifestFile: path.join(ROOT, MANIFEST_FILE), signatureFile: path.join(ROOT, SIGNATURE_FILE), publicKeyPem: fs.readFileSync(path.join(ROOT, PUBLIC_KEY_FILE), 'utf8'), artifacts });
  assert.equal(quoteRecord.expected_pcr, measured.value, 'the quoted PCR is the measured-boot measurement');
  // make build wrote the same PolicyPCR digest for this agent (what the stacks' pcr_policy_hash carries).
  assert.ok(fs.readFileSync(path.join(ROOT, PCR_POLICY_FILE), 'utf8').split('\n').includes(`${spec.name}=${quoteRecord.policy_digest}`));
  assert.ok(records.some((r) => r.type === 'attestation.key.sealed' && r.agent === spec.name));
  // A second identity (restart or renewal) attests again and certifies the same sealed key.
  const second = await issue(spec);
  const spki = (pem: string) => crypto.createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('hex');
  assert.equal(spki(second.keyPem), spki(first.keyPem));
  assert.equal(records.filter((r) => r.type === 'attestation.quote').length, 2);
  assert.equal(records.filter((r) => r.type === 'attestation.key.sealed').length, 1);
});

test('GIVEN a rule file tampered after release WHEN the cognitive agent is attested THEN GLM_ERR_ATTESTATION_PCR_MISMATCH names PCR 23 with both digests, it is audited, and no SVID is issued', async () => {
  const t = await freshTpm();
  const root = releaseCopy();
  fs.appendFileSync(path.join(root, 'rules', 'industrial_safety.pl'), '\n% tampered\n');
  const records: AuditRecordInput[] = [];
  const a = attestor(t, root, records);
  await a.provision();
  const ca = await ensureCa(tmp('glimmer-ca-'), 'glimmer.local');
  const issue = identitySource({ ca, attestation: { attestor: a, artifactsOf: () => ARTIFACTS } });
  await assert.rejects(issue(COGNITIVE), (e: unknown) => isGlimmerError(e, 'GLM_ERR_ATTESTATION_PCR_MISMATCH') && /PCR 23 digest [0-9a-f]{64} differs from the expected [0-9a-f]{64}/.test(e.message));
  const refused = records.find((r) => r.type === 'attestation.refused') as Record<string, unknown>;
  assert.equal(refused.code, 'GLM_ERR_ATTESTATION_PCR_MISMATCH');
  assert.equal(refused.pcr, ATTESTATION_PCR);
  assert.match(String(refused.expected), /^[0-9a-f]{64}$/);
  assert.notEqual(refused.expected, refused.quoted);
  assert.ok(!records.some((r) => r.type === 'attestation.quote' || r.type === 'attestation.key.sealed'), 'nothing attested, nothing sealed');
});

test('GIVEN a recorded quote WHEN it is replayed against a fresh nonce, or its bytes or signer change THEN it is refused with its own code', async () => {
  const t = await freshTpm();
  const records: AuditRecordInput[] = [];
  const a = attestor(t, ROOT, records);
  await a.provision();
  await a.attest('data-1', ['config/glimmer.yml']);
  const r = records.find((x) => x.type === 'attestation.quote') as unknown as { quote: string; signature: string; nonce: string; ak_public: string; expected_pcr: string };
  const evidence = { message: Buffer.from(r.quote, 'base64'), signature: Buffer.from(r.signature, 'base64'), nonce: Buffer.from(r.nonce, 'base64'), akPublicPem: r.ak_public };
  const expected = Buffer.from(r.expected_pcr, 'hex');
  assert.equal(verifyQuote(evidence, expected).pcrs[0], 23);
  assert.throws(() => verifyQuote({ ...evidence, nonce: crypto.randomBytes(32) }, expected), (e: unknown) => isGlimmerError(e, 'GLM_ERR_ATTESTATION_NONCE_MISMATCH'));
  const flipped = Buffer.from(evidence.message);
  flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
  assert.throws(() => verifyQuote({ ...evidence, message: flipped }, expected), (e: unknown) => isGlimmerError(e, 'GLM_ERR_ATTESTATION_SIGNATURE_INVALID'));
  const stranger = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.throws(() => verifyQuote({ ...evidence, akPublicPem: stranger }, expected), (e: unknown) => isGlimmerError(e, 'GLM_ERR_ATTESTATION_SIGNATURE_INVALID'));
  assert.throws(() => verifyQuote(evidence, pcrAfter(['00'.repeat(32)])), (e: unknown) => isGlimmerError(e, 'GLM_ERR_ATTESTATION_PCR_MISMATCH'));
});

test('GIVEN an SVID key sealed under one release WHEN a new release changes an artifact THEN the TPM refuses the old sealed key and a new key is sealed under the new policy', async () => {
  const t = await freshTpm();
  const root = releaseCopy();
  const records: AuditRecordInput[] = [];
  const a = attestor(t, root, records);
  await a.provision();
  const tpm = new Tpm({ tcti: t.tcti, dir: path.join(t.dir, 'glimmer') });
  const before = await a.attest('cognitive-1', ARTIFACTS);
  await a.identityKey('cognitive-1', before, async () => 'KEY-1');
  const blobDir = path.join(t.dir, 'glimmer', 'agents', 'cognitive-1');
  const old = { publicPart: fs.readFileSync(path.join(blobDir, 'seal.pub')), privatePart: fs.readFileSync(path.join(blobDir, 'seal.priv')) };
  // A new release: the rule file changes and the (re-issued) manifest lists its new hash.
  const rule = path.join(root, 'rules', 'industrial_safety.pl');
  fs.appendFileSync(rule, '\n% release 2\n');
  const manifestFile = path.join(root, MANIFEST_FILE);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { artifacts: { path: string; sha256: string }[] };
  for (const entry of manifest.artifacts) if (entry.path === 'rules/industrial_safety.pl') entry.sha256 = crypto.createHash('sha256').update(fs.readFileSync(rule)).digest('hex');
  fs.writeFileSync(manifestFile, JSON.stringify(manifest));
  const after2 = await a.attest('cognitive-1', ARTIFACTS);
  assert.notEqual(after2.policyDigest, before.policyDigest);
  await assert.rejects(tpm.unseal(old, ATTESTATION_PCR), (e: unknown) => isGlimmerError(e, 'GLM_ERR_ATTESTATION_UNSEAL_REFUSED') && /PCR 23 does not hold the value the key was sealed to/.test(e.message));
  assert.equal(await a.identityKey('cognitive-1', after2, async () => 'KEY-2'), 'KEY-2');
  const resealed = records.filter((r) => r.type === 'attestation.key.sealed');
  assert.deepEqual(resealed.map((r) => r.replaced_policy), [null, before.policyDigest]);
  assert.equal(await a.identityKey('cognitive-1', await a.attest('cognitive-1', ARTIFACTS), async () => 'NEVER'), 'KEY-2', 'the new key unseals under the new release');
});

test('GIVEN an EK certificate from another manufacturer CA WHEN provisioning THEN GLM_ERR_ATTESTATION_EK_UNTRUSTED, audited', async () => {
  const [t, other] = [await freshTpm(), await freshTpm()];
  const records: AuditRecordInput[] = [];
  await assert.rejects(attestor(t, ROOT, records, other.ekCaFile).provision(), (e: unknown) => isGlimmerError(e, 'GLM_ERR_ATTESTATION_EK_UNTRUSTED') && /no trusted CA signed/.test(e.message));
  assert.deepEqual(records.map((r) => [r.type, r.code]), [['attestation.refused', 'GLM_ERR_ATTESTATION_EK_UNTRUSTED']]);
});

test('GIVEN attestation is on and the TPM is unreachable (at start, or gone later) WHEN identities are asked for THEN GLM_ERR_ATTESTATION_TPM_UNAVAILABLE and no SVID (fail closed)', async () => {
  const records: AuditRecordInput[] = [];
  const missing = { tcti: `swtpm:path=${path.join(tmp('glimmer-notpm-'), 'none.sock')}`, ekCaFile: (await freshTpm()).ekCaFile, dir: tmp('glimmer-notpm-'), stop: async () => undefined };
  await assert.rejects(attestor(missing, ROOT, records).provision(), (e: unknown) => isGlimmerError(e, 'GLM_ERR_ATTESTATION_TPM_UNAVAILABLE') && /none\.sock/.test(e.message));
  const t = await startSwtpm();
  const a = attestor(t, ROOT, records);
  await a.provision();
  await t.stop();
  const ca = await ensureCa(tmp('glimmer-ca-'), 'glimmer.local');
  await assert.rejects(identitySource({ ca, attestation: { attestor: a, artifactsOf: () => ['config/glimmer.yml'] } })(COGNITIVE), (e: unknown) => isGlimmerError(e, 'GLM_ERR_ATTESTATION_TPM_UNAVAILABLE'));
});

test('GIVEN a deployment pin of the policy digest WHEN it matches the release THEN the SVID is issued; WHEN it differs THEN GLM_ERR_ATTESTATION_POLICY_MISMATCH', async () => {
  const t = await freshTpm();
  const a = attestor(t, ROOT, []);
  await a.provision();
  const ca = await ensureCa(tmp('glimmer-ca-'), 'glimmer.local');
  const artifacts = ['config/glimmer.yml', 'config/cognitive.yml'];
  const digest = policyDigestFor(path.join(ROOT, MANIFEST_FILE), artifacts);
  const ok = identitySource({ ca, attestation: { attestor: a, artifactsOf: () => artifacts, pins: parsePolicyPins(`cognitive-1=${digest}`) } });
  assert.match((await ok(COGNITIVE)).certPem, /BEGIN CERTIFICATE/);
  const wrong = identitySource({ ca, attestation: { attestor: a, artifactsOf: () => artifacts, pins: parsePolicyPins('ab'.repeat(32)) } });
  await assert.rejects(wrong(COGNITIVE), (e: unknown) => isGlimmerError(e, 'GLM_ERR_ATTESTATION_POLICY_MISMATCH') && e.message.includes(digest));
  assert.throws(() => parsePolicyPins('cognitive-1=xyz'), (e: unknown) => isGlimmerError(e, 'GLM_ERR_ATTESTATION_POLICY_MISMATCH'));
});

test('GIVEN arbitrary bytes WHEN parsed as a TPM quote THEN only a quote or GLM_ERR_ATTESTATION_QUOTE_INVALID comes out (fuzz)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    try {
      parseQuote(Buffer.from(bytes));
    } catch (e) {
      return isGlimmerError(e, 'GLM_ERR_ATTESTATION_QUOTE_INVALID');
    }
    return true;
  }), { numRuns: 3000 });
  // A well-formed header with its fields truncated anywhere is refused, never read past its end.
  const header = Buffer.concat([
    Buffer.from('ff544347' + '8018', 'hex'), // magic, TPM_ST_ATTEST_QUOTE
    Buffer.from('0000' + '0000', 'hex'), // qualifiedSigner, extraData (empty)
    Buffer.alloc(17 + 8), // clockInfo, firmwareVersion
    Buffer.from('00000001' + '000b' + '03' + '000080', 'hex'), // one selection: sha256, PCR 23
    Buffer.from('0020', 'hex'),
    Buffer.alloc(32), // pcrDigest
  ]);
  assert.doesNotThrow(() => parseQuote(header));
  for (let n = 0; n < header.length; n++) assert.throws(() => parseQuote(header.subarray(0, n)), (e: unknown) => isGlimmerError(e, 'GLM_ERR_ATTESTATION_QUOTE_INVALID'));
});

test('GIVEN the PolicyPCR digest WHEN computed here THEN it equals what tpm2_policypcr computes in a trial session', async () => {
  const t = await freshTpm();
  const value = pcrAfter(['11'.repeat(32), '22'.repeat(32)]);
  const { execFileSync } = await import('node:child_process');
  const dir = tmp('glimmer-policy-');
  fs.writeFileSync(path.join(dir, 'pcr.bin'), value);
  const env = { ...process.env, TPM2TOOLS_TCTI: t.tcti };
  execFileSync('tpm2_startauthsession', ['-S', path.join(dir, 's.ctx')], { env });
  execFileSync('tpm2_policypcr', ['-S', path.join(dir, 's.ctx'), '-l', 'sha256:23', '-f', path.join(dir, 'pcr.bin'), '-L', path.join(dir, 'policy.bin')], { env, stdio: 'pipe' });
  execFileSync('tpm2_flushcontext', [path.join(dir, 's.ctx')], { env });
  assert.equal(pcrPolicyDigest(value).toString('hex'), fs.readFileSync(path.join(dir, 'policy.bin')).toString('hex'));
});
