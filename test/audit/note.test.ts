import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { ByteWriter, canonicalJson, writeCanonicalJson } from '../../runtime/audit/canonical';
import { DEFAULT_AUDIT_CONFIG, mergeAuditConfig } from '../../runtime/audit/config';
import { formatCheckpoint, parseCheckpoint, type SignatureAlgorithm } from '../../runtime/audit/checkpoint-body';
import { c2spCosigner } from '../../runtime/audit/cosignature';
import { mlDsaPrivateKeyFromSeed, mlDsaRawPublicKey } from '../../runtime/audit/ml-dsa';
import {
  formatSignatureLine,
  formatVerifierKey,
  keyId,
  openCheckpoint,
  parseSignedNote,
  parseVerifierKey,
  signNote,
  verifyNote,
  verifySignature,
} from '../../runtime/audit/note';
import { ephemeralSigner, mlDsaFileSigner } from '../../runtime/audit/signers';
import { GlimmerError, isGlimmerError } from '../../runtime/errors';

const onlyGlimmerErrors = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof GlimmerError, `unexpected ${String(err)}`);
  }
};

test('GIVEN an Ed25519 signer WHEN a checkpoint is signed THEN the note has the C2SP layout: body, blank line, em-dash line with key id = SHA-256(name || 0x0A || 0x01 || key)[:4]', async () => {
  const signer = ephemeralSigner('example.com/log');
  const body = formatCheckpoint({ origin: 'example.com/log', size: 5, root: Buffer.alloc(32, 7), extensions: [] });
  assert.equal(body, `example.com/log\n5\n${Buffer.alloc(32, 7).toString('base64')}\n`);
  const note = await signNote(body, [signer]);
  assert.ok(note.startsWith(`${body}\n\u2014 example.com/log `));
  const pub = Buffer.from(await signer.publicKey());
  const expectedId = crypto.createHash('sha256').update(Buffer.concat([Buffer.from('example.com/log\n'), Buffer.from([0x01]), pub])).digest().subarray(0, 4);
  const sig = parseSignedNote(note).signatures[0];
  assert.ok(sig?.keyId.equals(expectedId));
  assert.ok(keyId('example.com/log', 'ed25519', pub).equals(expectedId));
  const vkey = formatVerifierKey('example.com/log', 'ed25519', pub);
  assert.equal(vkey, `example.com/log+${expectedId.toString('hex')}+${Buffer.concat([Buffer.from([1]), pub]).toString('base64')}`);
  const opened = await openCheckpoint(note, [parseVerifierKey(vkey)], 32);
  assert.equal(opened.size, 5);
});

test('GIVEN a note signed by an unknown key only WHEN opened THEN GLM_ERR_AUDIT_SIGNATURE_INVALID; GIVEN a malformed note or checkpoint THEN GLM_ERR_AUDIT_CHECKPOINT_INVALID', async () => {
  const trusted = ephemeralSigner('example.com/log');
  const other = ephemeralSigner('example.com/log');
  const body = formatCheckpoint({ origin: 'example.com/log', size: 1, root: Buffer.alloc(32, 1), extensions: [] });
  const keys = [parseVerifierKey(formatVerifierKey('example.com/log', 'ed25519', await trusted.publicKey()))];
  await assert.rejects(openCheckpoint(await signNote(body, [other]), keys), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_SIGNATURE_INVALID'));
  for (const bad of ['no blank line\n', 'a\n1\nAAAA\n\n- a AAAAAAAA\n', 'a\n1\nAAAA\n\n\u2014 a !!!\n', 'a\nx\nAAAA\n\n\u2014 a AAAAAAAAAA==\n']) {
    await assert.rejects(openCheckpoint(bad, keys), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_CHECKPOINT_INVALID'), JSON.stringify(bad));
  }
  assert.throws(() => parseVerifierKey('a+00000000+AQ=='), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_CHECKPOINT_INVALID'));
  assert.throws(() => parseCheckpoint('o\n01\nAAAA\n'), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_CHECKPOINT_INVALID'));
  assert.throws(() => parseCheckpoint('o\n1\nAAA=\n', 32), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_CHECKPOINT_INVALID'));
});

test('GIVEN arbitrary text WHEN parsed as signed note, checkpoint or verifier key THEN the parsers either succeed or throw a GlimmerError (fuzz)', () => {
  const fragments = fc.oneof(fc.string(), fc.constantFrom('\n', '\n\n', '\u2014 ', '+', 'AAAA', '==', 'example.com/log', '5'));
  fc.assert(
    fc.property(fc.array(fragments, { maxLength: 12 }), (parts) => {
      const text = parts.join('');
      onlyGlimmerErrors(() => parseSignedNote(text));
      onlyGlimmerErrors(() => parseCheckpoint(text));
      onlyGlimmerErrors(() => parseVerifierKey(text));
    }),
    { numRuns: 2000 },
  );
});

test('GIVEN arbitrary JSON bodies WHEN merged as audit configuration THEN the result is valid or a GlimmerError names a field path (fuzz)', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (body) => {
      try {
        const cfg = mergeAuditConfig(DEFAULT_AUDIT_CONFIG, body);
        assert.equal(typeof cfg.immutable_logs, 'boolean');
      } catch (err) {
        assert.ok(err instanceof GlimmerError);
        assert.match(err.message, /^\$/);
      }
    }),
    { numRuns: 1000 },
  );
});

test('GIVEN arbitrary JSON values WHEN canonicalised THEN parsing gives the same value back and canonicalising again gives the same bytes (property)', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const text = canonicalJson(value);
      const again = canonicalJson(JSON.parse(text));
      assert.equal(again, text);
      assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(value)));
    }),
    { numRuns: 1000 },
  );
});

