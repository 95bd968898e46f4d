/** The DER chain splitter reads certificates a client sends before anything trusts it: fuzzed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { splitChain } from '../../runtime/industrial/opcua/pki';
import { makeClientCertificate } from './opcua-certs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

test('GIVEN a chain of two certificates back to back WHEN split THEN both come out unchanged', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-opcua-pki-'));
  try {
    const a = makeClientCertificate(dir, { name: 'a' }).der;
    const b = makeClientCertificate(dir, { name: 'b' }).der;
    assert.deepEqual(splitChain(Buffer.concat([a, b])), [a, b]);
    assert.deepEqual(splitChain([a, b]), [a, b]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('GIVEN arbitrary bytes as a chain WHEN split THEN it never throws, and every piece lies within the input', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, seq) => {
    const input = Buffer.from(bytes);
    if (seq && input.length > 0) input[0] = 0x30;
    const parts = splitChain(input);
    let total = 0;
    for (const p of parts) { total += p.length; assert.ok(p.length <= input.length); }
    assert.ok(total <= input.length);
  }), { numRuns: 2000 });
});
