/**
 * OPC UA certificate stores under the state dir, one per application (`<stateDir>/opcua/pki/<name>/` with node-opcua's
 * own/, trusted/, rejected/, issuers/ folders). Unknown peer certificates are rejected (copied to rejected/), never
 * auto-accepted: trust is provisioned explicitly by copying the peer's certificate into trusted/ (`trustPeer`).
 * node-opcua is loaded lazily (about 1 s): only the functions that need it require it, and a client only the client
 * half (`loadOpcuaClient`).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { format } from 'node:util';
import type * as Opcua from 'node-opcua';
import { GlimmerError, quote } from '../../errors';
import type { Logger } from '../../observability/logger';
import type { OpcuaNetwork } from './network';

export function loadOpcua(): typeof Opcua {
  return require('node-opcua') as typeof Opcua;
}

/**
 * node-opcua's client half: a third of the modules of the whole package, which adds the server and its address space
 * (the Industrial Agent's start pays for the load on every fork).
 */
export function loadOpcuaClient(): typeof import('node-opcua-client') {
  return require('node-opcua-client') as typeof import('node-opcua-client');
}

export interface OpcuaIdentity {
  readonly name: string;
  readonly rootFolder: string;
  readonly certificateFile: string;
  readonly privateKeyFile: string;
  readonly applicationUri: string;
}

export function opcuaDir(stateDir: string): string { return path.join(stateDir, 'opcua'); }

export function identityFor(stateDir: string, name: string): OpcuaIdentity {
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)) throw new GlimmerError('GLM_ERR_OPCUA_SERVER_START_FAILED', `OPC UA application name must be [a-z0-9_-], received ${quote(name)}`);
  const rootFolder = path.join(opcuaDir(stateDir), 'pki', name);
  return {
    name, rootFolder,
    certificateFile: path.join(rootFolder, 'own', 'certs', 'certificate.pem'),
    privateKeyFile: path.join(rootFolder, 'own', 'private', 'private_key.pem'),
    applicationUri: `urn:glimmer:${name}`,
  };
}

/** A peer certificate the store refused: the OPC UA status code name and who presented it. */
export interface CertificateRefusal {
  readonly status: string;
  readonly thumbprint: string;
  readonly subject: string;
}

export interface CertificateManagerOptions {
  /** Called for every peer certificate the store refuses (untrusted, revoked, out of policy). */
  readonly onRefused?: (refusal: CertificateRefusal) => void;
  /** Create a self-signed own certificate when there is none (false: Glimmer's OPC UA issuer provides it). @default true */
  readonly createOwn?: boolean;
}

/** RSA modulus range of Basic256Sha256 and Aes256_Sha256_RsaPss (Part 7 security policy profiles). */
export const RSA_KEY_BITS = { min: 2048, max: 4096 } as const;

/**
 * The checks of Part 4 Table 106 that node-opcua's store does not make on an application instance certificate:
 * the key length of the policies offered, key usage (digitalSignature for the signatures, keyEncipherment and
 * dataEncipherment for the asymmetric encryption of the OpenSecureChannel) and the validity period.
 * Returns the OPC UA status code name of the first failed check, undefined when all pass.
 */
export function certificatePolicyStatus(der: Buffer, now = new Date()): string | undefined {
  let x509: crypto.X509Certificate;
  try { x509 = new crypto.X509Certificate(der); } catch { return 'BadCertificateInvalid'; }
  if (now.getTime() < Date.parse(x509.validFrom) || now.getTime() > Date.parse(x509.validTo)) return 'BadCertificateTimeInvalid';
  const key = x509.publicKey;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < RSA_KEY_BITS.min || bits > RSA_KEY_BITS.max) return 'BadCertificatePolicyCheckFailed';
  const { exploreCertificate } = require('node-opcua-crypto') as typeof import('node-opcua-crypto');
  const usage = exploreCertificate(der).tbsCertificate.extensions?.keyUsage;
  if (!usage?.digitalSignature || !usage.keyEncipherment || !usage.dataEncipherment) return 'BadCertificateUseNotAllowed';
  return undefined;
}

