import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { auditRoutes } from '../../runtime/api/routes/audit';
import { createApiServer } from '../../runtime/api/server';
import { auditDbPath, openAuditLog } from '../../runtime/audit/log';
import { formatCheckpoint, parseCheckpoint } from '../../runtime/audit/checkpoint-body';
import { formatVerifierKey, parseSignedNote, signNote } from '../../runtime/audit/note';
import { ephemeralSigner, fileSigner } from '../../runtime/audit/signers';
import { Findings, verifyRemote, verifySegmentFiles, verifyStateDir } from '../../runtime/audit/verify';
import { hasher } from '../../runtime/audit/merkle';
import { isGlimmerError } from '../../runtime/errors';
import { silentLogger } from '../../runtime/observability/logger';
import { glimmer } from '../helpers/cli';
import { tempDir } from './helpers';

const KEY = 'glimmer.local/audit';

/** A real log: 700 entries in two sealed segments plus an open tail with a later checkpoint. */
async function fixture(): Promise<string> {
  const dir = tempDir();
  const log = await openAuditLog({ stateDir: dir, signer: fileSigner({ keyFile: path.join(dir, 'signing.pem'), keyName: KEY }) });
  await Promise.all(Array.from({ length: 300 }, (_, i) => log.append({ type: 'fixture', i })));
  await log.checkpoint();
  await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ type: 'fixture', i: 300 + i })));
  await log.rotate();
  await Promise.all(Array.from({ length: 300 }, (_, i) => log.append({ type: 'fixture', i: 400 + i })));
  await log.close();
  return dir;
}

function tamper(dir: string, sql: string): void {
  const db = new Database(auditDbPath(dir));
  db.exec('DROP TRIGGER IF EXISTS entries_append_only_u; DROP TRIGGER IF EXISTS entries_append_only_d;');
  db.exec(sql);
  db.close();
}

test('GIVEN an untouched state dir WHEN `glimmer audit verify --dir` runs THEN it exits 0 and reports every entry, checkpoint and segment', async () => {
  const dir = await fixture();
  const r = await glimmer(['audit', 'verify', '--dir', dir]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^audit log OK: 700 entries, 3 checkpoint\(s\), 3 segment\(s\)/);
  const report = await verifyStateDir(dir);
  assert.ok(report.proofsChecked > 20);
});

test('GIVEN one flipped byte in a stored entry WHEN verified THEN the recomputed root differs and the CLI exits 1', async () => {
  const dir = await fixture();
  const db = new Database(auditDbPath(dir));
  const leaf = db.prepare('SELECT leaf FROM entries WHERE idx = 123').pluck().get() as Buffer;
  db.close();
  const flipped = Buffer.from(leaf);
  const at = flipped.indexOf('"i":123') + 5;
  flipped[at] = (flipped[at] as number) ^ 0x01; // '1' -> '0'
  tamper(dir, `UPDATE entries SET leaf = x'${flipped.toString('hex')}' WHERE idx = 123`);
  const report = await verifyStateDir(dir);
  assert.ok(report.findings.some((f) => /checkpoint 300: the recomputed root differs/.test(f)), report.findings.join('\n'));
  assert.ok(report.findings.some((f) => /segment 1: exported entry 123 differs/.test(f)));
  const r = await glimmer(['audit', 'verify', '--dir', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAILED verification/);
});

test('GIVEN a truncated sealed segment file WHEN verified THEN the missing entries are reported', async () => {
  const dir = await fixture();
  const file = path.join(dir, 'audit', 'segments', '000001.leaves');
  const bytes = fs.readFileSync(file);
  fs.chmodSync(file, 0o644);
  fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * 0.8)));
  const report = await verifyStateDir(dir);
  assert.ok(report.findings.some((f) => /segment 1: exported file holds \d+ entries, the segment has 400/.test(f)), report.findings.join('\n'));
});

test('GIVEN the store truncated behind its checkpoints WHEN verified THEN the truncation is reported', async () => {
  const dir = await fixture();
  tamper(dir, 'DELETE FROM entries WHERE idx >= 650');
  const report = await verifyStateDir(dir);
  assert.ok(report.findings.some((f) => /checkpoint 700 covers 700 entries but only 650 are stored/.test(f)), report.findings.join('\n'));
});

