/**
 * OPC UA certificate stores under the state dir, one per application (`<stateDir>/opcua/pki/<name>/` with node-opcua's
 * own/, trusted/, rejected/, issuers/ folders). Unknown peer certificates are rejected (copied to rejected/), never
 * auto-accepted: trust is provisioned explicitly by copying the peer's certificate into trusted/ (`trustPeer`).
 * node-opcua is loaded lazily (about 1 s): only the functions that need it require it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as Opcua from 'node-opcua';
import { GlimmerError, quote } from '../../errors';

export function loadOpcua(): typeof Opcua {
  return require('node-opcua') as typeof Opcua;
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

/** A certificate manager that never auto-accepts, initialised, with this application's own certificate created. */
export async function certificateManager(id: OpcuaIdentity): Promise<Opcua.OPCUACertificateManager> {
  const { OPCUACertificateManager } = loadOpcua();
  fs.mkdirSync(id.rootFolder, { recursive: true, mode: 0o700 });
  const cm = new OPCUACertificateManager({ rootFolder: id.rootFolder, automaticallyAcceptUnknownCertificate: false });
  await cm.initialize();
  if (!fs.existsSync(id.certificateFile)) {
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
