/**
 * What Terraform would send to the cluster: every `kubernetes_manifest` of a synthesized stack (cdk.tf.json), evaluated
 * by the real `terraform` binary with the given variables. The module holds only the stack's `variable` blocks and one
 * output per manifest, so no provider is needed and nothing is applied anywhere; interpolations, functions
 * (jsonencode, sha256, lookup, ...) and variable validations run exactly as in a `cdktf deploy`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface K8sManifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [key: string]: unknown;
}

interface StackJson {
  readonly variable?: Record<string, unknown>;
  readonly resource?: Record<string, Record<string, { manifest?: unknown }>>;
}

/** A `-var` value in HCL syntax for any JSON value (strings quoted and escaped, objects as `{k = v}`). */
export function hclValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value).replace(/\$\{/g, '$$${').replace(/%\{/g, '%%{');
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(hclValue).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${JSON.stringify(k)} = ${hclValue(v)}`).join(', ')}}`;
}

export function renderManifests(stackFile: string, vars: Record<string, unknown>, workDir: string): K8sManifest[] {
  const stack = JSON.parse(fs.readFileSync(stackFile, 'utf8')) as StackJson;
  const manifests = Object.values(stack.resource?.kubernetes_manifest ?? {}).map((r) => r.manifest);
  const dir = path.join(workDir, path.basename(path.dirname(stackFile)));
  fs.mkdirSync(dir, { recursive: true });
  const output = Object.fromEntries(manifests.map((m, i) => [`m${i}`, { value: m }]));
  fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify({ variable: stack.variable ?? {}, output }));
  const declared = new Set(Object.keys(stack.variable ?? {}));
  const args = Object.entries(vars).filter(([k]) => declared.has(k)).flatMap(([k, v]) => ['-var', `${k}=${typeof v === 'string' ? v : hclValue(v)}`]);
  const env = { ...process.env, TF_CLI_CONFIG_FILE: path.join(dir, 'terraformrc'), TF_IN_AUTOMATION: '1', TF_INPUT: '0', TF_DATA_DIR: path.join(dir, '.terraform') };
  fs.writeFileSync(env.TF_CLI_CONFIG_FILE, '');
  const run = (a: string[]) => {
    const r = spawnSync('terraform', a, { cwd: dir, encoding: 'utf8', env, maxBuffer: 256 * 1024 * 1024 });
    if (r.error || r.status !== 0) throw new Error(`terraform ${a[0]} in ${dir} failed: ${String(r.error ?? '')}${r.stderr}${r.stdout.slice(-1500)}`.slice(0, 4000));
    return r.stdout;
  };
  run(['init', '-input=false', '-no-color', '-backend=false']);
  run(['apply', '-auto-approve', '-input=false', '-no-color', '-lock=false', `-state=${path.join(dir, 'terraform.tfstate')}`, ...args]);
  const out = JSON.parse(run(['output', '-json', `-state=${path.join(dir, 'terraform.tfstate')}`])) as Record<string, { value: K8sManifest }>;
  return manifests.map((_, i) => (out[`m${i}`] as { value: K8sManifest }).value);
}
