/**
 * The TPM, through tpm2-tools (the TCG-conformant reference CLI over the tpm2-tss stack). No maintained TSS binding
 * exists for Node, and a hand-written TPM command marshaller would be the riskiest code in the product; the tools run
 * against a hardware TPM (`device:/dev/tpmrm0`) and swtpm (`swtpm:host=..,port=..`) alike. Each call flushes the
 * transient objects it loaded, because without a resource manager they would fill the TPM's few object slots.
 * Any failure to reach or use the TPM is GLM_ERR_ATTESTATION_TPM_UNAVAILABLE: the caller fails closed.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { GlimmerError } from '../../errors';

/** Persistent handles (owner range) for the endorsement key, the attestation key and the storage key. */
export const EK_HANDLE = '0x81010001';
export const AK_HANDLE = '0x81010002';
export const SRK_HANDLE = '0x81010003';
/** TCG EK Credential Profile: NV index of the RSA 2048 EK certificate. */
export const EK_CERT_NV_INDEX = '0x01c00002';

export interface TpmOptions {
  /** TCTI: `swtpm:host=127.0.0.1,port=2321`, `device:/dev/tpmrm0`. */
  readonly tcti: string;
  /** Where context and sealed-object files are kept (mode 0700). */
  readonly dir: string;
  /** @default 10000 */
  readonly timeoutMs?: number;
}

export interface SealedObject {
  readonly publicPart: Buffer;
  readonly privatePart: Buffer;
}

export class Tpm {
  constructor(private readonly options: TpmOptions) {
    fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  }

  private file(name: string): string {
    return path.join(this.options.dir, name);
  }

