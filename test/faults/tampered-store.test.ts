/**
 * Restart on a tampered audit store: a leaf changed inside a completed 256-leaf chunk (stored chunk hash left as it
 * was), a store re-signed with a stranger's key, a replaced signing key file. The log refuses to open with a typed
 * error naming the first bad index or the unpinned key; `glimmer run` refuses to start on it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { isGlimmerError } from '../../runtime/errors';
import { auditDbPath, openAuditLog } from '../../runtime/audit/log';
import { formatCheckpoint } from '../../runtime/audit/checkpoint-body';
import { formatVerifierKey, signNote } from '../../runtime/audit/note';
import { ephemeralSigner, fileSigner } from '../../runtime/audit/signers';
import { tempDir } from '../audit/helpers';
import { glimmer } from '../helpers/cli';
import { BULK_KEY, bulkLog, bulkOptions } from '../../bench/lib/bulk-audit';

function tamper(dir: string, sql: string): void {
  const db = new Database(auditDbPath(dir));
  db.exec('DROP TRIGGER IF EXISTS entries_append_only_u; DROP TRIGGER IF EXISTS entries_append_only_d;');
  db.exec(sql);
  db.close();
}

const corrupt = (pattern: RegExp) => (e: unknown) => isGlimmerError(e) && e.code === 'GLM_ERR_AUDIT_STATE_CORRUPT' && pattern.test(e.message);
const unpinned = (e: unknown) => isGlimmerError(e) && e.code === 'GLM_ERR_AUDIT_KEY_UNPINNED';

test('GIVEN a 20,000-entry store WHEN one byte of leaf 1000 (inside completed chunk 3) is flipped, keeping canonical JSON, THEN open refuses with GLM_ERR_AUDIT_STATE_CORRUPT naming entries 768..1023', async () => {
  const dir = tempDir('glimmer-fault-tamper-');
  await (await bulkLog(dir, 20_000)).close();
  tamper(dir, "UPDATE entries SET leaf = CAST(REPLACE(CAST(leaf AS TEXT), '\"pad\":\"pp', '\"pad\":\"qp') AS BLOB) WHERE idx = 1000");
  await assert.rejects(openAuditLog(bulkOptions(dir)), corrupt(/entry 768 .*entries 768\.\.1023/));
});

test('GIVEN a store WHEN leaf 1000 is replaced by one that carries another index THEN open refuses naming entry 1000 exactly', async () => {
  const dir = tempDir('glimmer-fault-tamper-');
  await (await bulkLog(dir, 2_000)).close();
  tamper(dir, "UPDATE entries SET leaf = CAST(REPLACE(CAST(leaf AS TEXT), '\"index\":1000,', '\"index\":1001,') AS BLOB) WHERE idx = 1000");
  await assert.rejects(openAuditLog(bulkOptions(dir)), corrupt(/audit entry 1000 /));
});

test('GIVEN a store re-signed with a stranger key (checkpoints and key list rewritten) WHEN opened THEN GLM_ERR_AUDIT_KEY_UNPINNED', async () => {
  const dir = tempDir('glimmer-fault-tamper-');
  const log = await bulkLog(dir, 1_000);
  const root = log.root();
  await log.close();
  const stranger = ephemeralSigner(BULK_KEY);
  const note = await signNote(formatCheckpoint({ origin: BULK_KEY, size: 1_000, root, extensions: [] }), [stranger]);
  const vkey = formatVerifierKey(stranger.keyName, stranger.algorithm, await stranger.publicKey());
  tamper(dir, `DELETE FROM keys; INSERT INTO keys(vkey, added_at) VALUES ('${vkey}', 0); DELETE FROM checkpoints; INSERT INTO checkpoints(size, note, created_at) VALUES (1000, '${note.replace(/'/g, "''")}', 0);`);
  await assert.rejects(openAuditLog(bulkOptions(dir)), unpinned);
});

test('GIVEN a store WHEN its signing key file is replaced by another key THEN open refuses with GLM_ERR_AUDIT_KEY_UNPINNED and nothing is signed with it', async () => {
  const dir = tempDir('glimmer-fault-tamper-');
  await (await bulkLog(dir, 1_000)).close();
  fs.rmSync(path.join(dir, 'bulk-signer.pem'));
  await assert.rejects(openAuditLog({ ...bulkOptions(dir), signer: fileSigner({ keyFile: path.join(dir, 'bulk-signer.pem'), keyName: BULK_KEY }) }), unpinned);
});

test('GIVEN a tampered store WHEN `glimmer run` starts on it THEN it exits non-zero with GLM_ERR_AUDIT_STATE_CORRUPT before any agent starts', { timeout: 120000 }, async () => {
  const dir = tempDir('glimmer-fault-tamper-');
  await (await bulkLog(dir, 2_000)).close();
  tamper(dir, "UPDATE entries SET leaf = CAST(REPLACE(CAST(leaf AS TEXT), '\"pad\":\"pp', '\"pad\":\"qp') AS BLOB) WHERE idx = 300");
  const r = await glimmer(['run', '--state-dir', dir, '--api-port', '0', '--api-mtls-port', '0', '--modbus-port', '0', '--opcua-port', '0'], { env: { GLIMMER_LOG_LEVEL: 'warn' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /GLM_ERR_AUDIT_STATE_CORRUPT/);
  assert.match(r.stdout + r.stderr, /entries 256\.\.511/);
  assert.doesNotMatch(r.stdout, /Glimmer is running/);
});