test('GIVEN arbitrary values WHEN written as bytes by writeCanonicalJson THEN the bytes are the UTF-8 of canonicalJson, or it declines exactly where canonicalJson refuses (property)', () => {
  const w = new ByteWriter(16);
  fc.assert(
    fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true, withDate: true, withSparseArray: true, maxDepth: 40 }), fc.string({ unit: 'binary' }), (value, s) => {
      for (const v of [value, { s, value }]) {
        w.pos = 3;
        let text: string | undefined;
        try {
          text = canonicalJson(v);
        } catch (err) {
          assert.ok(isGlimmerError(err, 'GLM_ERR_AUDIT_RECORD_INVALID'));
        }
        const written = writeCanonicalJson(v, w);
        assert.equal(written, text !== undefined);
        if (text === undefined) assert.equal(w.pos, 3);
        else assert.equal(w.buf.subarray(3, w.pos).toString('utf8'), text);
      }
    }),
    { numRuns: 2000 },
  );
});

test('GIVEN any non-negative safe integer WHEN written by ByteWriter.decimal THEN the bytes are its decimal string (property)', () => {
  const w = new ByteWriter(1);
  fc.assert(
    fc.property(fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constantFrom(0, 9, 10, 99, 100, 1e15, Number.MAX_SAFE_INTEGER)), (n) => {
      w.pos = 0;
      w.decimal(n);
      assert.equal(w.buf.subarray(0, w.pos).toString('latin1'), String(n));
    }),
  );
});

const MESSAGE = Buffer.from('example.com/log\n3\nAAAA\n');

/** A key pair of each signature algorithm a verifier key can name, with a signature over MESSAGE. */
async function keysOfEveryAlgorithm() {
  const ed = crypto.generateKeyPairSync('ed25519');
  const p256 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const p384 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const spki = (k: crypto.KeyObject) => k.export({ format: 'der', type: 'spki' });
  const ml44 = mlDsaPrivateKeyFromSeed(44, Buffer.alloc(32, 4));
  const ml65 = mlDsaPrivateKeyFromSeed(65, Buffer.alloc(32, 6));
  return [
    { algorithm: 'ed25519', type: '01', publicKey: spki(ed.publicKey).subarray(-32), signature: crypto.sign(null, MESSAGE, ed.privateKey) },
    { algorithm: 'ecdsa-p256-sha256', type: 'ff01', publicKey: spki(p256.publicKey), signature: crypto.sign('sha256', MESSAGE, p256.privateKey) },
    { algorithm: 'ecdsa-p384-sha384', type: 'ff02', publicKey: spki(p384.publicKey), signature: crypto.sign('sha384', MESSAGE, p384.privateKey) },
    { algorithm: 'ml-dsa-44', type: 'ff03', publicKey: mlDsaRawPublicKey(ml44), signature: crypto.sign(null, MESSAGE, ml44) },
    { algorithm: 'ml-dsa-65', type: 'ff04', publicKey: mlDsaRawPublicKey(ml65), signature: crypto.sign(null, MESSAGE, ml65) },
  ] as const;
}

