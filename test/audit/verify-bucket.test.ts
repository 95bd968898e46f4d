/**
 * The archive verifier (`glimmer audit verify --bucket`) against moto's S3 server with Object Lock: logs crafted object
 * by object (log.json, segments/<id>.leaves and .checkpoint, each with or without retention) so every finding is
 * provoked alone, and each report checked field by field against values written out here. One moto server for the
 * file; the slow case (a listing longer than one page) runs last.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { after, before, test } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { segmentKey } from '../../runtime/audit/archive';
import { hasher, rootOf } from '../../runtime/audit/merkle';
import { formatVerifierKey, signNote } from '../../runtime/audit/note';
import { ephemeralSigner } from '../../runtime/audit/signers';
import { verifyBucket } from '../../runtime/audit/verify-bucket';
import { isGlimmerError } from '../../runtime/errors';
import { createLockedBucket, startS3Server, type S3TestServer, TEST_AWS_ENV } from '../helpers/s3-server';

const BUCKET = 'verify-bucket';
const ORIGIN = 'glimmer.test/a';
const h = hasher('RFC9162_SHA256');
const signer = ephemeralSigner(ORIGIN);
const stranger = ephemeralSigner(ORIGIN);
let vkey = '';
let strangerKey = '';
let s3: S3TestServer;
let client: S3Client;

before(async () => {
  Object.assign(process.env, TEST_AWS_ENV);
  s3 = await startS3Server();
  await createLockedBucket(s3.endpoint, BUCKET);
  client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true });
  vkey = formatVerifierKey(ORIGIN, 'ed25519', await signer.publicKey());
  strangerKey = formatVerifierKey(ORIGIN, 'ed25519', await stranger.publicKey());
});

after(async () => {
  client.destroy();
  await s3.close();
});

type Lock = 'locked' | 'none' | 'expired' | 'mode-only';

/** `lock` a Date: GOVERNANCE retention until then. */
async function put(key: string, body: string, lock: Lock | Date = 'locked'): Promise<void> {
  const until = lock instanceof Date ? lock : lock === 'locked' ? new Date(Date.now() + 86_400_000) : lock === 'expired' ? new Date(Date.now() - 86_400_000) : undefined;
  await client.send(new PutObjectCommand({
    Bucket: BUCKET, Key: key, Body: Buffer.from(body),
    ...(lock === 'none' ? {} : { ObjectLockMode: 'GOVERNANCE' as const }), ...(until ? { ObjectLockRetainUntilDate: until } : {}),
  }));
}

/** A canonical leaf carrying its index. */
const leaf = (index: number, what = 't') => `{"index":${index},"type":"${what}"}`;
const leaves = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => leaf(from + i));

/** A checkpoint over `all` (every leaf from entry 0), signed by `by`; `size` overrides the size line. */
function checkpoint(all: readonly string[], options: { origin?: string; size?: number; by?: typeof signer } = {}): Promise<string> {
  const root = rootOf(h, all.map((l) => Buffer.from(l)));
  return signNote(`${options.origin ?? ORIGIN}\n${options.size ?? all.length}\n${root.toString('base64')}\n`, [options.by ?? signer]);
}

interface Segment {
  readonly id: number;
  /** null: no leaves object. */
  readonly leaves: readonly string[] | null;
  readonly checkpoint: string;
  readonly lock?: { leaves?: Lock | Date; checkpoint?: Lock | Date };
}

async function writeLog(prefix: string, segments: readonly Segment[], meta: object = { algorithm: 'RFC9162_SHA256', origin: ORIGIN, keys: [vkey] }): Promise<void> {
  await put(`${prefix}log.json`, `${JSON.stringify(meta)}\n`);
  for (const seg of segments) {
    if (seg.leaves) await put(`${prefix}${segmentKey(seg.id, 'leaves')}`, seg.leaves.map((l) => `${l}\n`).join(''), seg.lock?.leaves);
    await put(`${prefix}${segmentKey(seg.id, 'checkpoint')}`, seg.checkpoint, seg.lock?.checkpoint);
  }
}

/** A clean log of `n` entries in one segment. */
async function cleanLog(prefix: string, n: number): Promise<void> {
  await writeLog(prefix, [{ id: 1, leaves: leaves(0, n), checkpoint: await checkpoint(leaves(0, n)) }]);
}

const verify = (path: string, options: Parameters<typeof verifyBucket>[1] = {}) => verifyBucket(`s3://${BUCKET}/${path}`, { endpoint: s3.endpoint, ...options });

