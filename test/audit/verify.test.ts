import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { auditRoutes } from '../../runtime/api/routes/audit';
import { createApiServer } from '../../runtime/api/server';
import { auditDbPath, openAuditLog } from '../../runtime/audit/log';
import { formatCheckpoint, parseCheckpoint } from '../../runtime/audit/checkpoint-body';
import { parseSignedNote, signNote } from '../../runtime/audit/note';
import { ephemeralSigner, fileSigner } from '../../runtime/audit/signers';
import { verifyRemote, verifyStateDir } from '../../runtime/audit/verify';
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
