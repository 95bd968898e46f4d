/**
 * The mutation-testing harness (scripts/mutation.ts) without running Stryker: the committed equivalent-mutant list is
 * well formed and still matches the sources, a report is scored as documented, and the incremental mode finds exactly
 * the changed lines.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { changedLines, EQUIVALENT_FILE, MODULES, scoreReport, type EquivalentMutant } from '../../scripts/mutation';

const ROOT = path.resolve(__dirname, '..', '..');

test('GIVEN mutation/equivalent-mutants.json WHEN read THEN every entry names a mutated file, a mutator, text (and the line, where given) that still occurs in that file, and a reason', () => {
  const list = JSON.parse(fs.readFileSync(EQUIVALENT_FILE, 'utf8')) as EquivalentMutant[];
  const mutated = new Set(MODULES.flatMap((m) => m.mutate));
  for (const e of list) {
    assert.ok(mutated.has(e.file), `${e.file} is in a module`);
    assert.match(e.mutator, /^[A-Z][A-Za-z]+$/);
    assert.ok(e.reason.length >= 20, `a reason for ${e.file} ${e.mutator} ${e.original}`);
    const text = fs.readFileSync(path.join(ROOT, e.file), 'utf8');
    assert.ok(text.includes(e.original), `${JSON.stringify(e.original)} still occurs in ${e.file}`);
    if (e.line !== undefined) {
      assert.ok(text.split('\n').some((l) => l.trim() === e.line), `the line ${JSON.stringify(e.line)} still occurs in ${e.file}`);
      assert.ok(e.line.includes(e.original), `the line of ${JSON.stringify(e.original)} holds it`);
    }
  }
});

test('GIVEN the modules WHEN listed THEN each mutates existing files and runs existing test files', () => {
  for (const m of MODULES) {
    for (const f of [...m.mutate, ...m.tests]) assert.ok(fs.existsSync(path.join(ROOT, f)), `${m.name}: ${f}`);
  }
});

test('GIVEN a report with killed, timed-out, surviving, uncovered and invalid mutants WHEN scored THEN timeouts count as killed, a listed survivor is equivalent and left out, an unlisted one is reported with its text', () => {
  const source = 'const a = x > 1;\nconst b = y;\n';
  const at = (line: number, column: number, endColumn: number) => ({ start: { line, column }, end: { line, column: endColumn } });
  const report = {
    files: {
      'runtime/x.ts': {
        source,
        mutants: [
          { id: '1', mutatorName: 'EqualityOperator', replacement: 'x >= 1', status: 'Killed', location: at(1, 11, 16) },
          { id: '2', mutatorName: 'EqualityOperator', replacement: 'x < 1', status: 'Timeout', location: at(1, 11, 16) },
          { id: '3', mutatorName: 'BooleanLiteral', replacement: 'true', status: 'Survived', location: at(1, 11, 16) },
          { id: '4', mutatorName: 'ConditionalExpression', replacement: 'false', status: 'NoCoverage', location: at(2, 11, 12) },
          { id: '5', mutatorName: 'StringLiteral', replacement: '""', status: 'CompileError', location: at(2, 11, 12) },
        ],
      },
    },
  };
  const equivalent: EquivalentMutant = { file: 'runtime/x.ts', mutator: 'BooleanLiteral', original: 'x > 1', replacement: 'true', reason: 'a test of the harness' };
  const r = scoreReport('x', report, [equivalent]);
  assert.equal(r.killed, 2);
  assert.equal(r.equivalent, 1);
  assert.equal(r.survived, 1);
  assert.equal(r.invalid, 1);
  assert.equal(r.score, (100 * 2) / 3);
  assert.deepEqual(r.unlisted, [{ file: 'runtime/x.ts', mutator: 'ConditionalExpression', original: 'y', replacement: 'false', line: 2, status: 'NoCoverage' }]);
  assert.ok(r.matched.has(equivalent));
});

test('GIVEN the same surviving change on two lines and an entry that names one of them WHEN scored THEN only the mutant on that line is equivalent; the other is unlisted with its line number', () => {
  const source = 'const a = x > 1;\n  if (x > 1) go();\n';
  const at = (line: number, column: number) => ({ start: { line, column }, end: { line, column: column + 5 } });
  const report = {
    files: {
      'runtime/x.ts': {
        source,
        mutants: [
          { id: '1', mutatorName: 'ConditionalExpression', replacement: 'true', status: 'Survived', location: at(1, 11) },
          { id: '2', mutatorName: 'ConditionalExpression', replacement: 'true', status: 'Survived', location: at(2, 7) },
        ],
      },
    },
  };
  const onFirst: EquivalentMutant = { file: 'runtime/x.ts', mutator: 'ConditionalExpression', original: 'x > 1', replacement: 'true', line: 'const a = x > 1;', reason: 'a test of the harness' };
  const r = scoreReport('x', report, [onFirst]);
  assert.equal(r.equivalent, 1);
  assert.deepEqual(r.unlisted, [{ file: 'runtime/x.ts', mutator: 'ConditionalExpression', original: 'x > 1', replacement: 'true', line: 2, status: 'Survived' }]);
  const onSecond = scoreReport('x', report, [{ ...onFirst, line: 'if (x > 1) go();' }]);
  assert.deepEqual(onSecond.unlisted.map((u) => u.line), [1], 'the line is compared trimmed');
  assert.equal(scoreReport('x', report, [{ ...onFirst, line: undefined }]).equivalent, 2, 'an entry without a line matches every occurrence');
});

test('GIVEN a git repository with a committed file WHEN lines are changed, added and removed THEN changedLines returns the new line ranges of that file only', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-mutation-git-'));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@example.invalid', '-c', 'user.name=t', ...args], { cwd: dir });
  git('init', '-q');
  fs.writeFileSync(path.join(dir, 'a.ts'), Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'b.ts'), 'b\n');
  git('add', '.');
  git('commit', '-qm', 'base');
  const lines = Array.from({ length: 10 }, (_, i) => `line ${i + 1}`);
  lines[1] = 'changed 2';
  lines.splice(6, 0, 'new 7a', 'new 7b');
  lines.splice(10, 1);
  fs.writeFileSync(path.join(dir, 'a.ts'), lines.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'b.ts'), 'b changed\n');
  assert.deepEqual(changedLines('HEAD', ['a.ts'], dir), ['a.ts:2-2', 'a.ts:7-8']);
  assert.deepEqual(changedLines('HEAD', ['c.ts'], dir), []);
  fs.rmSync(dir, { recursive: true, force: true });
});