test('GIVEN a forged checkpoint (root replaced, old signature kept) WHEN verified THEN its signature fails', async () => {
  const dir = await fixture();
  const db = new Database(auditDbPath(dir));
  const note = db.prepare('SELECT note FROM checkpoints WHERE size = 300').pluck().get() as string;
  const parsed = parseSignedNote(note);
  const cp = parseCheckpoint(parsed.text);
  const forgedBody = formatCheckpoint({ ...cp, root: crypto.randomBytes(64) });
  const forged = note.replace(parsed.text, forgedBody);
  db.prepare('UPDATE checkpoints SET note = ? WHERE size = 300').run(forged);
  db.close();
  const report = await verifyStateDir(dir);
  assert.ok(report.findings.some((f) => /checkpoint 300: GLM_ERR_AUDIT_SIGNATURE_INVALID/.test(f)), report.findings.join('\n'));
});

test('GIVEN history rewritten and re-signed with an attacker key that was added to the store WHEN verified with the pinned keys.txt THEN it fails; without pinning the forged key is trusted only because it is recorded', async () => {
  const dir = await fixture();
  const pinned = path.join(tempDir(), 'keys.txt');
  fs.copyFileSync(path.join(dir, 'audit', 'keys.txt'), pinned);
  // The attacker rewrites entry 5, recomputes everything with the log's own code and signs with a new key.
  tamper(dir, "UPDATE entries SET leaf = CAST(REPLACE(CAST(leaf AS TEXT), '\"i\":5', '\"i\":6') AS BLOB) WHERE idx = 5; DELETE FROM checkpoints; UPDATE segments SET checkpoint = NULL; DELETE FROM chunks; DELETE FROM keys;");
  // With the whole state dir in hand it also drops the runtime's key pin: only the auditor's own copy catches it.
  fs.rmSync(path.join(dir, 'trust', 'audit-keys.txt'));
  const attacker = ephemeralSigner(KEY);
  const log = await openAuditLog({ stateDir: dir, signer: attacker });
  const note = await log.checkpoint();
  await log.close();
  const db = new Database(auditDbPath(dir));
  db.prepare("UPDATE segments SET checkpoint = ? WHERE checkpoint IS NULL AND end_idx IS NOT NULL").run(note);
  db.close();
  const r = await glimmer(['audit', 'verify', '--dir', dir, '--key-file', pinned]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /no signature from a trusted key/);
});

test('GIVEN a checkpoint the auditor kept WHEN the log is later verified with --since THEN it passes while the log extends it and fails once that prefix changed', async () => {
  const dir = await fixture();
  const db = new Database(auditDbPath(dir), { readonly: true });
  const kept = path.join(tempDir(), 'kept.checkpoint');
  fs.writeFileSync(kept, db.prepare('SELECT note FROM checkpoints WHERE size = 300').pluck().get() as string);
  db.close();
  assert.equal((await verifyStateDir(dir, { since: fs.readFileSync(kept, 'utf8') })).ok, true);
  const signer = fileSigner({ keyFile: path.join(dir, 'signing.pem'), keyName: KEY });
  // Even a checkpoint correctly signed by the log's key must be consistent with what the auditor saw before.
  const other = await signNote(formatCheckpoint({ origin: KEY, size: 300, root: crypto.randomBytes(64), extensions: [] }), [signer]);
  const report = await verifyStateDir(dir, { since: other });
  assert.ok(report.findings.some((f) => /checkpoint 300: the recomputed root differs/.test(f)), report.findings.join('\n'));
});