test('GIVEN a clean log of two locked segments WHEN verified from the bucket, with and without --since checkpoints THEN the report counts 5 entries, 2 checkpoints and 2 proofs, and only a --since that is not a prefix is a finding', async () => {
  await writeLog('clean/', [
    { id: 1, leaves: leaves(0, 3), checkpoint: await checkpoint(leaves(0, 3)) },
    { id: 2, leaves: leaves(3, 5), checkpoint: await checkpoint(leaves(0, 5)) },
  ]);
  const clean = { ok: true, algorithm: 'RFC9162_SHA256', size: 5, checkpoints: 2, segments: 2, proofsChecked: 2, findings: [] };
  assert.deepEqual(await verify('clean'), clean);
  // The end of a segment, inside one, the whole log and the empty log are prefixes.
  assert.deepEqual(await verify('clean/', { since: await checkpoint(leaves(0, 3)) }), clean);
  assert.deepEqual(await verify('clean/', { since: await checkpoint(leaves(0, 4)) }), clean);
  assert.deepEqual(await verify('clean/', { since: await checkpoint(leaves(0, 5)) }), clean);
  // The empty log (size 0, the RFC 9162 empty root: SHA-256 of nothing) is a prefix of every log.
  const empty = await signNote(`${ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n`, [signer]);
  assert.deepEqual(await verify('clean/', { since: empty }), clean);

  const notPrefix = (size: number) => ({ ...clean, ok: false, findings: [`the --since checkpoint (size ${size}) is not a prefix of the archived log`] });
  assert.deepEqual(await verify('clean/', { since: await checkpoint([leaf(0), leaf(1, 'other'), leaf(2)]) }), notPrefix(3));
  assert.deepEqual(await verify('clean/', { since: await checkpoint(leaves(0, 6)) }), notPrefix(6));
  assert.deepEqual(await verify('clean/', { since: await signNote(`${ORIGIN}\n6\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n`, [signer]) }), notPrefix(6));
  assert.deepEqual(await verify('clean/', { since: await checkpoint([leaf(0, 'other')], { size: 0 }) }), notPrefix(0));
  assert.deepEqual(await verify('clean/', { since: await checkpoint(leaves(0, 3), { by: stranger }) }), {
    ...clean, ok: false, findings: ['the --since checkpoint: GLM_ERR_AUDIT_SIGNATURE_INVALID: checkpoint of size 3 carries no signature from a trusted key'],
  });
});

test('GIVEN leaves that are not canonical, carry the wrong index or are not JSON, under a checkpoint signed over them WHEN verified THEN each is named by segment and entry and the root still checks', async () => {
  const bad = [leaf(0), '{"type":"t","index":1}', leaf(7), 'not json', leaf(4)];
  await writeLog('leaves/', [{ id: 1, leaves: bad, checkpoint: await checkpoint(bad) }]);
  assert.deepEqual(await verify('leaves/'), {
    ok: false, algorithm: 'RFC9162_SHA256', size: 5, checkpoints: 1, segments: 1, proofsChecked: 1,
    findings: ['segment 1: entry 1: leaf is not in canonical form', 'segment 1: entry 2: leaf carries index 7', 'segment 1: entry 3: leaf is not valid JSON'],
  });
});

test('GIVEN checkpoints of another origin, of a size their segment does not hold, behind the previous one, and one equal to the previous WHEN verified THEN the first three are findings and the equal one is not', async () => {
  await writeLog('checkpoints/', [
    { id: 1, leaves: leaves(0, 3), checkpoint: await checkpoint(leaves(0, 3), { origin: 'other.origin' }) },
    { id: 2, leaves: leaves(3, 5), checkpoint: await checkpoint(leaves(0, 5), { size: 6 }) },
    { id: 3, leaves: [], checkpoint: await checkpoint(leaves(0, 4)) },
    { id: 4, leaves: [], checkpoint: await checkpoint(leaves(0, 5)) },
    { id: 5, leaves: [], checkpoint: await checkpoint(leaves(0, 5)) },
  ]);
  assert.deepEqual(await verify('checkpoints/'), {
    ok: false, algorithm: 'RFC9162_SHA256', size: 5, checkpoints: 5, segments: 5, proofsChecked: 3,
    findings: [
      'segment 1: checkpoint origin "other.origin", the log is "glimmer.test/a"',
      'segment 2: holds entries 3..4 but its checkpoint covers 6 (missing, truncated or extended)',
      'segment 3: holds entries 5..4 but its checkpoint covers 4 (missing, truncated or extended)',
      'segment 3: its checkpoint (size 4) is behind the previous one (6)',
    ],
  });
});