test('GIVEN a key of each signature type WHEN its verifier key is formatted and parsed THEN the type bytes are the registered or escaped ones, the algorithm comes back, and its signature verifies only with that key and hash', async () => {
  const all = await keysOfEveryAlgorithm();
  for (const k of all) {
    const vkey = formatVerifierKey('example.com/log', k.algorithm, k.publicKey);
    const keyPart = Buffer.from(vkey.slice(vkey.indexOf('+', vkey.indexOf('+') + 1) + 1), 'base64');
    assert.equal(keyPart.toString('hex'), k.type + Buffer.from(k.publicKey).toString('hex'), k.algorithm);
    const parsed = parseVerifierKey(`  ${vkey}\n`);
    assert.equal(parsed.algorithm, k.algorithm);
    assert.equal(parsed.name, 'example.com/log');
    assert.ok(parsed.publicKey.equals(k.publicKey), k.algorithm);
    assert.equal(await verifySignature(parsed, MESSAGE, k.signature), true, `${k.algorithm} verifies`);
    assert.equal(await verifySignature(parsed, Buffer.from('another message'), k.signature), false, `${k.algorithm} other message`);
  }
  // The same key bytes under the sibling algorithm (other hash, other ML-DSA level) do not verify; nor does a malformed key.
  const [, p256, p384, ml44, ml65] = all;
  const as = (k: (typeof all)[number], algorithm: SignatureAlgorithm) => ({ name: 'n', keyId: Buffer.alloc(4), algorithm, publicKey: k.publicKey });
  assert.equal(await verifySignature(as(p256, 'ecdsa-p384-sha384'), MESSAGE, p256.signature), false);
  assert.equal(await verifySignature(as(p384, 'ecdsa-p256-sha256'), MESSAGE, p384.signature), false);
  assert.equal(await verifySignature(as(ml44, 'ml-dsa-65'), MESSAGE, ml44.signature), false);
  assert.equal(await verifySignature(as(ml65, 'ml-dsa-44'), MESSAGE, ml65.signature), false);
  assert.equal(await verifySignature({ name: 'n', keyId: Buffer.alloc(4), algorithm: 'ecdsa-p256-sha256', publicKey: Buffer.from('not a key') }, MESSAGE, p256.signature), false);
});

