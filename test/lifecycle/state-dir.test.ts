import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isGlimmerError } from '../../runtime/errors';
import { ensureStateDir } from '../../runtime/lifecycle/state-dir';

const unusable = (pattern: RegExp) => (e: unknown) => isGlimmerError(e) && e.code === 'GLM_ERR_STATE_DIR_UNUSABLE' && pattern.test(e.message);

test('GIVEN a state dir under /proc or /sys WHEN ensured THEN GLM_ERR_STATE_DIR_UNUSABLE at once (no hang) naming the path and the file system', () => {
  const started = Date.now();
  assert.throws(() => ensureStateDir('/proc/glimmer-state'), unusable(/"\/proc\/glimmer-state".*proc file system/));
  assert.throws(() => ensureStateDir('/sys/glimmer/state'), unusable(/sysfs/));
  assert.ok(Date.now() - started < 1000);
});

test('GIVEN a state dir below a regular file WHEN ensured THEN GLM_ERR_STATE_DIR_UNUSABLE naming ENOTDIR', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-sd-')), 'file');
  fs.writeFileSync(file, 'x');
  assert.throws(() => ensureStateDir(path.join(file, 'state')), unusable(/ENOTDIR/));
  assert.throws(() => ensureStateDir(file), unusable(/ENOTDIR/));
});

test('GIVEN a state dir on a read-only bind mount WHEN ensured THEN GLM_ERR_STATE_DIR_UNUSABLE naming EROFS; GIVEN a fresh path THEN it is created 0700', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-sd-'));
  const created = ensureStateDir(path.join(base, 'a', 'b'));
  assert.equal(fs.statSync(created).mode & 0o777, 0o700);
  fs.mkdirSync(path.join(base, 'ro'));
  // A read-only file system is real here: `mount` is available to the tests (they run as root).
  execFileSync('mount', ['--bind', '-o', 'ro', path.join(base, 'ro'), path.join(base, 'ro')]);
  try {
    execFileSync('mount', ['-o', 'remount,bind,ro', path.join(base, 'ro')]);
    assert.throws(() => ensureStateDir(path.join(base, 'ro', 'state')), unusable(/EROFS/));
  } finally {
    execFileSync('umount', [path.join(base, 'ro')]);
  }
});