/** Thumbprint (SHA-1, hex, as OPC UA names certificates) and subject of a DER certificate. */
export function describeCertificate(der: Buffer): { thumbprint: string; subject: string } {
  const thumbprint = crypto.createHash('sha1').update(der).digest('hex');
  try { return { thumbprint, subject: new crypto.X509Certificate(der).subject.replace(/\n/g, ', ') }; } catch { return { thumbprint, subject: '' }; }
}

/**
 * A certificate manager that never auto-accepts, initialised, with this application's own certificate created.
 * Its peer check adds `certificatePolicyStatus` after node-opcua's trust, chain and CRL checks (Part 6 6.7.6: trust
 * first), and reports every refusal to `onRefused`.
 */
export async function certificateManager(id: OpcuaIdentity, options: CertificateManagerOptions = {}): Promise<Opcua.OPCUACertificateManager> {
  const { OPCUACertificateManager } = require('node-opcua-certificate-manager') as typeof import('node-opcua-certificate-manager');
  const { StatusCodes } = require('node-opcua-status-code') as typeof import('node-opcua-status-code');
  fs.mkdirSync(id.rootFolder, { recursive: true, mode: 0o700 });
  const cm = new OPCUACertificateManager({ rootFolder: id.rootFolder, automaticallyAcceptUnknownCertificate: false });
  await cm.initialize();
  const base = cm.checkCertificate.bind(cm) as unknown as (chain: Buffer | Buffer[]) => Promise<Opcua.StatusCode>;
  const check = async (chain: Buffer | Buffer[]): Promise<Opcua.StatusCode> => {
    const leaf = splitChain(chain)[0] ?? Buffer.alloc(0);
    let status = await base(chain);
    // node-opcua accepts a certificate with a trusted issuer even from rejected/; rejecting one (an operator, the
    // revocation feed) must hold whoever signed it.
    if (status.isGood() && isRejected(cm, leaf)) status = StatusCodes.BadCertificateUntrusted;
    if (status.isGood()) {
      const policy = certificatePolicyStatus(leaf);
      if (policy !== undefined) status = (StatusCodes as unknown as Record<string, Opcua.StatusCode>)[policy] as Opcua.StatusCode;
    }
    if (status.isNotGood()) options.onRefused?.({ status: status.name, ...describeCertificate(leaf) });
    return status;
  };
  // node-opcua calls it both ways: with a callback and as a promise.
  (cm as unknown as { checkCertificate: unknown }).checkCertificate = (chain: Buffer | Buffer[], callback?: (err: Error | null, s?: Opcua.StatusCode) => void) => {
    const p = check(chain);
    if (typeof callback !== 'function') return p;
    p.then((s) => callback(null, s), (err: Error) => callback(err));
    return undefined;
  };
  if (options.createOwn !== false && !fs.existsSync(id.certificateFile)) {
    await cm.createSelfSignedCertificate({
      applicationUri: id.applicationUri,
      subject: `/CN=${id.name}/O=Glimmer`,
      dns: [...new Set(['localhost', os.hostname()])],
      ip: ['127.0.0.1'],
      startDate: new Date(Date.now() - 60_000),
      validity: 365,
      outputFile: id.certificateFile,
    });
  }
  return cm;
}

/** Whether a certificate was explicitly rejected (node-opcua files a certificate in rejected/ only when moving it there). */
function isRejected(cm: Opcua.OPCUACertificateManager, leaf: Buffer): boolean {
  const dir = path.join(cm.rootDir, 'rejected');
  if (leaf.length === 0 || !fs.existsSync(dir)) return false;
  const want = describeCertificate(leaf).thumbprint;
  return fs.readdirSync(dir).some((name) => {
    try { return describeCertificate(Buffer.from(new crypto.X509Certificate(fs.readFileSync(path.join(dir, name))).raw)).thumbprint === want; } catch { return false; }
  });
}

/** The certificates of a DER chain (one buffer with the certificates back to back, or a list). */
export function splitChain(chain: Buffer | readonly Buffer[]): Buffer[] {
  if (Array.isArray(chain)) return [...chain] as Buffer[];
  const out: Buffer[] = [];
  const der = chain as Buffer;
  let at = 0;
  while (at + 4 <= der.length && der[at] === 0x30) {
    const lenByte = der[at + 1] ?? 0;
    let len = lenByte;
    let head = 2;
    if (lenByte & 0x80) {
      const n = lenByte & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + (der[at + 2 + i] ?? 0);
      head = 2 + n;
    }
    out.push(der.subarray(at, at + head + len));
    at += head + len;
  }
  return out;
}

