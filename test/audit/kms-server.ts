/**
 * A loopback HTTP server that speaks the AWS KMS JSON 1.1 protocol (`X-Amz-Target: TrentService.GetPublicKey` and
 * `TrentService.Sign`) with real keys generated here (ECDSA P-384 and P-256, ML-DSA-65, all by node:crypto), so the real @aws-sdk/client-kms runs against it (endpoint override, static dummy credentials).
 * It is a test peer, not an emulator of all of KMS: only what the checkpoint signer calls, and for the GDPR data key
 * `GenerateDataKey` and `Decrypt` with a symmetric key (`data-key`, AES-256-GCM, the encryption context as AAD).
 * Keys are also found by alias (`aliases`), as KMS resolves `alias/...` key ids.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface KmsTestServer {
  readonly endpoint: string;
  readonly keys: Record<string, { spec: string; publicKey: Buffer }>;
  /**
   * Requests seen, by target; `signed`: the SigV4 Authorization header verifies (recomputed here from the request with
   * TEST_SECRET, independently of the SDK's signer) for a credential scope of region eu-central-1 and service kms.
   */
  readonly calls: { target: string; signed: boolean; scope: string }[];
  close(): Promise<void>;
}

/** The secret access key the tests' static credentials carry (a dummy: the server only checks signatures with it). */
export const TEST_SECRET = 'test-secret-not-real';

const hmac = (key: Buffer | string, data: string) => crypto.createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer | string) => crypto.createHash('sha256').update(data).digest('hex');

/** AWS Signature Version 4, checked from the request as received (docs: "Create a signed AWS API request"). */
function verifySigV4(req: http.IncomingMessage, body: Buffer, secret: string): { ok: boolean; scope: string } {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(String(req.headers.authorization ?? ''));
  if (!m) return { ok: false, scope: '' };
  const [, , date, region, service, signedHeaders, signature] = m as unknown as string[];
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(date as string)) return { ok: false, scope: '' };
  const names = (signedHeaders as string).split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return { ok: false, scope: '' };
  const url = new URL(req.url ?? '/', 'http://x');
  const query = [...url.searchParams].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).sort().join('&');
  const headers = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [req.method, url.pathname, query, headers, signedHeaders, sha256(body)].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date as string), region as string), service as string), 'aws4_request');
  const expected = hmac(key, toSign);
  return { ok: crypto.timingSafeEqual(expected, Buffer.from(signature as string, 'hex')), scope: `${region}/${service}` };
}

type Key = { spec: string; publicKey: Buffer; sign(message: Buffer, algorithm: string): Buffer | undefined; secret?: Buffer };

async function makeKeys(): Promise<Record<string, Key>> {
  const ec = (curve: string, hash: string, algorithm: string, spec: string): Key => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: curve });
    return {
      spec,
      publicKey: publicKey.export({ format: 'der', type: 'spki' }),
      sign: (m, alg) => (alg === algorithm ? crypto.sign(hash, m, privateKey) : undefined),
    };
  };
  // KMS signs ML_DSA_SHAKE_256 with MessageType RAW as pure ML-DSA (empty context), what crypto.sign(null) does.
  const mlDsa = (type: 'ml-dsa-65' | 'ml-dsa-44', spec: string): Key => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync(type);
    return {
      spec,
      publicKey: publicKey.export({ format: 'der', type: 'spki' }),
      sign: (m, alg) => (alg === 'ML_DSA_SHAKE_256' ? crypto.sign(null, m, privateKey) : undefined),
    };
  };
  return {
    'p384-key': ec('P-384', 'sha384', 'ECDSA_SHA_384', 'ECC_NIST_P384'),
    'p256-key': ec('P-256', 'sha256', 'ECDSA_SHA_256', 'ECC_NIST_P256'),
    'mldsa-key': mlDsa('ml-dsa-65', 'ML_DSA_65'),
    'mldsa44-key': mlDsa('ml-dsa-44', 'ML_DSA_44'),
    'rsa-key': { spec: 'RSA_2048', publicKey: Buffer.alloc(10), sign: () => undefined },
    'data-key': { spec: 'SYMMETRIC_DEFAULT', publicKey: Buffer.alloc(0), sign: () => undefined, secret: crypto.randomBytes(32) },
  };
}

/** Canonical AAD of an encryption context (sorted keys), as KMS binds it to the ciphertext. */
function contextAad(context: Record<string, string> | undefined): Buffer {
  return Buffer.from(JSON.stringify(Object.entries(context ?? {}).sort(([a], [b]) => a.localeCompare(b))));
}

/** A ciphertext blob: key id length | key id | iv | tag | ciphertext. */
function wrap(keyId: string, key: Buffer, plain: Buffer, context?: Record<string, string>): Buffer {
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv).setAAD(contextAad(context));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([Buffer.from([keyId.length]), Buffer.from(keyId), iv, c.getAuthTag(), ct]);
}

