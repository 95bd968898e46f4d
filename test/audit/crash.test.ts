import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { openAuditLog } from '../../runtime/audit/log';
import { hasher, verifyConsistency } from '../../runtime/audit/merkle';
import { openCheckpoint, parseVerifierKey } from '../../runtime/audit/note';
import { fileSigner } from '../../runtime/audit/signers';
import { verifyStateDir } from '../../runtime/audit/verify';
import { tempDir } from './helpers';

const CHILD = path.join(__dirname, 'crash-child.ts');
const ROUNDS = 6;

/** Runs the appending child until it has acknowledged `minAcks` more entries, then SIGKILLs it; returns the highest acknowledged index. */
function appendThenKill(stateDir: string, minAcks: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, stateDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let maxAck = -1;
    let firstAck = -1;
    let buffered = '';
    let killed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^ack (\d+)$/.exec(line);
        if (!m) continue;
        maxAck = Math.max(maxAck, Number(m[1]));
        if (firstAck < 0) firstAck = maxAck;
        if (!killed && maxAck - firstAck >= minAcks) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited on its own (${String(signal)})`));
      else resolve(maxAck);
    });
  });
}

test('GIVEN a process appending without pause WHEN it is killed with SIGKILL mid-stream, many times THEN after each restart every acknowledged entry is there and the tree is consistent with the last signed checkpoint', async () => {
  const stateDir = tempDir();
  const h = hasher('RFC9162_SHA512');
  let previousSize = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const maxAck = await appendThenKill(stateDir, 2000 + round * 1500);
    assert.ok(maxAck >= previousSize, `round ${round}: the child acknowledged appends`);
    const log = await openAuditLog({ stateDir, signer: fileSigner({ keyFile: path.join(stateDir, 'signing.pem'), keyName: 'glimmer.local/audit' }) });
    try {
      assert.ok(log.size() > maxAck, `round ${round}: acknowledged index ${maxAck} survived (size ${log.size()})`);
      const last = log.latestCheckpoint();
      assert.ok(last, `round ${round}: a checkpoint was signed before the kill`);
      const keys = log.verifierKeys().map(parseVerifierKey);
      const cp = await openCheckpoint(last.note, keys, h.size);
      const now = await openCheckpoint(await log.checkpoint(), keys, h.size);
      assert.ok(verifyConsistency(h, cp.size, now.size, cp.root, now.root, log.consistencyProof(cp.size, now.size)), `round ${round}: consistency ${cp.size} -> ${now.size}`);
      const entries = log.entries(maxAck, maxAck);
      assert.equal(JSON.parse(entries[0]?.leaf.toString('utf8') ?? '{}').record.type, 'crash.test');
      previousSize = log.size();
    } finally {
      await log.close();
    }
  }
  const report = await verifyStateDir(stateDir);
  assert.deepEqual(report.findings, []);
  assert.equal(report.size, previousSize);
});