test('GIVEN a running API WHEN `glimmer audit verify --url --token` runs THEN it exits 0; after an entry is altered under it THEN exit 1; bad usage exits 2', async () => {
  const dir = tempDir();
  const log = await openAuditLog({ stateDir: dir, signer: fileSigner({ keyFile: path.join(dir, 'k.pem'), keyName: KEY }) });
  await Promise.all(Array.from({ length: 150 }, (_, i) => log.append({ type: 'remote', i })));
  await log.checkpoint();
  const api = createApiServer({ adminToken: 'verify-token-123', routes: auditRoutes(log), logger: silentLogger() });
  const port = await api.listen(0);
  try {
    const url = `http://127.0.0.1:${port}`;
    let r = await glimmer(['audit', 'verify', '--url', url, '--token', 'verify-token-123']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^audit log OK: 150 entries/);
    tamper(dir, "UPDATE entries SET leaf = CAST(REPLACE(CAST(leaf AS TEXT), '\"remote\"', '\"remotE\"') AS BLOB) WHERE idx = 77");
    r = await glimmer(['audit', 'verify', '--url', url, '--token', 'verify-token-123']);
    assert.equal(r.code, 1, r.stdout);
    await assert.rejects(verifyRemote(url, 'wrong-token'), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_VERIFY_FAILED'));
    r = await glimmer(['audit', 'verify', '--url', url]);
    assert.equal(r.code, 2);
    r = await glimmer(['audit', 'verify', '--dir', dir, '--url', url, '--token', 'x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /GLM_ERR_USAGE/);
    r = await glimmer(['audit', 'verify', '--dir', path.join(dir, 'nope')]);
    assert.equal(r.code, 2);
  } finally {
    await api.close();
    await log.close();
  }
});

test('GIVEN an untouched log WHEN verified in process THEN the report counts exactly: 700 entries, 3 checkpoints, 3 segments, 2 consistency and 35 inclusion proofs', async () => {
  const dir = await fixture();
  // Inclusion samples of 700: 0, 699, the powers of two 1..512 (10) and floor(i * 700 / 24) for i = 1..23 (23).
  assert.deepEqual(await verifyStateDir(dir), { ok: true, algorithm: 'RFC9162_SHA512', size: 700, checkpoints: 3, segments: 3, proofsChecked: 37, findings: [] });
});

test('GIVEN no audit log or one naming an unknown algorithm WHEN verified THEN GLM_ERR_USAGE or GLM_ERR_AUDIT_VERIFY_FAILED naming it', async () => {
  await assert.rejects(verifyStateDir(tempDir()), (e) => isGlimmerError(e, 'GLM_ERR_USAGE') && /no audit log at/.test((e as Error).message));
  const dir = await fixture();
  tamper(dir, "UPDATE meta SET value = 'RFC9162_MD5' WHERE key = 'algorithm'");
  await assert.rejects(verifyStateDir(dir), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_VERIFY_FAILED') && /unknown algorithm "RFC9162_MD5"/.test((e as Error).message));
  tamper(dir, "DELETE FROM meta WHERE key = 'algorithm'");
  await assert.rejects(verifyStateDir(dir), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_VERIFY_FAILED'));
});

test('GIVEN an empty pinned key list WHEN verified THEN nothing vouches for the checkpoints and each is reported', async () => {
  const dir = await fixture();
  const report = await verifyStateDir(dir, { trustedKeys: [] });
  assert.equal(report.ok, false);
  assert.equal(report.findings[0], 'no verifier keys: nothing can vouch for the checkpoints');
  for (const size of [300, 400, 700]) assert.ok(report.findings.some((f) => f.startsWith(`checkpoint ${size}: GLM_ERR_AUDIT_SIGNATURE_INVALID`)), `checkpoint ${size}`);
  // Nothing verified, so no proof could be checked.
  assert.equal(report.proofsChecked, 0);
});

test('GIVEN checkpoint rows moved under another size or a log renamed WHEN verified THEN the size and origin mismatches are reported', async () => {
  const dir = await fixture();
  tamper(dir, "UPDATE checkpoints SET size = 301 WHERE size = 300; UPDATE meta SET value = 'renamed.example/audit' WHERE key = 'origin'");
  const report = await verifyStateDir(dir);
  assert.ok(report.findings.includes('checkpoint stored under size 301 says size 300'), report.findings.join('\n'));
  assert.ok(report.findings.includes('checkpoint 301 has origin "glimmer.local/audit", the log is "renamed.example/audit"'), report.findings.join('\n'));
});

test('GIVEN leaves that are not JSON, carry another index, are not canonical or cannot be canonical WHEN verified THEN each entry is named with its problem', async () => {
  const dir = await fixture();
  const deep = `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`;
  const set = (idx: number, text: string) => `UPDATE entries SET leaf = x'${Buffer.from(text).toString('hex')}' WHERE idx = ${idx};`;
  tamper(dir, [
    set(10, 'not json'),
    set(11, '{"index":12,"record":{}}'),
    set(12, '{"record":{}, "index":12}'),
    set(13, `{"index":13,"record":${deep}}`),
    set(14, 'null'),
    set(15, '15'),
  ].join(' '));
  const report = await verifyStateDir(dir);
  const f = report.findings;
  assert.ok(f.includes('entry 10: leaf is not valid JSON'), f.join('\n'));
  assert.ok(f.includes('entry 11: leaf carries index 12'), f.join('\n'));
  assert.ok(f.includes('entry 12: leaf is not in canonical form'), f.join('\n'));
  assert.ok(f.some((x) => /^entry 13: GLM_ERR_AUDIT_RECORD_INVALID: .*deeper than 32 levels/.test(x)), f.join('\n'));
  assert.ok(f.includes('entry 14: leaf carries index undefined'), f.join('\n'));
  assert.ok(f.includes('entry 15: leaf carries index undefined'), f.join('\n'));
  assert.ok(!f.some((x) => /^entry (9|16):/.test(x)), 'untouched neighbours are not reported');
});

test('GIVEN a gap in the stored entries WHEN verified THEN the missing range is reported and the later checkpoint counts as truncated', async () => {
  const dir = await fixture();
  tamper(dir, 'DELETE FROM entries WHERE idx >= 500 AND idx < 510');
  const report = await verifyStateDir(dir);
  assert.ok(report.findings.includes('entries 500..509 are missing'), report.findings.join('\n'));
  assert.equal(report.size, 500);
  assert.ok(report.findings.includes('checkpoint 700 covers 700 entries but only 500 are stored (truncated)'), report.findings.join('\n'));
});

test('GIVEN segment rows or exported files altered WHEN verified THEN each difference is a finding naming the segment', async () => {
  const dir = await fixture();
  const seg = (name: string) => path.join(dir, 'audit', 'segments', name);
  const note300 = (() => {
    const db = new Database(auditDbPath(dir), { readonly: true });
    const n = db.prepare('SELECT note FROM checkpoints WHERE size = 300').pluck().get() as string;
    db.close();
    return n;
  })();
  // Segment 1 sealed with the checkpoint of 300; segment 2 without its checkpoint; segment 3 starting elsewhere.
  const db = new Database(auditDbPath(dir));
  db.prepare('UPDATE segments SET checkpoint = ? WHERE id = 1').run(note300);
  db.exec('UPDATE segments SET checkpoint = NULL WHERE id = 2; UPDATE segments SET start_idx = 699 WHERE id = 3');
  db.close();
  const report = await verifyStateDir(dir);
  const f = report.findings;
  assert.ok(f.includes('segment 1 final checkpoint does not match the recomputed root at 400'), f.join('\n'));
  assert.ok(f.includes('segment 1: exported checkpoint differs from the store'), f.join('\n'));
  assert.ok(f.includes('segment 2 is closed without a final checkpoint'), f.join('\n'));
  assert.ok(f.includes('segment 3 starts at 699, expected 700'), f.join('\n'));
  assert.ok(!f.some((x) => /segment 1: exported file holds/.test(x)), 'the leaves file of segment 1 is intact');

  const dir2 = await fixture();
  tamper(dir2, 'DELETE FROM checkpoints WHERE size = 400');
  for (const name of ['000001.leaves', '000002.leaves', '000002.checkpoint']) fs.chmodSync(path.join(dir2, 'audit', 'segments', name), 0o644);
  fs.appendFileSync(path.join(dir2, 'audit', 'segments', '000001.leaves'), '{"index":400}\n');
  const leaves2 = fs.readFileSync(path.join(dir2, 'audit', 'segments', '000002.leaves'));
  fs.writeFileSync(path.join(dir2, 'audit', 'segments', '000002.leaves'), leaves2.subarray(0, leaves2.length - 1));
  fs.rmSync(path.join(dir2, 'audit', 'segments', '000002.checkpoint'));
  const f2 = (await verifyStateDir(dir2)).findings;
  assert.ok(f2.includes("segment 1 final checkpoint (size 400) is not among the log's checkpoints or exceeds the store"), f2.join('\n'));
  assert.ok(f2.includes('segment 1: exported file holds 401 entries, the segment has 400 (truncated or extended)'), f2.join('\n'));
  assert.ok(f2.includes('segment 2: exported file holds 300 entries, the segment has 300 (truncated or extended)'), f2.join('\n'));
  assert.ok(f2.includes('segment 2: exported file 000002.checkpoint is missing'), f2.join('\n'));
  assert.ok(!f2.some((x) => /exported entry/.test(x)), 'every exported line equals the store');

  fs.chmodSync(seg('000001.leaves'), 0o644);
  fs.writeFileSync(seg('000001.leaves'), '');
  fs.rmSync(seg('000002.leaves'), { force: true });
  const f3 = (await verifyStateDir(dir)).findings;
  assert.ok(f3.includes('segment 1: exported file holds 0 entries, the segment has 400 (truncated or extended)'), f3.join('\n'));
  assert.ok(f3.includes('segment 2: exported file 000002.leaves is missing'), f3.join('\n'));
});

test('GIVEN a --since checkpoint beyond the store or not signed by a trusted key WHEN verified THEN it is reported', async () => {
  const dir = await fixture();
  const signer = fileSigner({ keyFile: path.join(dir, 'signing.pem'), keyName: KEY });
  const ahead = await signNote(formatCheckpoint({ origin: KEY, size: 800, root: crypto.randomBytes(64), extensions: [] }), [signer]);
  let f = (await verifyStateDir(dir, { since: ahead })).findings;
  assert.ok(f.includes('checkpoint 800 covers 800 entries but only 700 are stored (truncated)'), f.join('\n'));
  const stranger = await signNote(formatCheckpoint({ origin: KEY, size: 300, root: crypto.randomBytes(64), extensions: [] }), [ephemeralSigner(KEY)]);
  f = (await verifyStateDir(dir, { since: stranger })).findings;
  assert.ok(f.some((x) => x.startsWith('the --since checkpoint: GLM_ERR_AUDIT_SIGNATURE_INVALID')), f.join('\n'));
});

test('GIVEN a running API WHEN verified in process THEN the report counts exactly, a kept --since checkpoint is checked, and a changed, shrunk or untrusted history is reported', async () => {
  const dir = tempDir();
  const signer = fileSigner({ keyFile: path.join(dir, 'k.pem'), keyName: KEY });
  const log = await openAuditLog({ stateDir: dir, signer });
  await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ type: 'remote', i })));
  const at100 = await log.checkpoint();
  await Promise.all(Array.from({ length: 50 }, (_, i) => log.append({ type: 'remote', i: 100 + i })));
  await log.checkpoint();
  const api = createApiServer({ adminToken: 'verify-token-123', routes: auditRoutes(log), logger: silentLogger() });
  const port = await api.listen(0);
  try {
    const url = `http://127.0.0.1:${port}`;
    // Consistency from the powers of two below 150 (8); inclusion samples of 150: 0, 149, 8 powers of two, 23 spread.
    assert.deepEqual(await verifyRemote(url, 'verify-token-123'), { ok: true, algorithm: 'RFC9162_SHA512', size: 150, checkpoints: 1, segments: 0, proofsChecked: 41, findings: [] });
    const withSince = await verifyRemote(url, 'verify-token-123', { since: at100 });
    assert.equal(withSince.ok, true, withSince.findings.join('\n'));
    assert.equal(withSince.proofsChecked, 42);
    const otherRoot = await signNote(formatCheckpoint({ origin: KEY, size: 100, root: crypto.randomBytes(64), extensions: [] }), [signer]);
    let r = await verifyRemote(url, 'verify-token-123', { since: otherRoot });
    assert.ok(r.findings.includes("the --since checkpoint's root differs from the log's first 100 entries"), r.findings.join('\n'));
    assert.ok(r.findings.includes('consistency proof 100 -> 150 does not verify'), r.findings.join('\n'));
    const longer = await signNote(formatCheckpoint({ origin: KEY, size: 200, root: crypto.randomBytes(64), extensions: [] }), [signer]);
    r = await verifyRemote(url, 'verify-token-123', { since: longer });
    assert.ok(r.findings.includes('the log shrank: the --since checkpoint covers 200 entries, the latest 150'), r.findings.join('\n'));
    const stranger = ephemeralSigner(KEY);
    r = await verifyRemote(url, 'verify-token-123', { trustedKeys: [formatVerifierKey(KEY, 'ed25519', await stranger.publicKey())] });
    assert.equal(r.ok, false);
    assert.deepEqual({ ...r, findings: r.findings.length }, { ok: false, algorithm: 'RFC9162_SHA512', size: 0, checkpoints: 1, segments: 0, proofsChecked: 0, findings: 1 });
    assert.match(r.findings[0] ?? '', /^latest checkpoint: GLM_ERR_AUDIT_SIGNATURE_INVALID/);
    tamper(dir, "UPDATE entries SET leaf = CAST(REPLACE(CAST(leaf AS TEXT), '\"remote\"', '\"remotE\"') AS BLOB) WHERE idx = 77");
    r = await verifyRemote(url, 'verify-token-123');
    assert.ok(r.findings.includes('the recomputed root of 150 entries differs from the signed checkpoint'), r.findings.join('\n'));
    assert.ok(r.findings.includes('consistency proof 128 -> 150 does not verify'), r.findings.join('\n'));
  } finally {
    await api.close();
    await log.close();
  }
});

/** Descriptors of this process open on files whose path starts with `prefix`. */
function openFilesUnder(prefix: string): string[] {
  return fs.readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(prefix) ? [target] : [];
    } catch {
      return [];
    }
  });
}

