/** docs/infrastructure.md documents every variable, output, construct and construct prop the code has. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { synthAll } from './helpers';

const ROOT = path.resolve(__dirname, '..', '..');
const doc = fs.readFileSync(path.join(ROOT, 'docs', 'infrastructure.md'), 'utf8');
const modules = fs.readdirSync(path.join(ROOT, 'modules')).filter((f) => f.endsWith('.ts'));

test('GIVEN the synthesized stacks WHEN docs/infrastructure.md is read THEN every variable and output is documented', () => {
  const { stacks } = synthAll();
  for (const [name, s] of Object.entries(stacks)) {
    for (const v of Object.keys(s.variable ?? {})) assert.ok(doc.includes(`\`${v}\``), `${name}: variable ${v} is not documented`);
    for (const o of Object.keys(s.output ?? {})) assert.ok(doc.includes(`\`${o}\``), `${name}: output ${o} is not documented`);
  }
});

test('GIVEN the constructs in modules/ WHEN docs/infrastructure.md is read THEN each construct and each of its props is documented', () => {
  let constructs = 0;
  for (const file of modules) {
    const src = fs.readFileSync(path.join(ROOT, 'modules', file), 'utf8');
    for (const m of src.matchAll(/export class (\w+) extends Construct/g)) {
      constructs++;
      assert.ok(doc.includes(`\`${m[1]}\` (${file})`), `construct ${m[1]} (${file}) is not in the props table`);
    }
    for (const iface of src.matchAll(/export interface (\w+Props) \{([\s\S]*?)\n\}/g)) {
      for (const prop of (iface[2] ?? '').matchAll(/^\s+readonly (\w+)\??:/gm)) {
        assert.ok(doc.includes(`\`${prop[1]}\``), `${iface[1]}.${prop[1]} (${file}) is not documented`);
      }
    }
  }
  assert.ok(constructs >= 18);
});

test('GIVEN the docs WHEN read THEN they state what cannot run offline, the CI recipe, and that Istio PQC is ML-KEM-768', () => {
  assert.match(doc, /terraform init -backend=false && terraform validate/);
  assert.ok(fs.existsSync(path.join(ROOT, '.github', 'workflows', 'terraform-validate.yml')));
  assert.match(doc, /X25519MLKEM768, i\.e\.\s+ML-KEM-768/);
});