function unwrap(keys: Record<string, Key>, blob: Buffer, context?: Record<string, string>): { keyId: string; plain: Buffer } | undefined {
  const n = blob[0] ?? 0;
  const keyId = blob.subarray(1, 1 + n).toString();
  const key = keys[keyId]?.secret;
  if (!key) return undefined;
  try {
    const d = crypto.createDecipheriv('aes-256-gcm', key, blob.subarray(1 + n, 13 + n)).setAAD(contextAad(context));
    d.setAuthTag(blob.subarray(13 + n, 29 + n));
    return { keyId, plain: Buffer.concat([d.update(blob.subarray(29 + n)), d.final()]) };
  } catch {
    return undefined;
  }
}

export interface KmsServerOptions {
  /** alias/... -> key id. @default {} */
  readonly aliases?: Record<string, string>;
  /** @default 127.0.0.1 */
  readonly host?: string;
  /** Serve HTTPS with this certificate and key (PEM). @default plain HTTP */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export async function startKmsServer(port = 0, reuseKeys?: Record<string, Key>, options: KmsServerOptions = {}): Promise<KmsTestServer & { raw: Record<string, Key> }> {
  const keys = reuseKeys ?? (await makeKeys());
  const resolve = (id: string | undefined) => {
    const keyId = id?.startsWith('alias/') ? options.aliases?.[id] : id?.replace(/^arn:aws:kms:[^:]*:[0-9]*:key\//, '');
    return keyId === undefined ? undefined : { keyId, key: keys[keyId] };
  };
  const calls: { target: string; signed: boolean; scope: string }[] = [];
  const handler: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const sig = verifySigV4(req, Buffer.concat(chunks), TEST_SECRET);
      calls.push({ target, signed: sig.ok, scope: sig.scope });
      if (!sig.ok) {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ __type: 'InvalidSignatureException', message: 'The request signature we calculated does not match the signature you provided.' }));
        return;
      }
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      };
      let input: { KeyId?: string; Message?: string; MessageType?: string; SigningAlgorithm?: string; KeySpec?: string; CiphertextBlob?: string; EncryptionContext?: Record<string, string> };
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof input;
      } catch {
        reply(400, { __type: 'SerializationException', message: 'bad JSON' });
        return;
      }
      if (target === 'TrentService.Decrypt') {
        const out = unwrap(keys, Buffer.from(input.CiphertextBlob ?? '', 'base64'), input.EncryptionContext);
        const wanted = input.KeyId === undefined ? undefined : resolve(input.KeyId)?.keyId;
        if (!out || (wanted !== undefined && wanted !== out.keyId)) reply(400, { __type: 'InvalidCiphertextException', message: 'the ciphertext does not open under this key and context' });
        else reply(200, { KeyId: `arn:aws:kms:eu-central-1:111122223333:key/${out.keyId}`, Plaintext: out.plain.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
        return;
      }
      const found = resolve(input.KeyId);
      const key = found?.key;
      if (!found || !key) {
        reply(400, { __type: 'NotFoundException', message: `Key '${input.KeyId}' does not exist` });
        return;
      }
      const arn = `arn:aws:kms:eu-central-1:111122223333:key/${found.keyId}`;
      if (target === 'TrentService.GenerateDataKey') {
        if (!key.secret || input.KeySpec !== 'AES_256') {
          reply(400, { __type: 'InvalidKeyUsageException', message: 'GenerateDataKey needs a symmetric key and KeySpec AES_256' });
          return;
        }
        const plain = crypto.randomBytes(32);
        reply(200, { KeyId: arn, Plaintext: plain.toString('base64'), CiphertextBlob: wrap(found.keyId, key.secret, plain, input.EncryptionContext).toString('base64') });
      } else if (target === 'TrentService.GetPublicKey') {
        reply(200, { KeyId: arn, KeySpec: key.spec, KeyUsage: key.spec.startsWith('RSA') ? 'ENCRYPT_DECRYPT' : 'SIGN_VERIFY', PublicKey: key.publicKey.toString('base64') });
      } else if (target === 'TrentService.Sign') {
        const message = Buffer.from(input.Message ?? '', 'base64');
        const sig = input.MessageType === 'RAW' && message.length <= 4096 ? key.sign(message, input.SigningAlgorithm ?? '') : undefined;
        if (!sig) reply(400, { __type: 'InvalidKeyUsageException', message: 'unsupported signing request' });
        else reply(200, { KeyId: arn, Signature: sig.toString('base64'), SigningAlgorithm: input.SigningAlgorithm });
      } else {
        reply(400, { __type: 'UnknownOperationException', message: target });
      }
    });
  };
  const server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, handler) : http.createServer(handler);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((done) => server.listen(port, host, done));
  const actual = (server.address() as AddressInfo).port;
  return {
    endpoint: `${options.tls ? 'https' : 'http'}://${host}:${actual}`,
    keys: Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, { spec: v.spec, publicKey: v.publicKey }])),
    raw: keys,
    calls,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