test('GIVEN a log of 2,600 entries (more chunks than the tree caches) WHEN verified THEN early leaves are re-read from the store for their proofs, the report counts exactly, and no file of the log stays open', async () => {
  const dir = tempDir();
  const log = await openAuditLog({ stateDir: dir, signer: fileSigner({ keyFile: path.join(dir, 'signing.pem'), keyName: KEY }) });
  await Promise.all(Array.from({ length: 2600 }, (_, i) => log.append({ type: 'many', i })));
  await log.close();
  // One checkpoint (2,600, the sealing one) and two segments (the sealed one and the empty one opened after it); inclusion samples of 2,600: 0, 2,599, the powers of two
  // 1..2,048 (12) and floor(i * 2,600 / 24) for i = 1..23 (23, none a power of two or an end): 37.
  assert.deepEqual(await verifyStateDir(dir), { ok: true, algorithm: 'RFC9162_SHA512', size: 2600, checkpoints: 1, segments: 2, proofsChecked: 37, findings: [] });
  assert.deepEqual(openFilesUnder(path.join(dir, 'audit')), []);
});

test('GIVEN more than 1,000 problems WHEN verified THEN the report keeps the first 1,000 findings', async () => {
  const dir = tempDir();
  const log = await openAuditLog({ stateDir: dir, signer: fileSigner({ keyFile: path.join(dir, 'signing.pem'), keyName: KEY }) });
  await Promise.all(Array.from({ length: 1100 }, (_, i) => log.append({ type: 'many', i })));
  await log.close();
  tamper(dir, 'UPDATE entries SET leaf = CAST(\'not json\' AS BLOB)');
  const report = await verifyStateDir(dir);
  assert.equal(report.findings.length, 1000);
  assert.deepEqual(report.findings.slice(0, 2), ['entry 0: leaf is not valid JSON', 'entry 1: leaf is not valid JSON']);
  assert.equal(report.findings[999], 'entry 999: leaf is not valid JSON');
});

