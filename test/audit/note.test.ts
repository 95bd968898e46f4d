import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { ByteWriter, canonicalJson, writeCanonicalJson } from '../../runtime/audit/canonical';
import { DEFAULT_AUDIT_CONFIG, mergeAuditConfig } from '../../runtime/audit/config';
import { formatCheckpoint, parseCheckpoint } from '../../runtime/audit/checkpoint-body';
import { formatVerifierKey, keyId, openCheckpoint, parseSignedNote, parseVerifierKey, signNote } from '../../runtime/audit/note';
import { ephemeralSigner } from '../../runtime/audit/signers';
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