/** Subject alternative names of a certificate as sorted `DNS:`/`IP:`/`URI:` strings. */
function sans(pem: Buffer): string[] {
  const text = new crypto.X509Certificate(pem).subjectAltName ?? '';
  return text.split(', ').filter(Boolean).map((s) => s.replace(/^IP Address:/, 'IP:')).sort();
}

/**
 * Makes the application's own certificate name exactly these host names and addresses (plus its application URI):
 * created when missing, reissued with the same key when the network settings changed. Returns what it did.
 */
export async function ensureOwnCertificate(id: OpcuaIdentity, cm: Opcua.OPCUACertificateManager, network: Pick<OpcuaNetwork, 'certificateDns' | 'certificateIps'>): Promise<'kept' | 'reissued'> {
  const want = [...network.certificateDns.map((d) => `DNS:${d}`), ...network.certificateIps.map((i) => `IP:${i}`), `URI:${id.applicationUri}`].sort();
  if (JSON.stringify(sans(fs.readFileSync(id.certificateFile))) === JSON.stringify(want)) return 'kept';
  fs.rmSync(id.certificateFile);
  await cm.createSelfSignedCertificate({
    applicationUri: id.applicationUri,
    subject: `/CN=${id.name}/O=Glimmer`,
    dns: [...network.certificateDns],
    ip: [...network.certificateIps],
    startDate: new Date(Date.now() - 60_000),
    validity: 365,
    outputFile: id.certificateFile,
  });
  return 'reissued';
}

let routedTo: Logger | undefined;
// node-opcua colours its lines for a terminal; the structured log keeps the text only.
// eslint-disable-next-line no-control-regex
const ANSI_COLOUR = /\u001b\[[0-9;]*m/g;
/**
 * Sends node-opcua's own text lines (warnings, errors) to the structured log instead of stdout, once per process.
 * Installed before node-opcua loads so its load-time warnings go there too.
 */
export function routeLibraryLogs(logger: Logger): void {
  if (routedTo !== undefined) return;
  routedTo = logger;
  const debug = require('node-opcua-debug') as typeof import('node-opcua-debug');
  const child = logger.child({ component: 'node-opcua' });
  // node-opcua calls these with its caller context ({ filename, callerline }) first, then console.log-style arguments.
  const line = (ctx: unknown, args: unknown[]) => {
    const c = (ctx ?? {}) as { filename?: string; callerline?: number };
    return [{ file: c.filename, line: c.callerline }, format(...args).replace(ANSI_COLOUR, '').slice(0, 2000)] as const;
  };
  debug.setWarningLogger((ctx: unknown, ...args: unknown[]) => { const [o, m] = line(ctx, args); child.warn(o, m); });
  debug.setErrorLogger((ctx: unknown, ...args: unknown[]) => { const [o, m] = line(ctx, args); child.error(o, m); });
}

/** DER bytes of an application's own certificate. */
export function certificateDer(id: OpcuaIdentity): Buffer {
  return Buffer.from(new crypto.X509Certificate(fs.readFileSync(id.certificateFile)).raw);
}

/** Puts `peer`'s certificate into `store`'s trusted folder (explicit provisioning, never automatic). */
export async function trustPeer(store: Opcua.OPCUACertificateManager, peer: OpcuaIdentity): Promise<void> {
  await store.trustCertificate(certificateDer(peer));
}

/** Creates (once) the password of an OPC UA user, stored mode 0600 under the state dir. */
export function userPassword(stateDir: string, user: string, create: boolean): string {
  const file = path.join(opcuaDir(stateDir), 'users', `${user}.password`);
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  if (!create) throw new GlimmerError('GLM_ERR_OPCUA_CONNECT_FAILED', `no OPC UA credentials for ${quote(user)} in the state dir`);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const secret = crypto.randomBytes(24).toString('base64url');
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Constant-time comparison of two secrets. */
export function sameSecret(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
}
