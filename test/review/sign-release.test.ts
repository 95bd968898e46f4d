/**
 * scripts/sign-release.ts: the real @aws-sdk/client-kms against a loopback peer speaking the KMS JSON 1.1 protocol
 * (GetPublicKey, Sign with MessageType RAW and DIGEST) with real P-384 keys; the result is checked with the runtime's
 * own manifest verifier. (test/audit/kms-server.ts only signs RAW messages; a manifest over 4096 bytes needs DIGEST,
 * signed here with @noble/curves, a test-only dependency: node:crypto cannot sign a precomputed ECDSA digest.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { p384 } from '@noble/curves/nist.js';
import { isGlimmerError } from '../../runtime/errors';
import { buildManifest, verifyManifestSignature } from '../../runtime/lifecycle/manifest';
import { MANIFEST_FILE, PUBLIC_KEY_FILE, SIGNATURE_FILE } from '../../runtime/lifecycle/release';
import { signRelease } from '../../scripts/sign-release';

interface TestKey { spec: string; usage: string; privateKey: crypto.KeyObject; publicKey: crypto.KeyObject }
const ecKey = (curve: string, spec: string): TestKey => ({ spec, usage: 'SIGN_VERIFY', ...crypto.generateKeyPairSync('ec', { namedCurve: curve }) });

describe('sign-release with KMS', () => {
  let server: http.Server;
  let endpoint: string;
  const keys: Record<string, TestKey> = {};
  const calls: string[] = [];
  let forgeWith: TestKey | undefined;
  let root: string;

  before(async () => {
    keys['release'] = ecKey('P-384', 'ECC_NIST_P384');
    keys['p256'] = ecKey('P-256', 'ECC_NIST_P256');
    keys['other'] = ecKey('P-384', 'ECC_NIST_P384');
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { KeyId: string; Message?: string; MessageType?: string; SigningAlgorithm?: string };
        const reply = (status: number, body: unknown) => { res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }); res.end(JSON.stringify(body)); };
        const key = keys[input.KeyId];
        if (!key) { reply(400, { __type: 'NotFoundException', message: `Key '${input.KeyId}' does not exist` }); return; }
        const arn = `arn:aws:kms:eu-central-1:111122223333:key/${input.KeyId}`;
        calls.push(`${target} ${input.MessageType ?? ''}`.trim());
        if (target === 'TrentService.GetPublicKey') {
          const algs = key.spec === 'ECC_NIST_P384' ? ['ECDSA_SHA_384'] : ['ECDSA_SHA_256'];
          reply(200, { KeyId: arn, KeySpec: key.spec, KeyUsage: key.usage, SigningAlgorithms: algs, PublicKey: key.publicKey.export({ format: 'der', type: 'spki' }).toString('base64') });
          return;
        }
        if (target !== 'TrentService.Sign' || input.SigningAlgorithm !== 'ECDSA_SHA_384' || key.spec !== 'ECC_NIST_P384') { reply(400, { __type: 'InvalidKeyUsageException', message: 'unsupported' }); return; }
        const signer = forgeWith ?? key;
        const message = Buffer.from(input.Message ?? '', 'base64');
        let sig: Buffer;
        if (input.MessageType === 'DIGEST') {
          if (message.length !== 48) { reply(400, { __type: 'ValidationException', message: 'digest length' }); return; }
          const d = Buffer.from(signer.privateKey.export({ format: 'jwk' }).d as string, 'base64url');
          sig = Buffer.from(p384.sign(message, d, { prehash: false, format: 'der' }));
        } else {
          if (message.length > 4096) { reply(400, { __type: 'ValidationException', message: 'message longer than 4096 bytes' }); return; }
          sig = crypto.sign('sha384', message, signer.privateKey);
        }
        reply(200, { KeyId: arn, Signature: sig.toString('base64'), SigningAlgorithm: 'ECDSA_SHA_384' });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env.AWS_ACCESS_KEY_ID = 'AKIDTEST';
    process.env.AWS_SECRET_ACCESS_KEY = 'test-secret';
    process.env.AWS_REGION = 'eu-central-1';
  });
  after(() => server.close());

  function release(files: Record<string, string>): string {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-release-'));
    for (const [rel, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), content);
    }
    fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
    fs.writeFileSync(path.join(root, MANIFEST_FILE), buildManifest(root, Object.keys(files), 'glimmer-test'));
    return root;
  }
  const verify = (r: string) => verifyManifestSignature(
    fs.readFileSync(path.join(r, MANIFEST_FILE)),
    Buffer.from(fs.readFileSync(path.join(r, SIGNATURE_FILE), 'utf8').trim(), 'base64'),
    fs.readFileSync(path.join(r, PUBLIC_KEY_FILE), 'utf8'),
    'test',
  );
  const refused = async (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: unknown) => isGlimmerError(e, 'GLM_ERR_RELEASE_SIGN_FAILED') && re.test(e.message));

  test('GIVEN a built release and the P-384 release key WHEN signed THEN the runtime verifier accepts the KMS signature and the shipped key is the KMS key', async () => {
    const r = release({ 'dist/agent.js': 'console.log(1)\n', 'config/glimmer.yml': 'a: 1\n', 'rules/x.pl': 'x.\n' });
    const out = await signRelease({ keyId: 'release', root: r, endpoint });
    assert.equal(out.messageType, 'RAW');
    assert.equal(out.artifacts, 3);
    verify(r);
    const shipped = crypto.createPublicKey(fs.readFileSync(path.join(r, PUBLIC_KEY_FILE), 'utf8')).export({ format: 'der', type: 'spki' });
    assert.ok(shipped.equals(keys['release']?.publicKey.export({ format: 'der', type: 'spki' }) as Buffer));
  });

  test('GIVEN a manifest over 4096 bytes WHEN signed THEN KMS signs its SHA-384 digest (MessageType DIGEST) and the signature verifies over the whole manifest', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i++) files[`rules/generated/rule_${String(i).padStart(3, '0')}.pl`] = `r${i}.\n`;
    const r = release(files);
    assert.ok(fs.statSync(path.join(r, MANIFEST_FILE)).size > 4096);
    const out = await signRelease({ keyId: 'release', root: r, endpoint });
    assert.equal(out.messageType, 'DIGEST');
    verify(r);
    assert.ok(calls.includes('TrentService.Sign DIGEST'));
  });

  test('GIVEN an artifact changed after the manifest was built WHEN signing THEN it is refused naming the artifact and nothing is written', async () => {
    const r = release({ 'dist/agent.js': 'console.log(1)\n', 'rules/x.pl': 'x.\n' });
    fs.writeFileSync(path.join(r, 'rules/x.pl'), 'x :- true.\n');
    await refused(signRelease({ keyId: 'release', root: r, endpoint }), /"rules\/x\.pl" changed after the manifest was built/);
    assert.equal(fs.existsSync(path.join(r, SIGNATURE_FILE)), false);
  });

  test('GIVEN a key that is not ECC_NIST_P384 WHEN signing THEN it is refused before any Sign call', async () => {
    const r = release({ 'dist/agent.js': 'x\n' });
    const before = calls.filter((c) => c.startsWith('TrentService.Sign')).length;
    await refused(signRelease({ keyId: 'p256', root: r, endpoint }), /ECC_NIST_P256.*must be an ECC_NIST_P384 SIGN_VERIFY key/);
    assert.equal(calls.filter((c) => c.startsWith('TrentService.Sign')).length, before);
  });

  test('GIVEN KMS returns a signature from another key WHEN signing THEN the local verification refuses it and the old signature stays', async () => {
    const r = release({ 'dist/agent.js': 'x\n' });
    fs.writeFileSync(path.join(r, SIGNATURE_FILE), 'old\n');
    forgeWith = keys['other'];
    try {
      await refused(signRelease({ keyId: 'release', root: r, endpoint }), /does not verify/);
    } finally {
      forgeWith = undefined;
    }
    assert.equal(fs.readFileSync(path.join(r, SIGNATURE_FILE), 'utf8'), 'old\n');
  });

  test('GIVEN an unknown key or no manifest WHEN signing THEN GLM_ERR_RELEASE_SIGN_FAILED says which', async () => {
    const r = release({ 'dist/agent.js': 'x\n' });
    await refused(signRelease({ keyId: 'alias/nope', root: r, endpoint }), /GetPublicKey "alias\/nope" failed: NotFoundException/);
    fs.rmSync(path.join(r, MANIFEST_FILE));
    await refused(signRelease({ keyId: 'release', root: r, endpoint }), /run `make build` first/);
  });
});
