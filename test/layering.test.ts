/**
 * The layering of .dependency-cruiser.cjs (docs/architecture.md), checked on the real tree: no file cycle, no upward
 * import, the model importing nothing, trust importing no industrial or audit, stacks/ and modules/ importing only the
 * model (and the loader and error catalogue). A copy of the tree with one back-import added must fail, naming the rule.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

function cruise(cwd: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [CLI, '--config', '.dependency-cruiser.cjs', '--output-type', 'err-long', 'runtime', 'stacks', 'modules'], { cwd, encoding: 'utf8', timeout: 120_000 });
  assert.ok(!r.error, String(r.error));
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const copies: string[] = [];
after(() => { for (const c of copies) fs.rmSync(c, { recursive: true, force: true }); });

/** The tree (runtime/, stacks/, modules/, the config, tsconfig) in a temporary folder, with `extra` files written into it. */
function treeWith(extra: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-layering-'));
  copies.push(dir);
  for (const part of ['runtime', 'stacks', 'modules']) fs.cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true, filter: (src) => !src.includes(`${path.sep}vendor`) });
  for (const file of ['.dependency-cruiser.cjs', 'tsconfig.json', 'package.json']) fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  for (const [file, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, file), text);
  return dir;
}

test('GIVEN the repository WHEN the layering is checked THEN there is no violation (no cycle, no upward import)', { timeout: 150_000 }, () => {
  const r = cruise(ROOT);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /no dependency violations found/);
});

test('GIVEN a copy of the tree with back-imports added WHEN the layering is checked THEN it fails and names each rule and file', { timeout: 150_000 }, () => {
  const dir = treeWith({
    // The model reaching up into the write decision; trust reaching into audit; the lifecycle into agents; a cycle.
    'runtime/model/probe-back.ts': "import type { WriteDecision } from '../industrial/write-decision';\nexport type Probe = WriteDecision;\n",
    'runtime/trust/probe-audit.ts': "import type { AuditLog } from '../audit/log';\nexport type Probe = AuditLog;\n",
    'runtime/lifecycle/probe-cycle-a.ts': "import { b } from './probe-cycle-b';\nexport const a = () => b;\n",
    'runtime/lifecycle/probe-cycle-b.ts': "import { a } from './probe-cycle-a';\nexport const b = () => a;\n",
    'modules/probe-runtime.ts': "import { composeWriteDecision } from '../runtime/industrial/write-decision';\nexport const probe = composeWriteDecision;\n",
  });
  const r = cruise(dir);
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, /model-imports-nothing: runtime\/model\/probe-back\.ts → runtime\/industrial\/write-decision\.ts/);
  assert.match(r.output, /trust-imports-no-industrial-or-audit: runtime\/trust\/probe-audit\.ts → runtime\/audit\/log\.ts/);
  assert.match(r.output, /no-cycles: runtime\/lifecycle\/probe-cycle-a\.ts →/);
  assert.match(r.output, /modules-import-only-model-and-errors: modules\/probe-runtime\.ts → runtime\/industrial\/write-decision\.ts/);
  assert.match(r.output, /Every layer \(and stacks\/, modules\/\) imports the model/, 'the rule\'s reason is printed');
});
