/**
 * Child process for the durability test: appends `count` entries one after another (each awaited, so each is its own
 * group commit) and prints `ack <index>` after each is acknowledged, then closes the log.
 */
import path from 'node:path';
import { openAuditLog } from '../../runtime/audit/log';
import { fileSigner } from '../../runtime/audit/signers';

async function main(): Promise<void> {
  const [stateDir, count] = [process.argv[2] as string, Number(process.argv[3])];
  const log = await openAuditLog({
    stateDir,
    signer: fileSigner({ keyFile: path.join(stateDir, 'signing.pem'), keyName: 'glimmer.local/audit' }),
    commitDelayMs: 0,
    checkpointIntervalMs: 3_600_000,
  });
  process.stdout.write('ready\n');
  for (let i = 0; i < count; i++) {
    const { index } = await log.append({ type: 'sync.test', seq: i });
    process.stdout.write(`ack ${index}\n`);
  }
  await log.close();
}

void main();
