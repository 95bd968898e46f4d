/**
 * Cluster mode's evidence path against protocol-level peers: checkpoints signed through @aws-sdk/client-kms by the
 * KMS-protocol test server, sealed segments written by @aws-sdk/client-s3 to moto's S3 server with Object Lock, then
 * verified straight from the bucket by the real `glimmer audit verify --bucket`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { DeleteObjectCommand, GetObjectCommand, ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { s3SegmentArchive, segmentKey } from '../../runtime/audit/archive';
import { kmsDataKey } from '../../runtime/audit/data-key';
import { openPseudonymiser } from '../../runtime/audit/gdpr';
import { kmsSigner } from '../../runtime/audit/kms';
import { openAuditLog } from '../../runtime/audit/log';
import { fileSigner } from '../../runtime/audit/signers';
import { verifyBucket } from '../../runtime/audit/verify-bucket';
import { isGlimmerError } from '../../runtime/errors';
import { assertDurableStore, clusterSettings } from '../../runtime/lifecycle/cluster';
import { glimmer } from '../helpers/cli';
import { createLockedBucket, startS3Server, TEST_AWS_ENV } from '../helpers/s3-server';
import { tempDir } from './helpers';
import { startKmsServer } from './kms-server';

const RETENTION = { mode: 'GOVERNANCE', days: 1 } as const;

async function peers(t: { after(fn: () => Promise<void>): void }) {
  Object.assign(process.env, TEST_AWS_ENV);
  const kms = await startKmsServer(0, undefined, { aliases: { 'alias/glimmer/audit': 'p384-key', 'alias/glimmer/data': 'data-key' } });
  const s3 = await startS3Server();
  t.after(async () => {
    await kms.close();
    await s3.close();
  });
  const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true });
  t.after(async () => client.destroy());
  return { kms, s3, client };
}

async function sealedLog(kmsEndpoint: string, s3Endpoint: string, bucket: string, prefix: string) {
  const stateDir = tempDir();
  const signer = await kmsSigner({ keyId: 'alias/glimmer/audit', keyName: 'glimmer.cluster/audit', endpoint: kmsEndpoint });
  const archive = await s3SegmentArchive({ bucket, prefix, retention: RETENTION, endpoint: s3Endpoint });
  const log = await openAuditLog({ stateDir, signer, archive });
  for (let i = 0; i < 50; i++) await log.append({ type: 'test.event', i });
  await log.rotate();
  for (let i = 0; i < 30; i++) await log.append({ type: 'test.event', i: 50 + i });
  await log.close();
  return stateDir;
}

test('GIVEN a log signed by a KMS key (by alias) with an Object Lock archive WHEN segments are sealed THEN each object is locked, a locked version cannot be deleted, and `glimmer audit verify --bucket` passes from the bucket alone', async (t) => {
  const { kms, s3, client } = await peers(t);
  await createLockedBucket(s3.endpoint, 'audit-ok');
  const stateDir = await sealedLog(kms.endpoint, s3.endpoint, 'audit-ok', 'industrial-1/');
  assert.ok(fs.existsSync(`${stateDir}/audit/segments/000001.archived`));

  const report = await verifyBucket('s3://audit-ok/industrial-1/', { endpoint: s3.endpoint });
  assert.deepEqual(report.findings, []);
  assert.equal(report.size, 80);
  assert.equal(report.segments, 2);

  const versions = await client.send(new ListObjectVersionsCommand({ Bucket: 'audit-ok', Prefix: `industrial-1/${segmentKey(1, 'leaves')}` }));
  const version = versions.Versions?.[0]?.VersionId;
  await assert.rejects(client.send(new DeleteObjectCommand({ Bucket: 'audit-ok', Key: `industrial-1/${segmentKey(1, 'leaves')}`, VersionId: version })), /AccessDenied|locked|retention/i);

  const cli = await glimmer(['audit', 'verify', '--bucket', 's3://audit-ok/', '--json'], { env: { ...TEST_AWS_ENV, AWS_ENDPOINT_URL_S3: s3.endpoint } });
  assert.equal(cli.code, 0, cli.stdout + cli.stderr);
  assert.equal((JSON.parse(cli.stdout) as { size: number }).size, 80);
});

test('GIVEN an archived log WHEN a new version of a segment is uploaded over it (tampering) THEN verify --bucket exits 1 naming the unlocked object and the root that differs', async (t) => {
  const { kms, s3, client } = await peers(t);
  await createLockedBucket(s3.endpoint, 'audit-tamper');
  await sealedLog(kms.endpoint, s3.endpoint, 'audit-tamper', '');
  const key = segmentKey(1, 'leaves');
  const original = await (await import('node:stream/consumers')).text((await client.send(new (await import('@aws-sdk/client-s3')).GetObjectCommand({ Bucket: 'audit-tamper', Key: key }))).Body as NodeJS.ReadableStream);
  await client.send(new PutObjectCommand({ Bucket: 'audit-tamper', Key: key, Body: original.replace('"i":7', '"i":8') }));
  const cli = await glimmer(['audit', 'verify', '--bucket', 's3://audit-tamper', '--json'], { env: { ...TEST_AWS_ENV, AWS_ENDPOINT_URL_S3: s3.endpoint } });
  assert.equal(cli.code, 1, cli.stdout + cli.stderr);
  const findings = (JSON.parse(cli.stdout) as { findings: string[] }).findings.join('\n');
  assert.match(findings, /segments\/000001\.leaves is not under Object Lock retention/);
  assert.match(findings, /segment 1: the root recomputed from entries 0\.\.49 differs from the signed checkpoint/);
});

test('GIVEN a bucket without Object Lock WHEN a segment is archived THEN the put is refused with GLM_ERR_AUDIT_ARCHIVE_FAILED and the segment stays pending on the volume', async (t) => {
  const { s3 } = await peers(t);
  await createLockedBucket(s3.endpoint, 'audit-unlocked', false);
  const stateDir = tempDir();
  fs.mkdirSync(`${stateDir}/x`);
  fs.writeFileSync(`${stateDir}/x/1.leaves`, '{"index":0}\n');
  const archive = await s3SegmentArchive({ bucket: 'audit-unlocked', prefix: '', retention: RETENTION, endpoint: s3.endpoint });
  await assert.rejects(archive.put({ algorithm: 'RFC9162_SHA512', origin: 'o', keys: [] }, { id: 1, leavesFile: `${stateDir}/x/1.leaves`, checkpoint: 'cp\n', sealedAt: Date.now() }), (err) => isGlimmerError(err, 'GLM_ERR_AUDIT_ARCHIVE_FAILED'));
  await archive.close();
});

test('GIVEN an archive bucket that does not exist yet WHEN a segment is sealed THEN it stays pending on the volume, and once the bucket exists the next tick uploads it with the log\'s description', async (t) => {
  const { s3, client } = await peers(t);
  const stateDir = tempDir();
  const archive = await s3SegmentArchive({ bucket: 'audit-later', prefix: 'p/', retention: RETENTION, endpoint: s3.endpoint });
  const log = await openAuditLog({ stateDir, signer: fileSigner({ keyFile: `${stateDir}/k.pem`, keyName: 'glimmer.test/audit' }), archive, checkpointIntervalMs: 20, origin: 'later.test/audit' });
  await log.append({ type: 'test.event' });
  const sealed = await log.rotate();
  const marker = `${stateDir}/audit/segments/${String(sealed?.id).padStart(6, '0')}.archived`;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(fs.existsSync(marker), false);
  await createLockedBucket(s3.endpoint, 'audit-later');
  for (let i = 0; i < 500 && !fs.existsSync(marker); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(fs.existsSync(marker), true, 'the pending segment was not archived by a tick');
  const keys = log.verifierKeys();
  await log.close();
  const described = await client.send(new GetObjectCommand({ Bucket: 'audit-later', Key: 'p/log.json' }));
  const body = JSON.parse(await (described.Body as { transformToString(): Promise<string> }).transformToString()) as Record<string, unknown>;
  assert.equal(body.origin, 'later.test/audit');
  assert.equal(body.algorithm, 'RFC9162_SHA512');
  assert.deepEqual(body.keys, keys);
});

test('GIVEN the HSM-backed KMS key WHEN the GDPR data key is generated and the pod restarts THEN the same key is unwrapped, subject keys are sealed under it, and the store refuses to open without it', async (t) => {
  const { kms } = await peers(t);
  const stateDir = tempDir();
  const first = await kmsDataKey({ keyId: 'alias/glimmer/data', stateDir, endpoint: kms.endpoint });
  const again = await kmsDataKey({ keyId: 'alias/glimmer/data', stateDir, endpoint: kms.endpoint });
  assert.ok(first.equals(again));
  assert.ok(!fs.readFileSync(`${stateDir}/audit/data-key.wrapped`).includes(first));
  const keys = openPseudonymiser({ stateDir, dataKey: first });
  const p = keys.pseudonym('alice@example.com');
  keys.close();
  const reopened = openPseudonymiser({ stateDir, dataKey: again });
  assert.equal(reopened.pseudonym('alice@example.com'), p);
  reopened.close();
  assert.throws(() => openPseudonymiser({ stateDir }), (err) => isGlimmerError(err, 'GLM_ERR_DATA_KEY_UNAVAILABLE'));
  await assert.rejects(kmsDataKey({ keyId: 'p384-key', stateDir, endpoint: kms.endpoint }), (err) => isGlimmerError(err, 'GLM_ERR_DATA_KEY_UNAVAILABLE'));
});

test('GIVEN GLIMMER_RUNTIME_MODE=cluster WHEN the signing key, bucket or data key is missing, a value is malformed, or the state dir is absent or on tmpfs THEN the start is refused with the GLM_ERR_CLUSTER_ code naming it', () => {
  const full = { GLIMMER_AUDIT_SIGNING_KEY: 'alias/a', GLIMMER_AUDIT_BUCKET: 'glimmer-audit', GLIMMER_DATA_KEY: 'alias/d', GLIMMER_TRUST_CA_DIR: '/etc/glimmer/trust' };
  assert.throws(() => clusterSettings({ GLIMMER_AUDIT_BUCKET: 'b' }), (err) => isGlimmerError(err, 'GLM_ERR_CLUSTER_SIGNER_REQUIRED') && /GLIMMER_AUDIT_SIGNING_KEY, GLIMMER_DATA_KEY, GLIMMER_TRUST_CA_DIR are not set/.test(err.message));
  assert.throws(() => clusterSettings({ ...full, GLIMMER_AUDIT_RETENTION_MODE: 'LEGAL' }), (err) => isGlimmerError(err, 'GLM_ERR_CLUSTER_CONFIG_INVALID') && err.message.includes('"LEGAL"'));
  assert.throws(() => clusterSettings({ ...full, GLIMMER_AUDIT_RETENTION_DAYS: '0' }), (err) => isGlimmerError(err, 'GLM_ERR_CLUSTER_CONFIG_INVALID'));
  assert.throws(() => clusterSettings({ ...full, GLIMMER_AUDIT_PREFIX: '../x' }), (err) => isGlimmerError(err, 'GLM_ERR_CLUSTER_CONFIG_INVALID'));
  assert.deepEqual(clusterSettings({ ...full, GLIMMER_AUDIT_BUCKET: 's3://glimmer-audit/edge', GLIMMER_AUDIT_PREFIX: 'industrial-1' }), {
    signingKey: 'alias/a', bucket: 'glimmer-audit', prefix: 'edge/industrial-1/', retention: { mode: 'COMPLIANCE', days: 2555 }, dataKey: 'alias/d', trustCaDir: '/etc/glimmer/trust',
  });
  assert.throws(() => assertDurableStore('/nonexistent/glimmer-state'), (err) => isGlimmerError(err, 'GLM_ERR_CLUSTER_STORE_NOT_DURABLE') && /does not exist/.test(err.message));
  const shm = fs.mkdtempSync('/dev/shm/glimmer-');
  try {
    assert.throws(() => assertDurableStore(shm), (err) => isGlimmerError(err, 'GLM_ERR_CLUSTER_STORE_NOT_DURABLE') && /tmpfs/.test(err.message));
  } finally {
    fs.rmSync(shm, { recursive: true });
  }
  assert.doesNotThrow(() => assertDurableStore(tempDir()));
});

test('GIVEN GLIMMER_RUNTIME_MODE=cluster without GLIMMER_AUDIT_SIGNING_KEY WHEN `glimmer run` starts THEN it exits non-zero with GLM_ERR_CLUSTER_SIGNER_REQUIRED and writes no local key', async () => {
  const stateDir = tempDir();
  const r = await glimmer(['run', '--state-dir', stateDir, '--api-port', '0'], { env: { GLIMMER_RUNTIME_MODE: 'cluster', GLIMMER_AUDIT_SIGNING_KEY: '', GLIMMER_AUDIT_BUCKET: 'b', GLIMMER_DATA_KEY: 'k' }, timeoutMs: 30_000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr + r.stdout, /GLM_ERR_CLUSTER_SIGNER_REQUIRED/);
  assert.ok(!fs.existsSync(`${stateDir}/audit`), 'nothing of the audit log (no key file) was created');
});
