/**
 * A checkpoint signer on any PKCS#11 token (pkcs11js), tested against SoftHSM2. The private key is generated inside
 * the token (C_GenerateKeyPair, CKA_SENSITIVE, not extractable) and signs with CKM_ECDSA over the SHA-256/SHA-384
 * digest of the note text; the raw r||s signature is re-encoded as DER so every ECDSA signer emits the same form.
 * The user PIN comes from a file or from GLIMMER_PKCS11_PIN and is never logged.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as pkcs11js from 'pkcs11js';
import { GlimmerError, quote } from '../errors';
import type { CheckpointSigner } from './checkpoint-body';

export const SOFTHSM2_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so';

export interface Pkcs11SignerOptions {
  /** PKCS#11 module. @default '/usr/lib/softhsm/libsofthsm2.so' */
  readonly library?: string;
  readonly tokenLabel: string;
  /** Label of the key pair on the token. @default 'glimmer-audit-checkpoint' */
  readonly keyLabel?: string;
  /** A file holding the user PIN (trailing newline ignored). Else `GLIMMER_PKCS11_PIN`. */
  readonly pinFile?: string;
  /** Curve of a generated key. @default 'P-384' */
  readonly curve?: 'P-256' | 'P-384';
  /** Generate the key pair when the token has none with that label. @default true */
  readonly generate?: boolean;
  /** For SoftHSM2: its configuration file (sets SOFTHSM2_CONF before the module initialises). */
  readonly softhsmConf?: string;
  readonly keyName: string;
}

const CURVES = {
  'P-256': { params: Buffer.from('06082a8648ce3d030107', 'hex'), hash: 'sha256', algorithm: 'ecdsa-p256-sha256', len: 32 },
  'P-384': { params: Buffer.from('06052b81040022', 'hex'), hash: 'sha384', algorithm: 'ecdsa-p384-sha384', len: 48 },
} as const;

function unavailable(message: string, cause?: unknown): GlimmerError {
  return new GlimmerError('GLM_ERR_AUDIT_SIGNER_UNAVAILABLE', message, cause === undefined ? {} : { cause });
}

function readPin(pinFile: string | undefined): string {
  let pin: string | undefined;
  if (pinFile) {
    try {
      pin = fs.readFileSync(pinFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new GlimmerError('GLM_ERR_AUDIT_PIN_MISSING', `cannot read the PKCS#11 PIN file ${quote(pinFile)}`, { cause: err });
    }
  } else {
    pin = process.env.GLIMMER_PKCS11_PIN;
  }
  if (!pin) throw new GlimmerError('GLM_ERR_AUDIT_PIN_MISSING', 'the PKCS#11 signer needs a user PIN: set a PIN file or GLIMMER_PKCS11_PIN');
  return pin;
}

/** DER length prefix. */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  return n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
}

function derInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let v = bytes.subarray(i);
  if ((v[0] as number) & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return Buffer.concat([Buffer.from([0x02]), derLength(v.length), v]);
}

