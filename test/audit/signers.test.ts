import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { embeddedSigner } from '../../runtime/audit/embedded';
import { kmsSigner } from '../../runtime/audit/kms';
import { mlDsaFileSigner } from '../../runtime/audit/signers';
import { openAuditLog } from '../../runtime/audit/log';
import { openCheckpoint, parseSignedNote, parseVerifierKey } from '../../runtime/audit/note';
import { ensureSoftHsmToken, pkcs11Signer } from '../../runtime/audit/pkcs11';
import { isGlimmerError, type ErrorCode } from '../../runtime/errors';
import { createMetrics } from '../../runtime/observability/metrics';
import { tempDir } from './helpers';
import { startKmsServer, TEST_SECRET } from './kms-server';
import { restartablePort } from '../helpers/ports';

const KEY = 'glimmer.test/audit';
const CREDS = { accessKeyId: 'AKIDTESTTESTTEST', secretAccessKey: TEST_SECRET };
const rejectsWith = (p: Promise<unknown>, code: ErrorCode) => assert.rejects(p, (e) => isGlimmerError(e, code));

function capture(): { logger: pino.Logger; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), text: () => lines.join('') };
}

test('GIVEN a KMS-protocol endpoint on loopback with a real ECC_NIST_P384 key WHEN the SDK signs a checkpoint THEN the signature verifies with the key KMS reports, and requests were SigV4-signed', async () => {
  const kms = await startKmsServer();
  try {
    const signer = await kmsSigner({ keyId: 'p384-key', keyName: KEY, region: 'eu-central-1', endpoint: kms.endpoint, credentials: CREDS });
    assert.equal(signer.algorithm, 'ecdsa-p384-sha384');
    const log = await openAuditLog({ stateDir: tempDir(), signer, origin: KEY });
    await log.append({ type: 'x' });
    const note = await log.checkpoint();
    const opened = await openCheckpoint(note, log.verifierKeys().map(parseVerifierKey), 64);
    assert.deepEqual(opened.verifiedBy, [`${KEY}/ecdsa-p384-sha384`]);
    const parsed = parseSignedNote(note);
    const pub = crypto.createPublicKey({ key: kms.keys['p384-key']?.publicKey as Buffer, format: 'der', type: 'spki' });
    assert.ok(crypto.verify('sha384', Buffer.from(parsed.text), pub, parsed.signatures[0]?.signature as Buffer));
    assert.ok(kms.calls.some((c) => c.target === 'TrentService.Sign'));
    assert.ok(kms.calls.every((c) => c.signed), 'every request carries a SigV4 signature that verifies with the secret');
    assert.ok(kms.calls.every((c) => c.scope === 'eu-central-1/kms'), JSON.stringify(kms.calls));
    await log.close();
  } finally {
    await kms.close();
  }
});

test('GIVEN the loopback KMS endpoint WHEN the SDK signs its requests with a secret the endpoint does not know THEN the endpoint refuses them (InvalidSignatureException) and the signer is GLM_ERR_AUDIT_SIGNER_UNAVAILABLE', async () => {
  const kms = await startKmsServer();
  try {
    await assert.rejects(
      kmsSigner({ keyId: 'p384-key', keyName: KEY, region: 'eu-central-1', endpoint: kms.endpoint, credentials: { ...CREDS, secretAccessKey: `${TEST_SECRET}-wrong` } }),
      (err) => isGlimmerError(err, 'GLM_ERR_AUDIT_SIGNER_UNAVAILABLE'),
    );
    assert.ok(kms.calls.length > 0 && kms.calls.every((c) => !c.signed));
  } finally {
    await kms.close();
  }
});

test('GIVEN a KMS ML_DSA_65 key on the loopback endpoint WHEN a checkpoint is signed THEN it verifies as ml-dsa-65', async () => {
  const kms = await startKmsServer();
  try {
    const signer = await kmsSigner({ keyId: 'mldsa-key', keyName: KEY, region: 'eu-central-1', endpoint: kms.endpoint, credentials: CREDS });
    assert.equal(signer.algorithm, 'ml-dsa-65');
    const log = await openAuditLog({ stateDir: tempDir(), signer, origin: KEY });
    await log.append({ type: 'x' });
    const opened = await openCheckpoint(await log.checkpoint(), log.verifierKeys().map(parseVerifierKey));
    assert.deepEqual(opened.verifiedBy, [`${KEY}/ml-dsa-65`]);
    await log.close();
  } finally {
    await kms.close();
  }
});

