/**
 * The real terraform binary on synthesized stacks, offline: only variables, outputs and built-in resources
 * (`terraform_data`) are planned, so no provider is downloaded. Shared by the variable, var-file and rendering checks.
 * `render` evaluates any synthesized expression (a pod's env, args, mounted files) with a set of variable values by
 * applying a config of the stack's `variable` blocks and one `output` per expression: what the pod would receive.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TfJson } from './helpers';

export interface TerraformRun {
  readonly status: number | null;
  /** stdout + stderr, box-drawing removed and whitespace collapsed (messages are matched as one line). */
  readonly output: string;
  readonly stdout: string;
}

export class TerraformSandbox {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-tf-'));
  private readonly cliConfig = path.join(this.root, 'terraformrc');
  private readonly dirs = new Map<string, string>();
  private seq = 0;

  constructor() {
    fs.writeFileSync(this.cliConfig, '');
  }

  dispose(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  run(dir: string, args: string[]): TerraformRun {
    const r = spawnSync('terraform', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, TF_CLI_CONFIG_FILE: this.cliConfig, TF_IN_AUTOMATION: '1', TF_INPUT: '0' } });
    assert.ok(!r.error, `cannot run terraform (${String(r.error)}): these checks need the terraform >= 1.9 binary on PATH`);
    const output = `${r.stdout}${r.stderr}`.replace(/[│╷╵]/g, ' ').replace(/\s+/g, ' ');
    return { status: r.status, output, stdout: r.stdout };
  }

  /** A directory holding `config` as main.tf.json, initialised. */
  dir(config: unknown, name = `cfg-${this.seq++}`): string {
    const dir = path.join(this.root, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify(config, null, 2));
    const init = this.run(dir, ['init', '-input=false', '-no-color', '-backend=false']);
    assert.equal(init.status, 0, init.output);
    return dir;
  }

  /** The stack's `variable` blocks and a terraform_data reading each, initialised once per stack. */
  variablesOnly(name: string, stack: TfJson): string {
    const existing = this.dirs.get(name);
    if (existing) return existing;
    const variable = stack.variable ?? {};
    const input = Object.fromEntries(Object.keys(variable).map((v) => [v, `\${var.${v}}`]));
    const dir = this.dir({ variable, resource: { terraform_data: { probe: { input } } } }, `vars-${name}`);
    this.dirs.set(name, dir);
    return dir;
  }

  plan(name: string, stack: TfJson, vars: Record<string, string>, varFiles: readonly string[] = []): TerraformRun {
    const args = ['plan', '-input=false', '-no-color', '-lock=false', ...varFiles.map((f) => `-var-file=${f}`), ...Object.entries(vars).flatMap(([k, v]) => ['-var', `${k}=${v}`])];
    return this.run(this.variablesOnly(name, stack), args);
  }

  /**
   * Evaluates `expressions` (synthesized values, literal or `${...}`) against the stack's variables, with the given
   * var files and -var values. Returns each expression's value as Terraform computes it.
   */
  render(stack: TfJson, expressions: Record<string, unknown>, varFiles: readonly string[] = [], vars: Record<string, string> = {}): Record<string, unknown> {
    const output = Object.fromEntries(Object.entries(expressions).map(([k, v]) => [k, { value: v }]));
    const dir = this.dir({ variable: stack.variable ?? {}, output });
    const args = ['apply', '-auto-approve', '-input=false', '-no-color', '-lock=false', ...varFiles.map((f) => `-var-file=${f}`), ...Object.entries(vars).flatMap(([k, v]) => ['-var', `${k}=${v}`])];
    const apply = this.run(dir, args);
    assert.equal(apply.status, 0, apply.output);
    const out = this.run(dir, ['output', '-json']);
    assert.equal(out.status, 0, out.output);
    const parsed = JSON.parse(out.stdout) as Record<string, { value: unknown }>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v.value]));
  }
}