test('GIVEN segment ids past six digits (999999 then 1000000, which the listing returns first) WHEN verified THEN both segments are verified in numeric order', async () => {
  await writeLog('seven-digits/', [
    { id: 999_999, leaves: leaves(0, 2), checkpoint: await checkpoint(leaves(0, 2)) },
    { id: 1_000_000, leaves: leaves(2, 3), checkpoint: await checkpoint(leaves(0, 3)) },
  ]);
  assert.deepEqual(await verify('seven-digits/'), { ok: true, algorithm: 'RFC9162_SHA256', size: 3, checkpoints: 2, segments: 2, proofsChecked: 2, findings: [] });
});

test('GIVEN checkpoint look-alikes beside a clean segment (nested under segments/, padded to seven digits, numbered past the largest safe integer) WHEN verified THEN they are stray objects: the clean segment verifies and none is read as a segment', async () => {
  await cleanLog('look-alikes/', 2);
  await put('look-alikes/segments/old/000002.checkpoint', await checkpoint(leaves(0, 2)));
  await put('look-alikes/segments/0000003.checkpoint', await checkpoint(leaves(0, 2)));
  await put('look-alikes/segments/9007199254740993.checkpoint', await checkpoint(leaves(0, 2)));
  await put('look-alikes/other/segments/000004.checkpoint', await checkpoint(leaves(0, 2)));
  assert.deepEqual(await verify('look-alikes/'), { ok: true, algorithm: 'RFC9162_SHA256', size: 2, checkpoints: 1, segments: 1, proofsChecked: 1, findings: [] });
});

test('GIVEN a segment whose leaves object is missing WHEN verified THEN it is named missing and unreadable, and its checkpoint is not compared', async () => {
  await writeLog('no-leaves/', [{ id: 1, leaves: null, checkpoint: await checkpoint(leaves(0, 2)) }]);
  assert.deepEqual(await verify('no-leaves/'), {
    ok: false, algorithm: 'RFC9162_SHA256', size: 0, checkpoints: 1, segments: 1, proofsChecked: 0,
    findings: ['segment 1: segments/000001.leaves is missing', 'segment 1: segments/000001.leaves cannot be read: The specified key does not exist.'],
  });
});

test('GIVEN objects (log.json too) without retention, with retention expired, and with a mode but no date WHEN verified THEN each is named with its mode, relative to the log prefix', async () => {
  await writeLog('unlocked/', [
    { id: 1, leaves: leaves(0, 2), checkpoint: await checkpoint(leaves(0, 2)), lock: { checkpoint: 'none', leaves: 'expired' } },
    { id: 2, leaves: leaves(2, 3), checkpoint: await checkpoint(leaves(0, 3)), lock: { checkpoint: 'mode-only' } },
  ]);
  // A new version of log.json without retention (the keys it names are trusted on first use).
  await put('unlocked/log.json', JSON.stringify({ algorithm: 'RFC9162_SHA256', origin: ORIGIN, keys: [vkey] }), 'none');
  assert.deepEqual(await verify('unlocked/'), {
    ok: false, algorithm: 'RFC9162_SHA256', size: 3, checkpoints: 2, segments: 2, proofsChecked: 2,
    findings: [
      'log.json is not under Object Lock retention (mode undefined)',
      'segments/000001.checkpoint is not under Object Lock retention (mode undefined)',
      'segments/000001.leaves is not under Object Lock retention (mode "GOVERNANCE")',
      'segments/000002.checkpoint is not under Object Lock retention (mode "GOVERNANCE")',
    ],
  });
});

test('GIVEN a retention that ends at the very millisecond of the check WHEN verified THEN the object is no longer under retention', async (t) => {
  const ends = new Date(Date.now() + 86_400_000);
  const later = new Date(ends.getTime() + 3_600_000);
  await writeLog('retention-ends/', [{ id: 1, leaves: leaves(0, 1), checkpoint: await checkpoint(leaves(0, 1)), lock: { leaves: later, checkpoint: ends } }]);
  await put('retention-ends/log.json', JSON.stringify({ algorithm: 'RFC9162_SHA256', origin: ORIGIN, keys: [vkey] }), later);
  t.mock.timers.enable({ apis: ['Date'], now: ends.getTime() });
  assert.deepEqual(await verify('retention-ends/'), {
    ok: false, algorithm: 'RFC9162_SHA256', size: 1, checkpoints: 1, segments: 1, proofsChecked: 1,
    findings: ['segments/000001.checkpoint is not under Object Lock retention (mode "GOVERNANCE")'],
  });
});