/** IEEE P1363 r||s to a DER ECDSA-Sig-Value. */
export function p1363ToDer(raw: Buffer): Buffer {
  const half = raw.length / 2;
  const body = Buffer.concat([derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

/** CKA_EC_POINT (a DER OCTET STRING around 0x04||X||Y) to a DER SubjectPublicKeyInfo. */
function ecPointToSpki(ecPoint: Buffer, curve: 'P-256' | 'P-384'): Buffer {
  const len = CURVES[curve].len;
  const point = ecPoint.subarray(ecPoint.length - (1 + 2 * len));
  if (point[0] !== 0x04) throw unavailable('the token returned a compressed or malformed EC point');
  const b64 = (b: Buffer) => b.toString('base64url');
  const jwk = { kty: 'EC', crv: curve, x: b64(point.subarray(1, 1 + len)), y: b64(point.subarray(1 + len)) };
  return crypto.createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' });
}

function slotByLabel(mod: pkcs11js.PKCS11, label: string): Buffer | undefined {
  return mod.C_GetSlotList(true).find((slot) => mod.C_GetTokenInfo(slot).label.trim() === label);
}

function initialise(mod: pkcs11js.PKCS11, library: string): void {
  try {
    mod.load(library);
    mod.C_Initialize();
  } catch (err) {
    if (!/CKR_CRYPTOKI_ALREADY_INITIALIZED/.test(String(err))) throw unavailable(`cannot load the PKCS#11 module ${quote(library)}`, err);
  }
}

export async function pkcs11Signer(options: Pkcs11SignerOptions): Promise<CheckpointSigner> {
  const library = options.library ?? SOFTHSM2_LIBRARY;
  const keyLabel = options.keyLabel ?? 'glimmer-audit-checkpoint';
  const pin = readPin(options.pinFile);
  if (options.softhsmConf) process.env.SOFTHSM2_CONF = options.softhsmConf;
  const mod = new pkcs11js.PKCS11();
  initialise(mod, library);

  let session: Buffer | undefined;
  let privateKey: Buffer | undefined;
  let curve: 'P-256' | 'P-384' = options.curve ?? 'P-384';
  let spki: Buffer | undefined;

  const find = (s: Buffer, cls: number): Buffer | undefined => {
    mod.C_FindObjectsInit(s, [
      { type: pkcs11js.CKA_CLASS, value: cls },
      { type: pkcs11js.CKA_LABEL, value: keyLabel },
    ]);
    const handle = mod.C_FindObjects(s);
    mod.C_FindObjectsFinal(s);
    return handle ?? undefined;
  };

  /** Opens a logged-in session and finds (or generates) the key pair; reconnects after token errors. */
  const connect = (): Buffer => {
    if (session && privateKey) return session;
    const slot = slotByLabel(mod, options.tokenLabel);
    if (!slot) throw unavailable(`no PKCS#11 token labelled ${quote(options.tokenLabel)}`);
    const s = mod.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      mod.C_Login(s, pkcs11js.CKU_USER, pin);
    } catch (err) {
      if (!/CKR_USER_ALREADY_LOGGED_IN/.test(String(err))) {
        mod.C_CloseSession(s);
        throw unavailable(`login to PKCS#11 token ${quote(options.tokenLabel)} failed`, err);
      }
    }
    let priv = find(s, pkcs11js.CKO_PRIVATE_KEY);
    let pub = find(s, pkcs11js.CKO_PUBLIC_KEY);
    if (!priv || !pub) {
      if (options.generate === false) throw unavailable(`PKCS#11 token ${quote(options.tokenLabel)} has no key labelled ${quote(keyLabel)}`);
      const pair = mod.C_GenerateKeyPair(
        s,
        { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
        [
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_VERIFY, value: true },
          { type: pkcs11js.CKA_LABEL, value: keyLabel },
          { type: pkcs11js.CKA_EC_PARAMS, value: CURVES[curve].params },
        ],
        [
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_SIGN, value: true },
          { type: pkcs11js.CKA_PRIVATE, value: true },
          { type: pkcs11js.CKA_SENSITIVE, value: true },
          { type: pkcs11js.CKA_EXTRACTABLE, value: false },
          { type: pkcs11js.CKA_LABEL, value: keyLabel },
        ],
      );
      priv = pair.privateKey;
      pub = pair.publicKey;
    }
    const [params, point] = mod.C_GetAttributeValue(s, pub, [{ type: pkcs11js.CKA_EC_PARAMS }, { type: pkcs11js.CKA_EC_POINT }]);
    const p = params?.value as Buffer | undefined;
    curve = p?.equals(CURVES['P-256'].params) ? 'P-256' : p?.equals(CURVES['P-384'].params) ? 'P-384' : (() => {
      throw unavailable(`PKCS#11 key ${quote(keyLabel)} is not on P-256 or P-384`);
    })();
    spki = ecPointToSpki(point?.value as Buffer, curve);
    session = s;
    privateKey = priv;
    return s;
  };

  const reset = () => {
    if (session) {
      try {
        mod.C_CloseSession(session);
      } catch {
        // the session is already gone
      }
    }
    session = undefined;
    privateKey = undefined;
  };

  try {
    connect();
  } catch (err) {
    reset();
    try {
      mod.C_Finalize();
    } catch {
      // never initialised
    }
    throw err instanceof GlimmerError ? err : unavailable(`PKCS#11 token ${quote(options.tokenLabel)} is not usable`, err);
  }

  return {
    keyName: options.keyName,
    get algorithm() {
      return CURVES[curve].algorithm;
    },
    kind: 'pkcs11',
    publicKey: async () => {
      connect();
      return spki as Buffer;
    },
    sign: async (message) => {
      try {
        const s = connect();
        const digest = crypto.createHash(CURVES[curve].hash).update(message).digest();
        mod.C_SignInit(s, { mechanism: pkcs11js.CKM_ECDSA }, privateKey as Buffer);
        const raw = mod.C_Sign(s, digest, Buffer.alloc(2 * CURVES[curve].len));
        return p1363ToDer(raw);
      } catch (err) {
        reset();
        throw err instanceof GlimmerError ? err : unavailable('PKCS#11 signing failed', err);
      }
    },
    close: async () => {
      reset();
      try {
        mod.C_Finalize();
      } catch {
        // not initialised by us any more
      }
    },
  };
}

export interface SoftHsmToken {
  readonly conf: string;
  readonly pinFile: string;
  readonly tokenLabel: string;
}

/**
 * Creates (once) a SoftHSM2 token under `dir`: `softhsm2.conf` (token directory `dir/tokens`), a random user PIN in
 * `dir/user-pin` and SO PIN in `dir/so-pin` (mode 0600). The token is initialised through PKCS#11 itself
 * (C_InitToken, C_InitPIN), so no PIN ever appears on a command line.
 */
export function ensureSoftHsmToken(dir: string, tokenLabel = 'glimmer-audit', library = SOFTHSM2_LIBRARY): SoftHsmToken {
  const conf = path.join(dir, 'softhsm2.conf');
  const pinFile = path.join(dir, 'user-pin');
  const soPinFile = path.join(dir, 'so-pin');
  fs.mkdirSync(path.join(dir, 'tokens'), { recursive: true, mode: 0o700 });
  if (!fs.existsSync(conf)) {
    fs.writeFileSync(conf, `directories.tokendir = ${path.join(path.resolve(dir), 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, { mode: 0o600 });
  }
  for (const f of [pinFile, soPinFile]) {
    if (!fs.existsSync(f)) fs.writeFileSync(f, crypto.randomBytes(18).toString('base64url'), { mode: 0o600, flag: 'wx' });
  }
  process.env.SOFTHSM2_CONF = conf;
  const mod = new pkcs11js.PKCS11();
  initialise(mod, library);
  try {
    if (!slotByLabel(mod, tokenLabel)) {
      const free = mod.C_GetSlotList(true).find((slot) => (mod.C_GetTokenInfo(slot).flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0);
      if (!free) throw unavailable(`SoftHSM2 in ${quote(dir)} has no free slot`);
      const soPin = fs.readFileSync(soPinFile, 'utf8');
      mod.C_InitToken(free, soPin, tokenLabel.padEnd(32, ' '));
      const slot = slotByLabel(mod, tokenLabel) as Buffer;
      const s = mod.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      mod.C_Login(s, pkcs11js.CKU_SO, soPin);
      mod.C_InitPIN(s, fs.readFileSync(pinFile, 'utf8'));
      mod.C_Logout(s);
      mod.C_CloseSession(s);
    }
  } finally {
    mod.C_Finalize();
  }
  return { conf, pinFile, tokenLabel };
}