test('GIVEN a KMS ML_DSA_44 key on the loopback endpoint WHEN a checkpoint is signed with ML_DSA_SHAKE_256 over the RAW note THEN it verifies as ml-dsa-44 with node:crypto and the 1312-byte key KMS reports', async () => {
  const kms = await startKmsServer();
  try {
    const signer = await kmsSigner({ keyId: 'mldsa44-key', keyName: KEY, region: 'eu-central-1', endpoint: kms.endpoint, credentials: CREDS, keySpec: 'ML_DSA_44' });
    assert.equal(signer.algorithm, 'ml-dsa-44');
    const log = await openAuditLog({ stateDir: tempDir(), signer, origin: KEY });
    await log.append({ type: 'x' });
    const note = await log.checkpoint();
    const opened = await openCheckpoint(note, log.verifierKeys().map(parseVerifierKey));
    assert.deepEqual(opened.verifiedBy, [`${KEY}/ml-dsa-44`]);
    assert.equal((await signer.publicKey()).length, 1312);
    const parsed = parseSignedNote(note);
    const pub = crypto.createPublicKey({ key: kms.keys['mldsa44-key']?.publicKey as Buffer, format: 'der', type: 'spki' });
    assert.ok(crypto.verify(null, Buffer.from(parsed.text), pub, parsed.signatures[0]?.signature as Buffer));
    await log.close();
  } finally {
    await kms.close();
  }
});

test('GIVEN a fixed 32-byte seed WHEN the ML-DSA file signer derives its key natively THEN the public key is the FIPS 204 one the earlier JavaScript signer derived (seed files keep their key)', async () => {
  const dir = tempDir();
  const seed = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const expected = { 44: '9f107644c1084526af3bc8098680b05499a2325a644e388fb4f970e058d19d46', 65: 'd666806e11cee19a7c989f7445f90dd419cf4d2d51db8c0fdb4c0f0a542238c9' } as const;
  for (const level of [44, 65] as const) {
    const keyFile = path.join(dir, `pq-${level}.seed`);
    fs.writeFileSync(keyFile, seed, { mode: 0o600 });
    const signer = await mlDsaFileSigner({ keyFile, keyName: KEY, level });
    assert.equal(crypto.createHash('sha256').update(await signer.publicKey()).digest('hex'), expected[level]);
  }
});

test('GIVEN a KMS key that cannot sign checkpoints (RSA encryption key, unknown key id) WHEN the signer is created THEN GLM_ERR_AUDIT_SIGNER_UNAVAILABLE', async () => {
  const kms = await startKmsServer();
  try {
    const base = { keyName: KEY, region: 'eu-central-1', endpoint: kms.endpoint, credentials: CREDS };
    await rejectsWith(kmsSigner({ ...base, keyId: 'rsa-key' }), 'GLM_ERR_AUDIT_SIGNER_UNAVAILABLE');
    await rejectsWith(kmsSigner({ ...base, keyId: 'no-such-key' }), 'GLM_ERR_AUDIT_SIGNER_UNAVAILABLE');
  } finally {
    await kms.close();
  }
});