test('GIVEN verifier keys recorded by the log, absent, or pinned by the caller WHEN verified THEN pinned keys replace the recorded ones and no key at all is a finding', async () => {
  const segments = [{ id: 1, leaves: leaves(0, 2), checkpoint: await checkpoint(leaves(0, 2)) }];
  await writeLog('keys-none/', segments, { algorithm: 'RFC9162_SHA256', origin: ORIGIN, keys: [] });
  await writeLog('keys-absent/', segments, { algorithm: 'RFC9162_SHA256', origin: ORIGIN });
  await writeLog('keys-own/', segments);
  const report = (findings: string[], proofs: number) => ({ ok: findings.length === 0, algorithm: 'RFC9162_SHA256', size: 2, checkpoints: 1, segments: 1, proofsChecked: proofs, findings });
  const untrusted = 'segment 1 final checkpoint: GLM_ERR_AUDIT_SIGNATURE_INVALID: checkpoint of size 2 carries no signature from a trusted key';
  const none = ['no verifier keys: nothing can vouch for the checkpoints', untrusted];
  assert.deepEqual(await verify('keys-none/'), report(none, 0));
  assert.deepEqual(await verify('keys-absent/'), report(none, 0));
  assert.deepEqual(await verify('keys-none/', { trustedKeys: [vkey] }), report([], 1));
  assert.deepEqual(await verify('keys-own/', { trustedKeys: [strangerKey] }), report([untrusted], 0));
  assert.deepEqual(await verify('keys-own/', { trustedKeys: [] }), report(none, 0));
});

test('GIVEN a prefix holding no log.json but logs below it WHEN verified THEN each log is verified, sizes and counts add up, findings carry the log location, and a prefix with its own log.json verifies that log alone', async () => {
  await cleanLog('fleet/a/', 3);
  // Its segment id is one fleet/a/ lacks: a log must not read the segments of a log nested below it.
  await writeLog('fleet/a/nested/', [{ id: 7, leaves: leaves(0, 1), checkpoint: await checkpoint(leaves(0, 1)) }]);
  await writeLog('fleet/b/c/', [{ id: 1, leaves: [leaf(0), leaf(1, 'tampered')], checkpoint: await checkpoint(leaves(0, 2)) }]);
  assert.deepEqual(await verify('fleet'), {
    ok: false, size: 6, checkpoints: 3, segments: 3, proofsChecked: 2,
    findings: [`s3://${BUCKET}/fleet/b/c/: segment 1: the root recomputed from entries 0..1 differs from the signed checkpoint`],
    logs: [`s3://${BUCKET}/fleet/a/`, `s3://${BUCKET}/fleet/a/nested/`, `s3://${BUCKET}/fleet/b/c/`],
  });
  assert.deepEqual(await verify('fleet/a/'), { ok: true, algorithm: 'RFC9162_SHA256', size: 3, checkpoints: 1, segments: 1, proofsChecked: 1, findings: [] });
  assert.deepEqual(await verify('fleet/a/nested/'), { ok: true, algorithm: 'RFC9162_SHA256', size: 1, checkpoints: 1, segments: 1, proofsChecked: 1, findings: [] });
  assert.deepEqual(await verify('fleet/b/'), {
    ok: false, size: 2, checkpoints: 1, segments: 1, proofsChecked: 0,
    findings: [`s3://${BUCKET}/fleet/b/c/: segment 1: the root recomputed from entries 0..1 differs from the signed checkpoint`],
    logs: [`s3://${BUCKET}/fleet/b/c/`],
  });
  // Every log below clean: the aggregate is ok.
  await cleanLog('fleet-ok/x/', 1);
  await cleanLog('fleet-ok/y/', 2);
  assert.deepEqual(await verify('fleet-ok/'), {
    ok: true, size: 3, checkpoints: 2, segments: 2, proofsChecked: 2, findings: [], logs: [`s3://${BUCKET}/fleet-ok/x/`, `s3://${BUCKET}/fleet-ok/y/`],
  });
});

