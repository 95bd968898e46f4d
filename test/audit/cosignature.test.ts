/**
 * C2SP tlog-cosignature v1.1 ML-DSA-44 cosignatures: the bytes are rebuilt here from the spec's definitions
 * (key ID, timestamped_signature, cosigned_message) independently of runtime/audit/cosignature.ts, and checked with
 * node:crypto's ML-DSA-44; the real log, `glimmer audit verify` and the KMS-protocol endpoint sign and verify them.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { c2spCosigner, verifyCosignature } from '../../runtime/audit/cosignature';
import { kmsSigner } from '../../runtime/audit/kms';
import { auditDbPath, openAuditLog } from '../../runtime/audit/log';
import { openCheckpoint, parseSignedNote, parseVerifierKey } from '../../runtime/audit/note';
import { fileSigner, mlDsaFileSigner } from '../../runtime/audit/signers';
import { verifyStateDir } from '../../runtime/audit/verify';
import { isGlimmerError } from '../../runtime/errors';
import { glimmer } from '../helpers/cli';
import { tempDir } from './helpers';
import { startKmsServer } from './kms-server';

const ORIGIN = 'glimmer.test/audit';
const COSIGNER = 'witness.glimmer.test/pq';
const CREDS = { accessKeyId: 'AKIDTESTTESTTEST', secretAccessKey: 'test-secret-not-real' };
const NOW = Date.UTC(2026, 11, 5, 18, 0, 0);

async function sha256Log(dir: string, cosigner: Awaited<ReturnType<typeof mlDsaFileSigner>>) {
  return openAuditLog({
    stateDir: dir,
    origin: ORIGIN,
    algorithm: 'RFC9162_SHA256',
    signer: fileSigner({ keyFile: path.join(dir, 'signing.pem'), keyName: ORIGIN }),
    cosigners: [c2spCosigner(cosigner, { now: () => NOW })],
  });
}

/** cosigned_message built straight from the spec's struct, for a checkpoint (start 0). */
function specMessage(name: string, timestamp: bigint, origin: string, size: number, root: Buffer): Buffer {
  const u64 = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    return b;
  };
  return Buffer.concat([
    Buffer.from('subtree/v1\n\0'),
    Buffer.from([Buffer.byteLength(name)]), Buffer.from(name),
    u64(timestamp),
    Buffer.from([Buffer.byteLength(origin)]), Buffer.from(origin),
    u64(0n), u64(BigInt(size)), root,
  ]);
}

test('GIVEN an RFC9162_SHA256 log with a C2SP ML-DSA-44 cosigner WHEN a checkpoint is signed THEN the cosignature line has the spec key ID (type 0x06), an 8-byte timestamp and a 2420-byte ML-DSA-44 signature over cosigned_message', async () => {
  const dir = tempDir();
  const seedFile = path.join(dir, 'pq.seed');
  const inner = await mlDsaFileSigner({ keyFile: seedFile, keyName: COSIGNER });
  const log = await sha256Log(dir, inner);
  await Promise.all(Array.from({ length: 5 }, (_, i) => log.append({ type: 'x', i })));
  const note = await log.checkpoint();
  const vkeys = log.verifierKeys();
  await log.close();

  const parsed = parseSignedNote(note);
  const pk = Buffer.from(await inner.publicKey());
  assert.equal(pk.length, 1312);
  const line = parsed.signatures.find((s) => s.name === COSIGNER);
  assert.ok(line, note);
  const expectedId = crypto.createHash('sha256').update(Buffer.concat([Buffer.from(`${COSIGNER}\n`), Buffer.from([0x06]), pk])).digest().subarray(0, 4);
  assert.ok(line.keyId.equals(expectedId));
  assert.equal(line.signature.length, 8 + 2420);
  const timestamp = line.signature.readBigUInt64BE(0);
  assert.equal(timestamp, BigInt(NOW / 1000));
  const [origin, size, rootB64] = parsed.text.split('\n') as [string, string, string];
  const message = specMessage(COSIGNER, timestamp, origin, Number(size), Buffer.from(rootB64, 'base64'));
  const pub = crypto.createPublicKey({ key: pk, format: 'raw-public', asymmetricKeyType: 'ml-dsa-44' });
  assert.ok(crypto.verify(null, message, pub, line.signature.subarray(8)));
  // The vkey is the spec's: <name>+<hex id>+base64(0x06 || key).
  const vkey = vkeys.find((k) => k.startsWith(`${COSIGNER}+`));
  assert.equal(vkey, `${COSIGNER}+${expectedId.toString('hex')}+${Buffer.concat([Buffer.from([0x06]), pk]).toString('base64')}`);
});