test('GIVEN a C2SP ML-DSA-44 cosigner WHEN its cosignature line is checked through the note verifier THEN it verifies as ml-dsa-44-cosignature with type 0x06', async () => {
  const cosigner = c2spCosigner(await mlDsaFileSigner({ keyFile: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-note-')), 'seed'), keyName: 'witness.example' }));
  const body = formatCheckpoint({ origin: 'example.com/log', size: 3, root: Buffer.alloc(32, 9), extensions: [] });
  const vkey = parseVerifierKey(formatVerifierKey('witness.example', cosigner.algorithm, await cosigner.publicKey()));
  assert.equal(vkey.algorithm, 'ml-dsa-44-cosignature');
  assert.equal(Buffer.from(vkey.publicKey).length, 1312);
  const note = parseSignedNote(await signNote(body, [cosigner]));
  assert.deepEqual(await verifyNote(note, [vkey]), { verifiedBy: ['witness.example/ml-dsa-44-cosignature'], badSignatures: [] });
});

test('GIVEN malformed verifier keys WHEN parsed THEN each is GLM_ERR_AUDIT_CHECKPOINT_INVALID with the reason', async () => {
  const pub = Buffer.alloc(32, 1);
  const good = formatVerifierKey('log', 'ed25519', pub);
  const id = keyId('log', 'ed25519', pub).toString('hex');
  const b64 = Buffer.concat([Buffer.from([1]), pub]).toString('base64');
  const refused = (text: string, re: RegExp) => assert.throws(() => parseVerifierKey(text), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_CHECKPOINT_INVALID') && re.test((e as Error).message), text);
  assert.equal(parseVerifierKey(good).keyId.toString('hex'), id);
  refused(`log${id}${b64}`, /is not <name>\+<hex id>\+<base64 key>/);
  refused(`log+${id}`, /is not <name>\+<hex id>\+<base64 key>/);
  refused(`+${id}+${b64}`, /malformed name or id/);
  refused(`l og+${id}+${b64}`, /malformed name or id/);
  refused(`l\u0007og+${id}+${b64}`, /malformed name or id/);
  refused(`log+${id.toUpperCase()}+${b64}`, /malformed name or id/);
  refused(`log+${id}00+${b64}`, /malformed name or id/);
  refused(`log+x${id}+${b64}`, /malformed name or id/);
  refused(`log+${id}+${Buffer.concat([Buffer.from([0xff, 0x07]), pub]).toString('base64')}`, /unknown signature type/);
  refused(`log+${id}+${Buffer.concat([Buffer.from([0x02]), pub]).toString('base64')}`, /unknown signature type/);
  // A type byte with no key after it is not a key, even when the id is computed over the empty key.
  refused(`log+${keyId('log', 'ed25519', Buffer.alloc(0)).toString('hex')}+AQ==`, /unknown signature type/);
  refused(`log+${keyId('log', 'ecdsa-p256-sha256', Buffer.alloc(0)).toString('hex')}+/wE=`, /unknown signature type/);
  refused(`log+00000000+${b64}`, new RegExp(`has id 00000000, but its key hashes to ${id}`));
  // The key name is part of the id: the same key under another name does not match.
  refused(`other+${id}+${b64}`, /but its key hashes to/);
});

test('GIVEN malformed signed notes WHEN parsed THEN each is GLM_ERR_AUDIT_CHECKPOINT_INVALID with its reason; the limits themselves are accepted', () => {
  const body = 'example.com/log\n1\nAAAA\n';
  const line = (name: string, bytes: number) => `\u2014 ${name} ${Buffer.alloc(bytes, 7).toString('base64')}\n`;
  const refused = (text: string, re: RegExp) => assert.throws(() => parseSignedNote(text), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_CHECKPOINT_INVALID') && re.test((e as Error).message), JSON.stringify(text.slice(0, 80)));
  const ok = parseSignedNote(`${body}\n${line('a', 5)}${line('b.c/d', 68)}`);
  assert.equal(ok.text, body);
  assert.deepEqual(ok.signatures.map((s) => [s.name, s.keyId.toString('hex'), s.signature.length]), [['a', '07070707', 1], ['b.c/d', '07070707', 64]]);
  refused(`${body}\n${line('a', 4)}`, /is not canonical base64/);
  refused(`${body}\n\u2014 a AAAAAAB=\n`, /is not canonical base64/);
  refused(`${body}\n${line('a', 5).slice(0, -1)}`, /no blank line before its signatures/);
  refused(`${body}${line('a', 5)}`, /no blank line before its signatures/);
  refused(`${body}\n- a ${Buffer.alloc(5).toString('base64')}\n`, /does not start with an em dash/);
  refused(`${body}\n\u2014 ${Buffer.alloc(5).toString('base64')}\n`, /malformed key name/);
  refused(`${body}\n\u2014  ${Buffer.alloc(5).toString('base64')}\n`, /malformed key name/);
  refused(`${body}\n\u2014 a+b ${Buffer.alloc(5).toString('base64')}\n`, /malformed key name/);
  refused(`${body.replace('1', '1\t')}\n${line('a', 5)}`, /control characters/);
  refused(`${body}\n${line('a', 5).replace('a', 'a\u000b')}`, /control characters/);
  refused(`${body}\n${line('a', 5).replace('a', 'a\u0000')}`, /control characters/);
  assert.equal(parseSignedNote(`${body}\n${line('a', 5).repeat(100)}`).signatures.length, 100);
  refused(`${body}\n${line('a', 5).repeat(101)}`, /more than 100 signatures/);
  // Exactly 1 MiB is accepted, one byte more is not.
  const sig = `\n${line('a', 5)}`;
  const pad = 1024 * 1024 - Buffer.byteLength(body) - Buffer.byteLength(sig) - 1;
  const big = `${body}${'x'.repeat(pad)}\n${sig}`;
  assert.equal(Buffer.byteLength(big), 1024 * 1024);
  assert.equal(parseSignedNote(big).signatures.length, 1);
  refused(`${body}${'x'.repeat(pad + 1)}\n${sig}`, /larger than 1 MiB/);
});

test('GIVEN a note with lines from trusted and untrusted keys WHEN verified THEN unknown names and ids are skipped, a trusted bad line is reported, and openCheckpoint refuses it naming the key', async () => {
  const signer = ephemeralSigner('example.com/log');
  const sameName = ephemeralSigner('example.com/log');
  const body = formatCheckpoint({ origin: 'example.com/log', size: 4, root: Buffer.alloc(32, 2), extensions: [] });
  const trusted = parseVerifierKey(formatVerifierKey('example.com/log', 'ed25519', await signer.publicKey()));
  const signed = await signNote(body, [signer, sameName, ephemeralSigner('stranger')]);
  assert.deepEqual(await verifyNote(parseSignedNote(signed), [trusted]), { verifiedBy: ['example.com/log/ed25519'], badSignatures: [] });
  const opened = await openCheckpoint(signed, [trusted], 32);
  assert.deepEqual(opened.verifiedBy, ['example.com/log/ed25519']);
  assert.equal(opened.origin, 'example.com/log');
  // The trusted key's id under another name is another key: skipped, so nothing vouches for the note.
  const renamed = { ...trusted, name: 'other.example/log' };
  await assert.rejects(openCheckpoint(signed, [renamed]), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_SIGNATURE_INVALID') && /size 4 carries no signature from a trusted key/.test((e as Error).message));
  // A good line plus a forged line from the same trusted key: refused, naming it.
  const good = parseSignedNote(signed).signatures[0] as { keyId: Buffer; signature: Buffer };
  const forgedSig = Buffer.from(good.signature);
  forgedSig[0] = (forgedSig[0] as number) ^ 1;
  const forged = `${signed}${formatSignatureLine('example.com/log', good.keyId, forgedSig)}`;
  assert.deepEqual(await verifyNote(parseSignedNote(forged), [trusted]), { verifiedBy: ['example.com/log/ed25519'], badSignatures: ['example.com/log/ed25519'] });
  await assert.rejects(openCheckpoint(forged, [trusted]), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_SIGNATURE_INVALID') && /size 4 has a signature that does not verify: example.com\/log\/ed25519/.test((e as Error).message));
});

test('GIVEN two forged lines from two trusted keys WHEN the checkpoint is opened THEN the refusal names both keys, comma-separated, in line order', async () => {
  const a = ephemeralSigner('a.example/log');
  const b = ephemeralSigner('b.example/log');
  const body = formatCheckpoint({ origin: 'a.example/log', size: 4, root: Buffer.alloc(32, 2), extensions: [] });
  const keys = [parseVerifierKey(formatVerifierKey('a.example/log', 'ed25519', await a.publicKey())), parseVerifierKey(formatVerifierKey('b.example/log', 'ed25519', await b.publicKey()))];
  // Each key signs another text, so both lines are well-formed signatures that do not verify over this body.
  const other = await signNote(body.replace('\n4\n', '\n5\n'), [a, b]);
  const forged = `${body}\n${other.slice(other.indexOf('\n\n') + 2)}`;
  await assert.rejects(openCheckpoint(forged, keys, 32), (e) => isGlimmerError(e, 'GLM_ERR_AUDIT_SIGNATURE_INVALID') &&
    (e as Error).message === 'checkpoint of size 4 has a signature that does not verify: a.example/log/ed25519, b.example/log/ed25519');
});

test('GIVEN a note whose blank line is its very start WHEN parsed THEN the text is the single newline before it and the signature lines are read', async () => {
  const signer = ephemeralSigner('example.com/log');
  const line = formatSignatureLine('example.com/log', keyId('example.com/log', 'ed25519', await signer.publicKey()), Buffer.alloc(64, 7));
  const note = parseSignedNote(`\n\n${line}`);
  assert.equal(note.text, '\n');
  assert.equal(note.signatures.length, 1);
  assert.equal(note.signatures[0]?.name, 'example.com/log');
});
