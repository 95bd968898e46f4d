import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ERROR_CATALOGUE, GlimmerError, asGlimmerError, quote } from '../runtime/errors';
import { renderErrorDocs } from '../scripts/gen-error-docs';

test('GIVEN the error catalogue WHEN docs/errors.md is compared with it THEN they agree (regenerate with scripts/gen-error-docs.ts)', () => {
  const committed = fs.readFileSync(path.join(__dirname, '..', 'docs', 'errors.md'), 'utf8');
  assert.equal(committed, renderErrorDocs());
});

test('GIVEN every catalogue entry THEN its code is GLM_ERR_ upper snake case, its status an HTTP error status and its doc a sentence', () => {
  for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) {
    assert.match(code, /^GLM_ERR_[A-Z0-9_]+$/);
    assert.ok(spec.status >= 400 && spec.status < 600, code);
    assert.ok(spec.doc.length > 10, code);
  }
});

test('GIVEN a GlimmerError WHEN serialised for a client THEN only code and message leave, never the stack or cause', () => {
  const e = new GlimmerError('GLM_ERR_API_FORBIDDEN', 'no', { cause: new Error('secret internals') });
  const json = JSON.stringify(e);
  assert.deepEqual(JSON.parse(json), { error: { code: 'GLM_ERR_API_FORBIDDEN', message: 'no' } });
  assert.equal(e.status, 403);
});

test('GIVEN an unknown thrown value WHEN wrapped THEN it becomes GLM_ERR_INTERNAL with a generic message', () => {
  const e = asGlimmerError(new TypeError('x is undefined at /secret/path.ts:12'));
  assert.equal(e.code, 'GLM_ERR_INTERNAL');
  assert.equal(e.message, 'internal error');
});

test('GIVEN untrusted values WHEN quoted into messages THEN control characters are neutralised and length bounded', () => {
  assert.equal(quote('a\u0000b\nc'), '"a\\u0000b\\nc"');
  assert.ok(quote('x'.repeat(500)).length <= 81);
});