  /** Runs one tool; resolves stdout, rejects with the tool's first error line. */
  private run(tool: string, args: readonly string[]): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      execFile(tool, args, { env: { ...process.env, TPM2TOOLS_TCTI: this.options.tcti }, encoding: 'buffer', timeout: this.options.timeoutMs ?? 10_000, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const line = stderr.toString('utf8').split('\n').find((l) => /ERROR/.test(l)) ?? stderr.toString('utf8').split('\n')[0] ?? '';
        reject(new GlimmerError('GLM_ERR_ATTESTATION_TPM_UNAVAILABLE', `TPM at ${this.options.tcti}: ${tool} failed: ${line.trim() || (err as Error).message}`, { cause: err, details: { tool, stderr: line.trim() } }));
      });
    });
  }

  private async flush(): Promise<void> {
    await this.run('tpm2_flushcontext', ['-t']);
    await this.run('tpm2_flushcontext', ['-s']).catch(() => undefined);
  }

  private async persistent(): Promise<Set<string>> {
    const out = (await this.run('tpm2_getcap', ['handles-persistent'])).toString('utf8');
    return new Set([...out.matchAll(/0x[0-9a-fA-F]{8}/g)].map((m) => m[0].toLowerCase()));
  }

  /** The EK certificate the manufacturer (here: swtpm_setup's local CA) wrote into NV. */
  async ekCertificate(): Promise<Buffer> {
    return this.run('tpm2_nvread', [EK_CERT_NV_INDEX]);
  }

  /** Creates (once) and persists the EK, the ECDSA P-256 attestation key and the storage key; returns AK facts. */
  async ensureKeys(): Promise<{ akPublicPem: string; akName: Buffer; ekPublicPem: string }> {
    const have = await this.persistent();
    if (!have.has(EK_HANDLE)) {
      await this.run('tpm2_createek', ['-c', this.file('ek.ctx'), '-G', 'rsa']);
      await this.run('tpm2_evictcontrol', ['-C', 'o', '-c', this.file('ek.ctx'), EK_HANDLE]);
      await this.flush();
    }
    if (!have.has(AK_HANDLE)) {
      await this.run('tpm2_createak', ['-C', EK_HANDLE, '-c', this.file('ak.ctx'), '-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa', '-u', this.file('ak.pem'), '-f', 'pem', '-n', this.file('ak.name')]);
      await this.flush();
      await this.run('tpm2_evictcontrol', ['-C', 'o', '-c', this.file('ak.ctx'), AK_HANDLE]);
      await this.flush();
    }
    if (!have.has(SRK_HANDLE)) {
      await this.run('tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'ecc', '-c', this.file('srk.ctx')]);
      await this.run('tpm2_evictcontrol', ['-C', 'o', '-c', this.file('srk.ctx'), SRK_HANDLE]);
      await this.flush();
    }
    await this.run('tpm2_readpublic', ['-c', AK_HANDLE, '-o', this.file('ak.pem'), '-f', 'pem', '-n', this.file('ak.name')]);
    await this.run('tpm2_readpublic', ['-c', EK_HANDLE, '-o', this.file('ek.pem'), '-f', 'pem']);
    return { akPublicPem: fs.readFileSync(this.file('ak.pem'), 'utf8'), akName: fs.readFileSync(this.file('ak.name')), ekPublicPem: fs.readFileSync(this.file('ek.pem'), 'utf8') };
  }

  /**
   * TPM2_MakeCredential (done by the verifier, offline, with the EK public key of the certificate) and
   * TPM2_ActivateCredential (only the TPM holding that EK can recover the secret for a key of that name).
   */
  async activateCredential(ekCertPublicPem: string, akName: Buffer, secret: Buffer): Promise<Buffer> {
    fs.writeFileSync(this.file('ekcert.pem'), ekCertPublicPem);
    fs.writeFileSync(this.file('secret.bin'), secret, { mode: 0o600 });
    await this.run('tpm2_makecredential', ['-T', 'none', '-u', this.file('ekcert.pem'), '-G', 'rsa', '-s', this.file('secret.bin'), '-n', akName.toString('hex'), '-o', this.file('cred.bin')]);
    fs.rmSync(this.file('secret.bin'));
    const session = this.file('session.ctx');
    await this.run('tpm2_startauthsession', ['--policy-session', '-S', session]);
    try {
      await this.run('tpm2_policysecret', ['-S', session, '-c', 'e']);
      await this.run('tpm2_activatecredential', ['-c', AK_HANDLE, '-C', EK_HANDLE, '-i', this.file('cred.bin'), '-o', this.file('activated.bin'), '-P', `session:${session}`]);
    } finally {
      await this.flush();
    }
    const got = fs.readFileSync(this.file('activated.bin'));
    fs.rmSync(this.file('activated.bin'));
    return got;
  }

  /** Resets the (resettable) PCR and extends it with each digest, in order. */
  async measure(pcr: number, digestsHex: readonly string[]): Promise<void> {
    await this.run('tpm2_pcrreset', [String(pcr)]);
    if (digestsHex.length > 0) await this.run('tpm2_pcrextend', digestsHex.map((d) => `${pcr}:sha256=${d}`));
  }

  /** A quote of one sha256 PCR over the nonce, signed by the AK. */
  async quote(pcr: number, nonce: Buffer): Promise<{ message: Buffer; signature: Buffer }> {
    await this.run('tpm2_quote', ['-c', AK_HANDLE, '-l', `sha256:${pcr}`, '-q', nonce.toString('hex'), '-m', this.file('quote.msg'), '-s', this.file('quote.sig'), '-g', 'sha256']);
    return { message: fs.readFileSync(this.file('quote.msg')), signature: fs.readFileSync(this.file('quote.sig')) };
  }

  /** Seals a secret under the storage key, bound to the given policy digest (no password: the policy is the only way in). */
  async seal(secret: Buffer, policyDigest: Buffer): Promise<SealedObject> {
    fs.writeFileSync(this.file('policy.bin'), policyDigest);
    fs.writeFileSync(this.file('plain.bin'), secret, { mode: 0o600 });
    try {
      await this.run('tpm2_create', ['-C', SRK_HANDLE, '-L', this.file('policy.bin'), '-i', this.file('plain.bin'), '-u', this.file('seal.pub'), '-r', this.file('seal.priv'), '-a', 'fixedtpm|fixedparent|noda']);
      await this.flush();
    } finally {
      fs.rmSync(this.file('plain.bin'), { force: true });
    }
    return { publicPart: fs.readFileSync(this.file('seal.pub')), privatePart: fs.readFileSync(this.file('seal.priv')) };
  }

  /** Unseals with a PCR policy session: the TPM refuses unless the PCR holds the value the object was sealed to. */
  async unseal(sealed: SealedObject, pcr: number): Promise<Buffer> {
    fs.writeFileSync(this.file('unseal.pub'), sealed.publicPart);
    fs.writeFileSync(this.file('unseal.priv'), sealed.privatePart);
    try {
      await this.run('tpm2_load', ['-C', SRK_HANDLE, '-u', this.file('unseal.pub'), '-r', this.file('unseal.priv'), '-c', this.file('unseal.ctx')]);
      return await this.run('tpm2_unseal', ['-c', this.file('unseal.ctx'), '-p', `pcr:sha256:${pcr}`]).catch((err: GlimmerError) => {
        throw new GlimmerError('GLM_ERR_ATTESTATION_UNSEAL_REFUSED', `the TPM refused to unseal: PCR ${pcr} does not hold the value the key was sealed to (${String(err.details.stderr ?? err.message)})`, { cause: err });
      });
    } finally {
      await this.flush();
    }
  }
}