test('GIVEN a state dir with C2SP cosignatures WHEN `glimmer audit verify --dir` runs THEN it exits 0 with the cosigner trusted; WHEN one cosignature byte is flipped THEN verification fails with the cosigner named', async () => {
  const dir = tempDir();
  const log = await sha256Log(dir, await mlDsaFileSigner({ keyFile: path.join(dir, 'pq.seed'), keyName: COSIGNER }));
  await Promise.all(Array.from({ length: 40 }, (_, i) => log.append({ type: 'x', i })));
  await log.checkpoint();
  await log.close();
  const ok = await glimmer(['audit', 'verify', '--dir', dir]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const db = new Database(auditDbPath(dir));
  const vkeys = db.prepare('SELECT vkey FROM keys').pluck().all() as string[];
  const { size, note } = db.prepare('SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1').get() as { size: number; note: string };
  db.close();
  const pqOnly = vkeys.filter((k) => k.startsWith(`${COSIGNER}+`));
  assert.equal((await verifyStateDir(dir, { trustedKeys: pqOnly })).ok, true, 'the cosignature alone vouches for the checkpoints');

  const lines = note.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`\u2014 ${COSIGNER} `));
  const raw = Buffer.from(lines[at]?.split(' ').pop() as string, 'base64');
  raw[raw.length - 5] = (raw[raw.length - 5] as number) ^ 0x01;
  lines[at] = `\u2014 ${COSIGNER} ${raw.toString('base64')}`;
  const tw = new Database(auditDbPath(dir));
  tw.prepare('UPDATE checkpoints SET note = ? WHERE size = ?').run(lines.join('\n'), size);
  tw.close();
  const report = await verifyStateDir(dir);
  assert.equal(report.ok, false);
  assert.ok(report.findings.some((f) => f.includes(`${COSIGNER}/ml-dsa-44-cosignature`)), report.findings.join('\n'));
  const bad = await glimmer(['audit', 'verify', '--dir', dir]);
  assert.equal(bad.code, 1);
});

test('GIVEN a KMS ML_DSA_44 key on the loopback KMS endpoint WHEN it cosigns as C2SP THEN KMS signed the RAW cosigned_message with ML_DSA_SHAKE_256 and the cosignature verifies', async () => {
  const kms = await startKmsServer();
  try {
    const inner = await kmsSigner({ keyId: 'mldsa44-key', keyName: COSIGNER, region: 'eu-central-1', endpoint: kms.endpoint, credentials: CREDS, keySpec: 'ML_DSA_44' });
    const dir = tempDir();
    const log = await sha256Log(dir, inner);
    await log.append({ type: 'x' });
    const note = await log.checkpoint();
    const opened = await openCheckpoint(note, log.verifierKeys().map(parseVerifierKey).filter((k) => k.name === COSIGNER), 32);
    assert.deepEqual(opened.verifiedBy, [`${COSIGNER}/ml-dsa-44-cosignature`]);
    assert.ok(kms.calls.some((c) => c.target === 'TrentService.Sign'));
    await log.close();
  } finally {
    await kms.close();
  }
});