test('GIVEN no log.json, a log.json that is not JSON, or one naming an unknown or no algorithm WHEN verified THEN GLM_ERR_AUDIT_VERIFY_FAILED names the object and the cause, and carries the read or parse error as its cause', async () => {
  const refused = async (path: string, message: string, cause?: string) => {
    await assert.rejects(verify(path), (err) => isGlimmerError(err, 'GLM_ERR_AUDIT_VERIFY_FAILED') && err.message === message && (err.cause as Error | undefined)?.name === cause);
  };
  await refused('nothing-here/', `s3://${BUCKET}/nothing-here/log.json cannot be read: The specified key does not exist.`, 'NoSuchKey');
  await put('garbled/log.json', 'not json');
  let parseError = '';
  try {
    JSON.parse('not json');
  } catch (err) {
    parseError = (err as Error).message;
  }
  await refused('garbled/', `s3://${BUCKET}/garbled/log.json cannot be read: ${parseError}`, 'SyntaxError');
  await put('sha1/log.json', JSON.stringify({ algorithm: 'SHA1', origin: ORIGIN, keys: [vkey] }));
  await refused('sha1/', `s3://${BUCKET}/sha1/log.json names unknown algorithm "SHA1"`);
  await put('no-algorithm/log.json', JSON.stringify({ origin: ORIGIN, keys: [vkey] }));
  await refused('no-algorithm/', `s3://${BUCKET}/no-algorithm/log.json names unknown algorithm undefined`);
});

test('GIVEN a log.json but no sealed segment (a leaves object without its checkpoint, stray objects) WHEN verified THEN the finding names the segments prefix', async () => {
  await put('unsealed/log.json', JSON.stringify({ algorithm: 'RFC9162_SHA256', origin: ORIGIN, keys: [vkey] }));
  await put(`unsealed/${segmentKey(1, 'leaves')}`, `${leaf(0)}\n`);
  await put('unsealed/segments/000002.checkpoint.tmp', 'x');
  await put('unsealed/segments/x000003.checkpoint', 'x');
  assert.deepEqual(await verify('unsealed/'), {
    ok: false, algorithm: 'RFC9162_SHA256', size: 0, checkpoints: 0, segments: 0, proofsChecked: 0,
    findings: [`no sealed segments under s3://${BUCKET}/unsealed/segments/`],
  });
});

test('GIVEN the region passed as an option and none in the environment WHEN verified THEN the client uses it (without it the SDK has no region and refuses)', async () => {
  await cleanLog('region/', 1);
  const region = process.env.AWS_REGION;
  delete process.env.AWS_REGION;
  try {
    assert.equal((await verify('region/', { region: 'eu-central-1' })).ok, true);
  } finally {
    process.env.AWS_REGION = region;
  }
});

test('GIVEN an endpoint that keeps connections alive (as S3 does; moto closes each one) WHEN a verification ends THEN the verifier has closed its connections', async () => {
  await cleanLog('keep-alive/', 1);
  const target = new URL(s3.endpoint);
  const open = new Set<net.Socket>();
  let allClosed = () => {};
  // A keep-alive HTTP/1.1 front for moto: it forwards each request and holds idle client connections for a minute.
  const front = http.createServer((req, res) => {
    const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      const { connection: _c, 'keep-alive': _k, ...headers } = r.headers;
      res.writeHead(r.statusCode ?? 502, headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  front.keepAliveTimeout = 60_000;
  front.on('connection', (socket: net.Socket) => {
    open.add(socket);
    socket.on('close', () => {
      open.delete(socket);
      if (open.size === 0) allClosed();
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  try {
    const report = await verifyBucket(`s3://${BUCKET}/keep-alive/`, { endpoint: `http://127.0.0.1:${(front.address() as net.AddressInfo).port}` });
    assert.equal(report.ok, true);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${open.size} connection(s) still open 5 s after the verification`)), 5_000);
      allClosed = () => {
        clearTimeout(timer);
        resolve();
      };
      if (open.size === 0) allClosed();
    });
  } finally {
    front.closeAllConnections();
    front.close();
  }
});

test('GIVEN more objects under a log than one ListObjectsV2 page (1000 on moto) WHEN verified THEN the listing follows continuation tokens and finds the segments on the second page', async () => {
  // 1001 stray objects that sort before segments/000001.*: the sealed segments are only on the listing's second page.
  const strays = Array.from({ length: 1001 }, (_, i) => `paged/segments/000000-stray-${String(i).padStart(4, '0')}`);
  for (let i = 0; i < strays.length; i += 50) await Promise.all(strays.slice(i, i + 50).map((k) => put(k, 'x', 'none')));
  await cleanLog('paged/', 2);
  assert.deepEqual(await verify('paged/'), { ok: true, algorithm: 'RFC9162_SHA256', size: 2, checkpoints: 1, segments: 1, proofsChecked: 1, findings: [] });
});
