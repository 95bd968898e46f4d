/**
 * Loads @peculiar/x509 with the Reflect polyfill it needs and Node's WebCrypto as its provider, once, on first use.
 * Kept behind a function so modules that only validate certificates at runtime do not pay for it at import.
 */
import { webcrypto } from 'node:crypto';

export type X509Module = typeof import('@peculiar/x509');

let loaded: X509Module | undefined;

export function x509(): X509Module {
  if (loaded === undefined) {
    require('reflect-metadata');
    const mod = require('@peculiar/x509') as X509Module;
    // node:crypto's webcrypto and the DOM lib's Crypto differ only in typings (BufferSource generics).
    mod.cryptoProvider.set(webcrypto as never);
    loaded = mod;
  }
  return loaded;
}

/** ECDSA P-256 with SHA-256: the curve every TLS 1.3 stack and SPIRE's default agree on. */
export const EC_KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const EC_SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A random positive 128-bit serial, lowercase hex without leading zeros (the form revocation lists use). */
export function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f | 0x01;
  return Buffer.from(bytes).toString('hex');
}

/** Normalises a serial number (any case, optional leading zeros or colons) to lowercase hex without leading zeros. */
export function normalizeSerial(serial: string): string {
  const hex = serial.replace(/:/g, '').toLowerCase().replace(/^0+/, '');
  return hex === '' ? '0' : hex;
}

export async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

export async function importKeyPairPem(keyPem: string, certPublicKeyDer: Uint8Array): Promise<webcrypto.CryptoKeyPair> {
  const body = keyPem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', Buffer.from(body, 'base64'), EC_KEY_ALGORITHM, true, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', new Uint8Array(certPublicKeyDer), EC_KEY_ALGORITHM, true, ['verify']);
  return { privateKey, publicKey };
}
