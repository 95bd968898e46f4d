/**
 * A real TPM 2.0 for tests: Debian's swtpm with a fresh state, manufactured by swtpm_setup with an EK certificate
 * issued by a local CA made for this test (swtpm_localca), served on a Unix socket (no port to collide on).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestTpm {
  readonly tcti: string;
  /** The EK certificate's issuer and root, PEM: what `attestation.ek_ca_file` names. */
  readonly ekCaFile: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export async function startSwtpm(): Promise<TestTpm> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-swtpm-'));
  const state = path.join(dir, 'state');
  const ca = path.join(dir, 'ca');
  fs.mkdirSync(state);
  fs.mkdirSync(ca);
  fs.writeFileSync(path.join(dir, 'localca.conf'), [`statedir = ${ca}`, `signingkey = ${ca}/signkey.pem`, `issuercert = ${ca}/issuercert.pem`, `certserial = ${ca}/certserial`, ''].join('\n'));
  fs.writeFileSync(path.join(dir, 'localca.options'), ['--platform-manufacturer Glimmer-Test', '--platform-version 2.1', '--platform-model swtpm', ''].join('\n'));
  fs.writeFileSync(path.join(dir, 'setup.conf'), [
    'create_certs_tool = /usr/bin/swtpm_localca',
    `create_certs_tool_config = ${dir}/localca.conf`,
    `create_certs_tool_options = ${dir}/localca.options`,
    'active_pcr_banks = sha256',
    '',
  ].join('\n'));
  execFileSync('swtpm_setup', ['--tpm2', '--tpmstate', state, '--create-ek-cert', '--config', path.join(dir, 'setup.conf'), '--overwrite'], { stdio: 'pipe' });
  const ekCaFile = path.join(dir, 'ek-ca.pem');
  fs.writeFileSync(ekCaFile, fs.readFileSync(path.join(ca, 'issuercert.pem'), 'utf8') + fs.readFileSync(path.join(ca, 'swtpm-localca-rootca-cert.pem'), 'utf8'));
  const sock = path.join(dir, 'tpm.sock');
  const child = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${state}`, '--server', `type=unixio,path=${sock}`, '--ctrl', `type=unixio,path=${sock}.ctrl`, '--flags', 'not-need-init,startup-clear'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 100 && !(fs.existsSync(sock) && fs.existsSync(`${sock}.ctrl`)); i++) await new Promise((r) => setTimeout(r, 20));
  return {
    tcti: `swtpm:path=${sock}`,
    ekCaFile,
    dir,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
