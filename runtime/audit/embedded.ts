/**
 * The embedded default signer (`make run`): a SoftHSM2 token initialised under `<stateDir>/softhsm/` when softhsm2 is
 * installed (the key pair is generated inside the token), otherwise an Ed25519 key file
 * `<stateDir>/audit/checkpoint-ed25519.pem` with a loud warning.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isGlimmerError } from '../errors';
import type { Logger } from '../observability/logger';
import type { CheckpointSigner } from './checkpoint-body';
import { SOFTHSM2_LIBRARY, ensureSoftHsmToken, pkcs11Signer } from './pkcs11';
import { fileSigner } from './signers';

export const DEFAULT_KEY_NAME = 'glimmer.local/audit';

export async function embeddedSigner(options: { stateDir: string; logger: Logger; keyName?: string; softhsmLibrary?: string }): Promise<CheckpointSigner> {
  const keyName = options.keyName ?? DEFAULT_KEY_NAME;
  const library = options.softhsmLibrary ?? SOFTHSM2_LIBRARY;
  if (fs.existsSync(library)) {
    try {
      const token = ensureSoftHsmToken(path.join(options.stateDir, 'softhsm'), 'glimmer-audit', library);
      const signer = await pkcs11Signer({ library, tokenLabel: token.tokenLabel, pinFile: token.pinFile, softhsmConf: token.conf, keyName });
      options.logger.info({ signer: 'pkcs11', tokenLabel: token.tokenLabel, algorithm: signer.algorithm }, 'audit checkpoints are signed by a SoftHSM2 token');
      return signer;
    } catch (err) {
      options.logger.error({ code: isGlimmerError(err) ? err.code : 'GLM_ERR_INTERNAL' }, 'SoftHSM2 is installed but its token is not usable');
    }
  }
  const keyFile = path.join(options.stateDir, 'audit', 'checkpoint-ed25519.pem');
  options.logger.warn(
    { keyFile },
    'AUDIT CHECKPOINTS ARE SIGNED WITH A LOCAL KEY FILE, NOT AN HSM: install softhsm2, or configure AWS KMS or a PKCS#11 HSM for production',
  );
  return fileSigner({ keyFile, keyName });
}
