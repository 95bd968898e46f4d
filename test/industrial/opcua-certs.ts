/**
 * OPC UA client certificates made with the openssl CLI, as an integrator's own CA or tooling would make them: any key
 * size, key usage and validity period, self-signed or issued by a test CA that can publish a CRL.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface TestCertificate {
  readonly certificateFile: string;
  readonly privateKeyFile: string;
  readonly der: Buffer;
  readonly applicationUri: string;
}

export interface CertificateOptions {
  readonly name: string;
  /** @default 2048 */
  readonly bits?: number;
  /** @default 'digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment' */
  readonly keyUsage?: string;
  /** openssl time, e.g. 20200101000000Z. @default one minute ago */
  readonly notBefore?: string;
  /** @default one year after notBefore */
  readonly notAfter?: string;
  /** Issue it from this CA instead of self-signing. */
  readonly ca?: TestCa;
}

export interface TestCa {
  readonly dir: string;
  readonly certificateFile: string;
  readonly der: Buffer;
  /** Revokes a certificate this CA issued and writes the CA's CRL (DER) to the returned file. */
  revoke(cert: TestCertificate): string;
  /** Writes the CA's current CRL (DER) and returns its file. */
  crl(): string;
}

// node-opcua's PKI sets OPENSSL_CONF to the string "undefined" in this process; the CLI gets the system default.
const openssl = (args: string[], cwd: string): void => {
  const env = { ...process.env };
  delete env.OPENSSL_CONF;
  execFileSync('openssl', args, { cwd, stdio: 'pipe', env });
};
const stamp = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+/, '');

function caConfig(dir: string, keyUsage: string, uri: string): string {
  return [
    '[ca]', 'default_ca = test', '[test]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir/issued',
    'serial = $dir/serial', 'crlnumber = $dir/crlnumber', 'default_md = sha256', 'policy = any', 'copy_extensions = none',
    'default_crl_days = 30', 'unique_subject = no', 'email_in_dn = no',
    '[any]', 'commonName = supplied', 'organizationName = optional',
    '[leaf]', `keyUsage = critical, ${keyUsage}`, 'extendedKeyUsage = serverAuth, clientAuth', 'basicConstraints = critical, CA:FALSE',
    `subjectAltName = URI:${uri}, DNS:localhost`, 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid, issuer',
    '[root]', 'basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash',
    '',
  ].join('\n');
}

function readDer(file: string): Buffer {
  return Buffer.from(new crypto.X509Certificate(fs.readFileSync(file)).raw);
}

/** A CA under `dir` (openssl ca database), for issuer chains and CRLs. */
export function makeCa(dir: string, name = 'test-ca'): TestCa {
  const caDir = path.join(dir, name);
  fs.mkdirSync(path.join(caDir, 'issued'), { recursive: true });
  fs.writeFileSync(path.join(caDir, 'index.txt'), '');
  fs.writeFileSync(path.join(caDir, 'serial'), '1000\n');
  fs.writeFileSync(path.join(caDir, 'crlnumber'), '1000\n');
  fs.writeFileSync(path.join(caDir, 'ca.cnf'), caConfig(caDir, 'digitalSignature', 'urn:unused'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '365', '-subj', `/CN=${name}/O=Test`,
    '-config', 'ca.cnf', '-extensions', 'root'], caDir);
  const crl = (): string => {
    openssl(['ca', '-config', 'ca.cnf', '-gencrl', '-keyfile', 'ca.key', '-cert', 'ca.pem', '-out', 'crl.pem'], caDir);
    openssl(['crl', '-in', 'crl.pem', '-outform', 'DER', '-out', 'crl.der'], caDir);
    return path.join(caDir, 'crl.der');
  };
  return {
    dir: caDir, certificateFile: path.join(caDir, 'ca.pem'), der: readDer(path.join(caDir, 'ca.pem')), crl,
    revoke(cert) {
      openssl(['ca', '-config', 'ca.cnf', '-revoke', cert.certificateFile, '-keyfile', 'ca.key', '-cert', 'ca.pem'], caDir);
      return crl();
    },
  };
}

/** A client application instance certificate (SAN URI urn:test:<name>) and its key, under `dir`. */
export function makeClientCertificate(dir: string, o: CertificateOptions): TestCertificate {
  const out = path.join(dir, 'clients', o.name);
  fs.mkdirSync(out, { recursive: true });
  const uri = `urn:test:${o.name}`;
  const keyUsage = o.keyUsage ?? 'digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment';
  const notBefore = o.notBefore ?? stamp(new Date(Date.now() - 60_000));
  const notAfter = o.notAfter ?? stamp(new Date(Date.now() + 365 * 86_400_000));
  const ca = o.ca ?? makeCa(out, 'self');
  fs.writeFileSync(path.join(out, 'leaf.cnf'), caConfig(ca.dir, keyUsage, uri));
  openssl(['req', '-newkey', `rsa:${o.bits ?? 2048}`, '-nodes', '-keyout', 'key.pem', '-out', 'req.pem', '-subj', `/CN=${o.name}/O=Test`], out);
  // `openssl ca` sets any validity period (also one in the past), which `req -x509` of OpenSSL 3.0 cannot.
  openssl(['ca', '-batch', '-config', 'leaf.cnf', '-extensions', 'leaf', '-keyfile', path.join(ca.dir, 'ca.key'), '-cert', path.join(ca.dir, 'ca.pem'),
    '-startdate', notBefore, '-enddate', notAfter, '-in', 'req.pem', '-out', 'cert.pem', '-notext'], out);
  if (o.ca === undefined) {
    // Self-signed stand-in: re-sign the same key and extensions with itself so no issuer is needed.
    fs.writeFileSync(path.join(out, 'self.cnf'), caConfig(out, keyUsage, uri));
    openssl(['x509', '-in', 'cert.pem', '-signkey', 'key.pem', '-out', 'cert.pem', '-extfile', 'self.cnf', '-extensions', 'leaf', '-preserve_dates'], out);
  }
  return { certificateFile: path.join(out, 'cert.pem'), privateKeyFile: path.join(out, 'key.pem'), der: readDer(path.join(out, 'cert.pem')), applicationUri: uri };
}
