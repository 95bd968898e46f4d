/**
 * The embedded default signer (`make run`): a SoftHSM2 token initialised under `<stateDir>/softhsm/` when softhsm2 is
 * installed, otherwise an Ed25519 key file `<stateDir>/audit/checkpoint-ed25519.pem` with a loud warning.
 */
import path from 'node:path';
import type { Logger } from '../observability/logger';
import type { CheckpointSigner } from './note';
import { fileSigner } from './signers';

export const DEFAULT_KEY_NAME = 'glimmer.local/audit';

export async function embeddedSigner(options: { stateDir: string; logger: Logger; keyName?: string }): Promise<CheckpointSigner> {
  const keyName = options.keyName ?? DEFAULT_KEY_NAME;
  const keyFile = path.join(options.stateDir, 'audit', 'checkpoint-ed25519.pem');
  options.logger.warn(
    { keyFile },
    'AUDIT CHECKPOINTS ARE SIGNED WITH A LOCAL KEY FILE: no HSM is in use. Install softhsm2 or configure AWS KMS / a PKCS#11 HSM for production.',
  );
  return fileSigner({ keyFile, keyName });
}