test('GIVEN the KMS becomes unreachable WHEN appends continue THEN they stay durable, checkpoints fail with GLM_ERR_AUDIT_SIGNER_UNAVAILABLE and the age metric grows; WHEN KMS returns THEN checkpoints catch up and the age drops to 0', async () => {
  const port = await restartablePort();
  let kms = await startKmsServer(port);
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const metrics = createMetrics();
  const signer = await kmsSigner({ keyId: 'p384-key', keyName: KEY, region: 'eu-central-1', endpoint: kms.endpoint, credentials: CREDS, maxAttempts: 1, requestTimeoutMs: 500 });
  const log = await openAuditLog({ stateDir: tempDir(), signer, origin: KEY, metrics, now: () => clock, checkpointIntervalMs: 20 });
  const keys = log.verifierKeys().map(parseVerifierKey);
  await log.append({ type: 'before' });
  await log.checkpoint();
  const raw = kms.raw;
  await kms.close();

  const acks = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ type: 'during-outage', i })));
  assert.equal(acks.length, 100);
  assert.equal(log.size(), 101);
  await rejectsWith(log.checkpoint(), 'GLM_ERR_AUDIT_SIGNER_UNAVAILABLE');
  clock += 120_000;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(log.latestCheckpoint()?.size, 1);
  assert.ok(((await metrics.auditCheckpointAge.get()).values[0]?.value ?? 0) >= 120, 'age shows the delay');
  assert.ok(((await metrics.auditCheckpointFailures.get()).values.find((v) => v.labels.signer === 'kms')?.value ?? 0) >= 1);

  kms = await startKmsServer(port, raw);
  try {
    for (let i = 0; i < 300 && log.latestCheckpoint()?.size !== 101; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(log.latestCheckpoint()?.size, 101, 'checkpoints caught up');
    await openCheckpoint(log.latestCheckpoint()?.note as string, keys);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await metrics.auditCheckpointAge.get()).values[0]?.value, 0);
    await log.close();
  } finally {
    await kms.close();
  }
});

test('GIVEN a real SoftHSM2 token WHEN the PKCS#11 signer generates a P-384 key and signs THEN the checkpoint verifies, and a second session finds the same key in the token', async () => {
  const dir = tempDir();
  const token = ensureSoftHsmToken(path.join(dir, 'softhsm'), 'audit-test');
  assert.equal(fs.statSync(token.pinFile).mode & 0o777, 0o600);
  let signer = await pkcs11Signer({ tokenLabel: token.tokenLabel, pinFile: token.pinFile, softhsmConf: token.conf, keyName: KEY });
  assert.equal(signer.algorithm, 'ecdsa-p384-sha384');
  const pub1 = Buffer.from(await signer.publicKey());
  const log = await openAuditLog({ stateDir: dir, signer, origin: KEY });
  await log.append({ type: 'x' });
  const opened = await openCheckpoint(await log.checkpoint(), log.verifierKeys().map(parseVerifierKey), 64);
  assert.deepEqual(opened.verifiedBy, [`${KEY}/ecdsa-p384-sha384`]);
  await log.close();
  signer = await pkcs11Signer({ tokenLabel: token.tokenLabel, pinFile: token.pinFile, softhsmConf: token.conf, keyName: KEY, generate: false });
  assert.ok(Buffer.from(await signer.publicKey()).equals(pub1));
  await signer.close?.();
});

test('GIVEN a SoftHSM2 token WHEN asked for P-256 THEN the key is P-256 and signatures verify as ecdsa-p256-sha256', async () => {
  const dir = tempDir();
  const token = ensureSoftHsmToken(path.join(dir, 'softhsm'), 'audit-p256');
  const signer = await pkcs11Signer({ tokenLabel: token.tokenLabel, pinFile: token.pinFile, softhsmConf: token.conf, keyName: KEY, curve: 'P-256' });
  assert.equal(signer.algorithm, 'ecdsa-p256-sha256');
  const msg = Buffer.from('hello\n');
  const pub = crypto.createPublicKey({ key: Buffer.from(await signer.publicKey()), format: 'der', type: 'spki' });
  assert.ok(crypto.verify('sha256', msg, pub, Buffer.from(await signer.sign(msg))));
  await signer.close?.();
});