test('GIVEN a SHA-512 log (64-byte roots) WHEN a C2SP cosigner is asked to sign THEN it refuses with GLM_ERR_AUDIT_CHECKPOINT_INVALID (cosigned_message carries a 32-byte hash); a non-ML-DSA-44 key is refused up front', async () => {
  const dir = tempDir();
  const inner = await mlDsaFileSigner({ keyFile: path.join(dir, 'pq.seed'), keyName: COSIGNER });
  const cosigner = c2spCosigner(inner);
  const note = `${ORIGIN}\n1\n${Buffer.alloc(64, 7).toString('base64')}\n`;
  await assert.rejects(cosigner.sign(Buffer.from(note)), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_CHECKPOINT_INVALID') && /32-byte root/.test(e.message));
  const ml65 = await mlDsaFileSigner({ keyFile: path.join(dir, 'pq65.seed'), keyName: COSIGNER, level: 65 });
  assert.throws(() => c2spCosigner(ml65), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_SIGNER_UNAVAILABLE'));
});

test('GIVEN arbitrary bytes as note text, key and signature WHEN a cosignature is verified THEN it returns false and never throws', () => {
  const pk = crypto.generateKeyPairSync('ml-dsa-44').publicKey.export({ format: 'raw-public' });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 2428, maxLength: 2428 }), fc.boolean(), (text, sig, realKey) => {
      const key = realKey ? pk : Buffer.from(text.subarray(0, 40));
      return verifyCosignature(COSIGNER, key, Buffer.concat([Buffer.from(`${ORIGIN}\n1\n${Buffer.alloc(32).toString('base64')}\n`), text]), sig) === false;
    }),
    { numRuns: 200 },
  );
});

test('GIVEN a cosignature built by hand from the spec struct WHEN the runtime verifies it THEN it is accepted, and refused under another cosigner name or tree size', () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ml-dsa-44');
  const pk = publicKey.export({ format: 'raw-public' });
  const root = crypto.createHash('sha256').update('x').digest();
  const text = `${ORIGIN}\n7\n${root.toString('base64')}\n`;
  const sig = Buffer.concat([Buffer.from([0, 0, 0, 0, 0x69, 0x33, 0x2a, 0x20]), crypto.sign(null, specMessage(COSIGNER, 0x69332a20n, ORIGIN, 7, root), privateKey)]);
  assert.equal(verifyCosignature(COSIGNER, pk, Buffer.from(text), sig), true);
  assert.equal(verifyCosignature(`${COSIGNER}2`, pk, Buffer.from(text), sig), false, 'the ML-DSA-44 message commits to the cosigner name');
  assert.equal(verifyCosignature(COSIGNER, pk, Buffer.from(text.replace('\n7\n', '\n8\n')), sig), false);
});

test('GIVEN GLIMMER_AUDIT_COSIGNING_KEY naming a KMS ML_DSA_44 key (endpoint and credentials from the AWS SDK variables) WHEN the runtime builds its cosigners THEN it gets one C2SP cosigner whose cosignature verifies; without the variable, none', async () => {
  const { auditCosigners } = await import('../../runtime/app');
  assert.deepEqual(await auditCosigners({}), []);
  const kms = await startKmsServer();
  const saved = { ...process.env };
  Object.assign(process.env, { AWS_ENDPOINT_URL_KMS: kms.endpoint, AWS_REGION: 'eu-central-1', AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey });
  try {
    const [cosigner, ...rest] = await auditCosigners({ GLIMMER_AUDIT_COSIGNING_KEY: 'mldsa44-key' });
    assert.equal(rest.length, 0);
    assert.ok(cosigner);
    assert.equal(cosigner.algorithm, 'ml-dsa-44-cosignature');
    assert.equal(cosigner.keyName, 'glimmer.local/audit-cosigner');
    const text = `${ORIGIN}\n3\n${crypto.createHash('sha256').update('r').digest('base64')}\n`;
    const sig = await cosigner.sign(Buffer.from(text));
    assert.equal(verifyCosignature(cosigner.keyName, await cosigner.publicKey(), Buffer.from(text), sig), true);
    assert.ok(kms.calls.some((c) => c.target === 'TrentService.Sign'));
    await cosigner.close?.();
  } finally {
    for (const k of ['AWS_ENDPOINT_URL_KMS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await kms.close();
  }
});
