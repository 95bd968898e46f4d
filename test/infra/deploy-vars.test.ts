/**
 * Per-stack variable sets, checked by the real terraform against what each synthesized stack declares: the example
 * var file of every stack (deploy/tfvars/<stack>.tfvars.json) plans cleanly, and every `cdktf deploy` command the docs
 * give names one stack, that stack's var file and only variables it declares. (Terraform refuses a `-var` for an
 * undeclared variable, so `cdktf deploy edge edge-runtime --var runtime_image=...` fails on `edge`.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { STACKS } from '../../stacks/app';
import { synthAll } from './helpers';
import { TerraformSandbox } from './terraform';

const ROOT = path.resolve(__dirname, '..', '..');
const { stacks } = synthAll();
const sandbox = new TerraformSandbox();
test.after(() => sandbox.dispose());
const varFile = (stack: string) => path.join(ROOT, 'deploy', 'tfvars', `${stack}.tfvars.json`);
const ALL = [...STACKS.edge, ...STACKS.cloud];

for (const stack of ALL) {
  test(`GIVEN deploy/tfvars/${stack}.tfvars.json WHEN terraform plans ${stack}'s variables with it THEN every value is accepted, none is undeclared, and every required variable is set`, () => {
    const values = JSON.parse(fs.readFileSync(varFile(stack), 'utf8')) as Record<string, unknown>;
    const declared = stacks[stack]!.variable ?? {};
    for (const name of Object.keys(values)) assert.ok(name in declared, `${stack} does not declare ${name}`);
    for (const [name, v] of Object.entries(declared)) if (!('default' in v)) assert.ok(name in values, `${stack}: required variable ${name} missing from its var file`);
    const r = sandbox.plan(stack, stacks[stack]!, {}, [varFile(stack)]);
    assert.equal(r.status, 0, r.output);
    assert.ok(!/undeclared variable/i.test(r.output), r.output);
  });
}

test('GIVEN the command the docs used to give (several stacks, one -var for all) WHEN terraform plans the edge stack with runtime_image THEN it refuses the undeclared variable', () => {
  const r = sandbox.plan('edge', stacks.edge!, { runtime_image: 'registry.example/glimmer/runtime@sha256:' + '0'.repeat(64) }, [varFile('edge')]);
  assert.equal(r.status, 1);
  assert.match(r.output, /Value for undeclared variable/);
});

test('GIVEN every `cdktf deploy` command in the README and docs WHEN read THEN each names one stack, that stack\'s var file, and only -var names the stack declares', () => {
  const files = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  let seen = 0;
  for (const file of files) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/cdktf deploy ([^\n`]*)/g)) {
      const words = (m[1] ?? '').trim().split(/\s+/);
      const stacksNamed = words.slice(0, words.findIndex((w) => w.startsWith('-')) === -1 ? words.length : words.findIndex((w) => w.startsWith('-')));
      assert.equal(stacksNamed.length, 1, `${file}: "cdktf deploy ${m[1]}" must name exactly one stack`);
      const stack = stacksNamed[0]!;
      assert.ok(ALL.includes(stack as never), `${file}: unknown stack ${stack}`);
      assert.ok(words.includes(`--var-file=deploy/tfvars/${stack}.tfvars.json`), `${file}: "cdktf deploy ${m[1]}" must pass deploy/tfvars/${stack}.tfvars.json`);
      for (const v of (m[1] ?? '').matchAll(/--var "?([a-z_]+)=/g)) assert.ok(v[1]! in (stacks[stack]!.variable ?? {}), `${file}: ${stack} does not declare ${v[1]}`);
      seen++;
    }
  }
  assert.ok(seen >= 7, `expected the deploy walkthrough's commands, found ${seen}`);
});

test('GIVEN docs/deploy.md WHEN the walkthrough is read THEN it deploys each topology\'s stacks in dependency order, with the CloudHSM ceremony between the first cloud deploy and the key store', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'deploy.md'), 'utf8');
  const order = [...doc.matchAll(/cdktf deploy ([a-z-]+)/g)].map((m) => m[1]!);
  const first = (s: string) => order.indexOf(s);
  assert.ok(first('edge') < first('edge-runtime'));
  assert.ok(first('cloud') < first('cloud-platform') && first('cloud-platform') < first('cloud-runtime'));
  const ceremony = ['initialize-cluster', 'cluster activate', 'user create --username kmsuser', 'connect-custom-key-store'].map((s) => doc.indexOf(s));
  assert.ok(ceremony.every((i) => i > 0) && ceremony.every((i, k) => k === 0 || i > ceremony[k - 1]!), 'ceremony steps in order');
  assert.ok(doc.indexOf('cloudhsm_stage=KEY_STORE') > ceremony[2]! && doc.indexOf('cloudhsm_stage=KEYS') > ceremony[3]!);
  assert.ok((doc.match(/\bcheck\b/gi) ?? []).length >= 12, 'every step has its check');
});
