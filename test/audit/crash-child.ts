/**
 * Child process for the kill -9 test: appends without pause (about 256 in flight) and prints `ack <index>` for the
 * highest index acknowledged so far (appends commit in order, so every lower index is acknowledged too).
 */
import path from 'node:path';
import { openAuditLog } from '../../runtime/audit/log';
import { fileSigner } from '../../runtime/audit/signers';

async function main(): Promise<void> {
  const stateDir = process.argv[2] as string;
  const log = await openAuditLog({
    stateDir,
    signer: fileSigner({ keyFile: path.join(stateDir, 'signing.pem'), keyName: 'glimmer.local/audit' }),
    checkpointIntervalMs: 5,
  });
  let maxAck = -1;
  let reported = -1;
  let seq = 0;
  const report = setInterval(() => {
    if (maxAck > reported) {
      reported = maxAck;
      process.stdout.write(`ack ${maxAck}\n`);
    }
  }, 2);
  const pump = (): void => {
    void log.append({ type: 'crash.test', seq: seq++, pid: process.pid }).then(({ index }) => {
      if (index > maxAck) maxAck = index;
      pump();
    });
  };
  for (let i = 0; i < 256; i++) pump();
  process.stdout.write('ready\n');
  void report;
}

void main();