test('GIVEN a wrong PIN, no PIN or an unknown token WHEN the PKCS#11 signer starts THEN it is refused with its own code', async () => {
  const dir = tempDir();
  const token = ensureSoftHsmToken(path.join(dir, 'softhsm'), 'audit-refusals');
  const wrong = path.join(dir, 'wrong-pin');
  fs.writeFileSync(wrong, 'not-the-pin', { mode: 0o600 });
  await rejectsWith(pkcs11Signer({ tokenLabel: token.tokenLabel, pinFile: wrong, softhsmConf: token.conf, keyName: KEY }), 'GLM_ERR_AUDIT_SIGNER_UNAVAILABLE');
  const saved = process.env.GLIMMER_PKCS11_PIN;
  delete process.env.GLIMMER_PKCS11_PIN;
  try {
    await rejectsWith(pkcs11Signer({ tokenLabel: token.tokenLabel, softhsmConf: token.conf, keyName: KEY }), 'GLM_ERR_AUDIT_PIN_MISSING');
  } finally {
    if (saved !== undefined) process.env.GLIMMER_PKCS11_PIN = saved;
  }
  await rejectsWith(pkcs11Signer({ tokenLabel: 'no-such-token', pinFile: token.pinFile, softhsmConf: token.conf, keyName: KEY }), 'GLM_ERR_AUDIT_SIGNER_UNAVAILABLE');
  await rejectsWith(pkcs11Signer({ tokenLabel: token.tokenLabel, pinFile: path.join(dir, 'missing'), softhsmConf: token.conf, keyName: KEY }), 'GLM_ERR_AUDIT_PIN_MISSING');
});

test('GIVEN softhsm2 is installed WHEN the embedded default signer starts THEN it initialises a token under <stateDir>/softhsm/ and never logs the PIN', async () => {
  const dir = tempDir();
  const { logger, text } = capture();
  const signer = await embeddedSigner({ stateDir: dir, logger });
  assert.equal(signer.kind, 'pkcs11');
  const pin = fs.readFileSync(path.join(dir, 'softhsm', 'user-pin'), 'utf8');
  assert.ok(fs.readdirSync(path.join(dir, 'softhsm', 'tokens')).length >= 1);
  await signer.sign(Buffer.from('x'));
  assert.ok(!text().includes(pin));
  assert.ok(!text().includes(fs.readFileSync(path.join(dir, 'softhsm', 'so-pin'), 'utf8')));
  await signer.close?.();
});

test('GIVEN no SoftHSM2 library WHEN the embedded default signer starts THEN it falls back to an Ed25519 key file with a loud warning', async () => {
  const dir = tempDir();
  const { logger, text } = capture();
  const signer = await embeddedSigner({ stateDir: dir, logger, softhsmLibrary: path.join(dir, 'absent.so') });
  assert.equal(signer.kind, 'file');
  assert.equal(signer.algorithm, 'ed25519');
  assert.match(text(), /"level":40.*NOT AN HSM/);
  assert.equal(fs.statSync(path.join(dir, 'audit', 'checkpoint-ed25519.pem')).mode & 0o777, 0o600);
});

test('GIVEN KMS is unreachable when the runtime starts and the key spec is declared WHEN entries are appended THEN the log opens and appends are durable; WHEN KMS answers THEN the key is recorded and the checkpoint verifies', async () => {
  const port = await restartablePort();
  const first = await startKmsServer(port);
  const raw = first.raw;
  await first.close();
  const signer = await kmsSigner({ keyId: 'p384-key', keySpec: 'ECC_NIST_P384', keyName: KEY, region: 'eu-central-1', endpoint: first.endpoint, credentials: CREDS, maxAttempts: 1, requestTimeoutMs: 500 });
  const dir = tempDir();
  const log = await openAuditLog({ stateDir: dir, signer, origin: KEY, checkpointIntervalMs: 20 });
  await Promise.all(Array.from({ length: 10 }, (_, i) => log.append({ type: 'offline', i })));
  assert.equal(log.size(), 10);
  assert.deepEqual(log.verifierKeys(), []);
  await rejectsWith(log.checkpoint(), 'GLM_ERR_AUDIT_SIGNER_UNAVAILABLE');
  const kms = await startKmsServer(port, raw);
  try {
    for (let i = 0; i < 300 && log.latestCheckpoint()?.size !== 10; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(log.latestCheckpoint()?.size, 10);
    const keys = log.verifierKeys();
    assert.equal(keys.length, 1);
    assert.equal(fs.readFileSync(path.join(dir, 'audit', 'keys.txt'), 'utf8'), `${keys[0]}\n`);
    await openCheckpoint(log.latestCheckpoint()?.note as string, keys.map(parseVerifierKey), 64);
    await log.close();
  } finally {
    await kms.close();
  }
});