test('GIVEN a copy of a running log (its WAL not yet checkpointed) WHEN verified THEN the store and its WAL are left byte for byte as they were', async () => {
  const live = tempDir();
  const log = await openAuditLog({ stateDir: live, signer: fileSigner({ keyFile: path.join(live, 'signing.pem'), keyName: KEY }) });
  await Promise.all(Array.from({ length: 50 }, (_, i) => log.append({ type: 'live', i })));
  await log.checkpoint();
  const copy = tempDir();
  fs.cpSync(path.join(live, 'audit'), path.join(copy, 'audit'), { recursive: true });
  await log.close();
  const wal = `${auditDbPath(copy)}-wal`;
  const digest = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  assert.ok(fs.statSync(wal).size > 0, 'the copy carries a WAL with the recent commits');
  const before = [digest(auditDbPath(copy)), digest(wal)];
  const report = await verifyStateDir(copy);
  assert.equal(report.size, 50);
  assert.equal(report.ok, true, report.findings.join('\n'));
  // A read-write connection closing last would checkpoint the WAL into the store and delete it.
  assert.deepEqual([digest(auditDbPath(copy)), digest(wal)], before);
});

test('GIVEN a kept checkpoint of the empty log WHEN verified with --since THEN it is the empty tree\'s root (the hash of nothing) and passes', async () => {
  const dir = await fixture();
  const signer = fileSigner({ keyFile: path.join(dir, 'signing.pem'), keyName: KEY });
  const empty = await signNote(formatCheckpoint({ origin: KEY, size: 0, root: crypto.createHash('sha512').digest(), extensions: [] }), [signer]);
  const report = await verifyStateDir(dir, { since: empty });
  assert.deepEqual(report.findings, []);
  assert.equal(report.ok, true);
});

