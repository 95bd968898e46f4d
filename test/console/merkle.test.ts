/**
 * The console verifies inclusion proofs in the browser (runtime/api/console/merkle.js, WebCrypto). These tests run that
 * same file in Node (globalThis.crypto.subtle) against the runtime's RFC 9162 implementation and a real audit log.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { openAuditLog } from '../../runtime/audit/log';
import { hasher, inclusionPath, memorySource, rootOf, type MerkleAlgorithm } from '../../runtime/audit/merkle';
import { c2spCosigner } from '../../runtime/audit/cosignature';
import { kmsSigner } from '../../runtime/audit/kms';
import { fileSigner, mlDsaFileSigner } from '../../runtime/audit/signers';
import { startKmsServer } from '../audit/kms-server';

interface BrowserMerkle {
  verifyInclusion(leaf: Uint8Array, index: number, size: number, hexPath: string[], root: Uint8Array): Promise<{ ok: boolean; reason?: string; algorithm?: string }>;
  parseCheckpoint(text: string): { origin: string; size: number; root: Uint8Array; rootBase64: string; signatures: string[] };
  base64ToBytes(b64: string): Uint8Array;
  verifyNoteSignatures(note: string, vkeys: string[]): Promise<{ name: string; algorithm: string; status: string }[]>;
}
const browser = require('../../runtime/api/console/merkle.js') as BrowserMerkle;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

for (const algorithm of ['RFC9162_SHA512', 'RFC9162_SHA256'] as MerkleAlgorithm[]) {
  test(`GIVEN random trees (${algorithm}) WHEN the browser verifier checks the runtime's inclusion proofs THEN every one verifies and a changed leaf, index or hash does not`, async () => {
    const h = hasher(algorithm);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 40 }), fc.nat(), async (raw, pick) => {
        // Distinct leaves (prefixed with their position): with two equal leaves a proof may honestly verify at both.
        const leaves = raw.map((l, i) => Uint8Array.from([i, ...l]));
        const size = leaves.length;
        const index = pick % size;
        const leafHashes = leaves.map((l) => h.leaf(l));
        const root = rootOf(h, leaves);
        const proof = inclusionPath(h, memorySource(h, leafHashes), index, size).map(hex);
        const leaf = leaves[index] as Uint8Array;
        assert.equal((await browser.verifyInclusion(leaf, index, size, proof, root)).ok, true);
        const changed = Uint8Array.from([...leaf, 1]);
        assert.equal((await browser.verifyInclusion(changed, index, size, proof, root)).ok, false);
        if (size > 1) assert.equal((await browser.verifyInclusion(leaf, (index + 1) % size, size, proof, root)).ok, false);
        if (proof.length > 0) {
          const bad = [...proof];
          bad[0] = (bad[0] as string).replace(/^./, (c) => (c === '0' ? '1' : '0'));
          assert.equal((await browser.verifyInclusion(leaf, index, size, bad, root)).ok, false);
        }
      }),
      { numRuns: 60 },
    );
  });
}

test('GIVEN malformed proofs WHEN the browser verifier checks them THEN it answers not ok with a reason and never throws', async () => {
  const h = hasher('RFC9162_SHA512');
  const root = rootOf(h, [Buffer.from('a'), Buffer.from('b')]);
  for (const [index, size, path_] of [[2, 2, []], [-1, 2, []], [0, 2, ['zz']], [0, 2, ['00']], [0, 2, []], [0, 1, ['00'.repeat(64)]]] as [number, number, string[]][]) {
    const r = await browser.verifyInclusion(Buffer.from('a'), index, size, path_, root);
    assert.equal(r.ok, false);
    assert.equal(typeof r.reason, 'string');
  }
});

test('GIVEN a real audit log with a signed checkpoint WHEN the browser code parses it and verifies every entry THEN all verify against its root', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-console-merkle-'));
  const log = await openAuditLog({ stateDir: dir, signer: fileSigner({ keyFile: path.join(dir, 'audit.key'), keyName: 'glimmer.local/audit' }) });
  try {
    for (let i = 0; i < 13; i++) await log.append({ type: 'test.entry', n: i });
    const note = await log.checkpoint();
    const cp = browser.parseCheckpoint(note);
    assert.equal(cp.size, 13);
    assert.equal(cp.root.length, 64);
    assert.equal(cp.signatures.length >= 1, true);
    for (const entry of log.entries(0, 12)) {
      const proof = log.inclusionProof(entry.index, cp.size).map(hex);
      const r = await browser.verifyInclusion(entry.leaf, entry.index, cp.size, proof, cp.root);
      assert.equal(r.ok, true, `entry ${entry.index}: ${r.reason ?? ''}`);
      assert.equal(r.algorithm, 'SHA-512');
    }
  } finally {
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Every refusal parseCheckpoint makes on purpose; anything else thrown (a TypeError, a DOMException) is a bug. */
const CHECKPOINT_REFUSALS = [
  /^the checkpoint has no signature block$/, /^the checkpoint body needs origin, size and root$/, /^the checkpoint size is not a number$/,
  /^the checkpoint size is too large$/, /^not base64$/, /^a checkpoint root must be 32 or 64 bytes, received \d+$/,
];