test('GIVEN a log whose origin row is gone WHEN verified THEN each checkpoint is reported against the empty origin', async () => {
  const dir = await fixture();
  tamper(dir, "DELETE FROM meta WHERE key = 'origin'");
  const f = (await verifyStateDir(dir)).findings;
  assert.ok(f.includes('checkpoint 300 has origin "glimmer.local/audit", the log is ""'), f.join('\n'));
});

test('GIVEN sealed segments with a foreign, a later or an unknown final checkpoint WHEN verified THEN each is named with what is wrong', async () => {
  const dir = await fixture();
  const noteAt = (size: number) => {
    const db = new Database(auditDbPath(dir), { readonly: true });
    const n = db.prepare('SELECT note FROM checkpoints WHERE size = ?').pluck().get(size) as string;
    db.close();
    return n;
  };
  const stranger = await signNote(formatCheckpoint({ origin: KEY, size: 400, root: crypto.randomBytes(64), extensions: [] }), [ephemeralSigner(KEY)]);
  const db = new Database(auditDbPath(dir));
  // Segment 1 (entries 0..399) sealed by a key nobody trusts; segment 2 (400..699) by the log's own checkpoint of 700
  // moved onto segment 1's place is tested below.
  db.prepare('UPDATE segments SET checkpoint = ? WHERE id = 1').run(stranger);
  db.close();
  let f = (await verifyStateDir(dir)).findings;
  assert.ok(f.some((x) => x.startsWith('segment 1 final checkpoint: GLM_ERR_AUDIT_SIGNATURE_INVALID')), f.join('\n'));

  // A genuine checkpoint of the whole store (700) sealing segment 1, which ends at 400: known and within the store,
  // so the root at the segment's end is what differs.
  const db2 = new Database(auditDbPath(dir));
  db2.prepare('UPDATE segments SET checkpoint = ? WHERE id = 1').run(noteAt(700));
  db2.close();
  f = (await verifyStateDir(dir)).findings;
  assert.ok(f.includes('segment 1 final checkpoint does not match the recomputed root at 400'), f.join('\n'));

  // A checkpoint beyond the store is reported as such even when the auditor's --since names that size.
  const signer = fileSigner({ keyFile: path.join(dir, 'signing.pem'), keyName: KEY });
  const ahead = await signNote(formatCheckpoint({ origin: KEY, size: 800, root: crypto.randomBytes(64), extensions: [] }), [signer]);
  const db3 = new Database(auditDbPath(dir));
  db3.prepare('UPDATE segments SET checkpoint = ? WHERE id = 1').run(ahead);
  db3.close();
  f = (await verifyStateDir(dir, { since: ahead })).findings;
  assert.ok(f.includes("segment 1 final checkpoint (size 800) is not among the log's checkpoints or exceeds the store"), f.join('\n'));
});