test('GIVEN hostile checkpoint texts (random, and random lines around a valid shape) WHEN the browser code parses them THEN it returns a checkpoint whose size and root match the text or throws one of its own refusals (a plain Error), never anything else', () => {
  const b64 = fc.oneof(fc.constant(Buffer.alloc(32, 7).toString('base64')), fc.constant(Buffer.alloc(64, 9).toString('base64')), fc.base64String({ maxLength: 100 }), fc.string({ maxLength: 12 }));
  const shaped = fc.tuple(fc.string({ maxLength: 20 }), fc.oneof(fc.nat().map(String), fc.string({ maxLength: 22 })), b64, fc.string({ maxLength: 40 }))
    .map(([origin, size, root, rest]) => `${origin}\n${size}\n${root}\n\n${rest}`);
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), shaped), (text) => {
      let parsed;
      try {
        parsed = browser.parseCheckpoint(text);
      } catch (err) {
        assert.equal((err as Error).constructor, Error, `a plain Error, not ${String((err as Error)?.constructor?.name)}`);
        assert.ok(CHECKPOINT_REFUSALS.some((re) => re.test((err as Error).message)), `an unexpected refusal: ${(err as Error).message}`);
        return;
      }
      const body = text.slice(0, text.indexOf('\n\n')).split('\n');
      assert.equal(parsed.size, Number(body[1]));
      assert.ok(parsed.root.length === 32 || parsed.root.length === 64);
      assert.deepEqual(Buffer.from(parsed.root), Buffer.from(body[2] ?? '', 'base64'));
    }),
    { numRuns: 500 },
  );
  assert.throws(() => browser.parseCheckpoint('origin\n12\nA\n\n'), (err) => (err as Error).constructor === Error && (err as Error).message === 'not base64');
  assert.throws(() => browser.parseCheckpoint('origin\n12\nAAAA\n\n— x y\n'), /32 or 64 bytes/);
  assert.throws(() => browser.parseCheckpoint('origin\nx\nAAAA\n\n'), /size/);
});

test('GIVEN a checkpoint signed by Ed25519, ECDSA P-384 (KMS, DER), ML-DSA-65 and a C2SP ML-DSA-44 cosignature WHEN the browser code checks it with WebCrypto THEN every signature is verified; a flipped byte in each is invalid', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-console-sig-'));
  const kms = await startKmsServer();
  const creds = { accessKeyId: 'AKIDTESTTESTTEST', secretAccessKey: 'test-secret-not-real' };
  try {
    const log = await openAuditLog({
      stateDir: dir,
      algorithm: 'RFC9162_SHA256',
      signer: fileSigner({ keyFile: path.join(dir, 'signing.pem'), keyName: 'glimmer.test/audit' }),
      cosigners: [
        await kmsSigner({ keyId: 'p384-key', keyName: 'kms.test/p384', region: 'eu-central-1', endpoint: kms.endpoint, credentials: creds }),
        await mlDsaFileSigner({ keyFile: path.join(dir, 'pq65.seed'), keyName: 'glimmer.test/ml-dsa-65', level: 65 }),
        c2spCosigner(await mlDsaFileSigner({ keyFile: path.join(dir, 'pq.seed'), keyName: 'witness.test/pq' })),
      ],
    });
    await log.append({ type: 'x' });
    const note = await log.checkpoint();
    const vkeys = log.verifierKeys();
    await log.close();
    const results = await browser.verifyNoteSignatures(note, vkeys);
    assert.deepEqual(results.map((r) => `${r.algorithm}:${r.status}`).sort(), [
      'ecdsa-p384-sha384:verified', 'ed25519:verified', 'ml-dsa-44-cosignature:verified', 'ml-dsa-65:verified',
    ]);
    const lines = note.split('\n');
    for (let i = lines.findIndex((l) => l === '') + 1; i < lines.length; i++) {
      const line = lines[i] as string;
      if (!line.startsWith('\u2014 ')) continue;
      const b64 = line.slice(line.lastIndexOf(' ') + 1);
      const raw = Buffer.from(b64, 'base64');
      raw[raw.length - 3] = (raw[raw.length - 3] as number) ^ 0x40;
      const forged = [...lines.slice(0, i), line.replace(b64, raw.toString('base64')), ...lines.slice(i + 1)].join('\n');
      const name = line.slice(2, line.lastIndexOf(' '));
      const r = (await browser.verifyNoteSignatures(forged, vkeys)).find((x) => x.name === name);
      assert.equal(r?.status, 'invalid', name);
    }
  } finally {
    await kms.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