test('GIVEN one exported line of the last sealed segment altered (the store ends where it ends) WHEN verified THEN that entry is reported', async () => {
  const dir = await fixture();
  const file = path.join(dir, 'audit', 'segments', '000002.leaves');
  fs.chmodSync(file, 0o644);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  // Segment 2 holds entries 400..699; line 50 is entry 450. Same length, one byte changed.
  lines[50] = (lines[50] as string).replace('"fixture"', '"fixturE"');
  fs.writeFileSync(file, lines.join('\n'));
  const report = await verifyStateDir(dir);
  assert.equal(report.size, 700);
  assert.deepEqual(report.findings, ['segment 2: exported entry 450 differs from the store']);
});

test('GIVEN exported segment files of random leaves read in random small pieces (fast-check) WHEN verified THEN an intact file has no finding and a cut, extended or altered one is named exactly', () => {
  const h = hasher('RFC9162_SHA256');
  const dir = tempDir();
  const base = path.join(dir, 'seg');
  const leafArb = fc.string({ minLength: 0, maxLength: 12 }).map((s) => s.replace(/\n/g, ' '));
  fc.assert(fc.property(fc.array(leafArb, { minLength: 0, maxLength: 12 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 3 }), (leaves, readBytes, fault) => {
    const hashes = leaves.map((l) => h.leaf(Buffer.from(l)));
    const seg = { id: 7, start: 100, end: 100 + leaves.length, checkpoint: 'cp\n' };
    fs.writeFileSync(`${base}.checkpoint`, 'cp\n');
    let content = leaves.map((l) => `${l}\n`).join('');
    let expected: string[] = [];
    // Cutting the final newline after a non-empty last leaf leaves every line but an unterminated last one.
    if (fault === 1 && leaves.length > 0 && leaves[leaves.length - 1] !== '') {
      content = content.slice(0, -1);
      expected = [`segment 7: exported file holds ${leaves.length} entries, the segment has ${leaves.length} (truncated or extended)`];
    } else if (fault === 2) {
      content += 'extra\n';
      expected = [`segment 7: exported file holds ${leaves.length + 1} entries, the segment has ${leaves.length} (truncated or extended)`];
    } else if (fault === 3 && leaves.length > 0) {
      const lines = content.split('\n');
      lines[0] = `${lines[0] as string}x`;
      content = lines.join('\n');
      expected = ['segment 7: exported entry 100 differs from the store'];
    }
    fs.writeFileSync(`${base}.leaves`, content);
    const findings = new Findings();
    verifySegmentFiles(base, seg, (i) => hashes[i - 100] as Buffer, h, findings, readBytes);
    assert.deepEqual(findings.list, expected, JSON.stringify({ leaves, readBytes, fault }));
  }), { numRuns: 400 });
});

test('GIVEN a checkpoint validly signed over a wrong root WHEN verified THEN that root is the only finding: no proof is built from it', async () => {
  const dir = await fixture();
  const signer = fileSigner({ keyFile: path.join(dir, 'signing.pem'), keyName: KEY });
  const wrong = await signNote(formatCheckpoint({ origin: KEY, size: 300, root: crypto.randomBytes(64), extensions: [] }), [signer]);
  const db = new Database(auditDbPath(dir));
  db.prepare('UPDATE checkpoints SET note = ? WHERE size = 300').run(wrong);
  db.close();
  const report = await verifyStateDir(dir);
  assert.deepEqual(report.findings, ['checkpoint 300: the recomputed root differs from the signed root']);
  // One consistency proof (400 -> 700; none from the wrong 300) and the 35 inclusion samples of 700.
  assert.equal(report.proofsChecked, 36);
});
