/**
 * Shared by the infrastructure tests: the stacks of both topologies synthesized once per test process
 * (cdktf `Testing.synth`), and assertions in the style of cdktf's `toHaveResourceWithProperties` on the parsed JSON.
 */
import assert from 'node:assert/strict';
import { addStacks } from '../../stacks/app';
import { loadStackInputs, type StackInputs } from '../../stacks/inputs';
import { App, Testing, type TerraformStack } from '../../modules/tf';

export type TfJson = {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  variable?: Record<string, Record<string, unknown>>;
  output?: Record<string, Record<string, unknown>>;
  provider?: Record<string, unknown>;
  terraform?: Record<string, unknown>;
};

let cached: { inputs: StackInputs; stacks: Record<string, TfJson>; text: Record<string, string> } | undefined;

/** All five stacks (cloud, cloud-platform, cloud-runtime, edge, edge-runtime), synthesized once. */
export function synthAll(): { inputs: StackInputs; stacks: Record<string, TfJson>; text: Record<string, string> } {
  if (cached) return cached;
  // cdktf captures a stack trace for every token; with tsx's source maps each costs ~100x more. Off while synthesizing.
  const sourceMaps = process.sourceMapsEnabled;
  process.setSourceMapsEnabled(false);
  try {
    cached = synthesize();
  } finally {
    process.setSourceMapsEnabled(sourceMaps);
  }
  return cached;
}

function synthesize(): { inputs: StackInputs; stacks: Record<string, TfJson>; text: Record<string, string> } {
  const inputs = loadStackInputs();
  const app = new App({ outdir: '/nonexistent-never-written', stackTraces: false });
  addStacks(app, { topology: 'all', inputs });
  const stacks: Record<string, TfJson> = {};
  const text: Record<string, string> = {};
  for (const child of app.node.children) {
    const json = Testing.synth(child as TerraformStack);
    text[child.node.id] = json;
    stacks[child.node.id] = JSON.parse(json) as TfJson;
  }
  return { inputs, stacks, text };
}

export function resources(stack: TfJson, type: string): Array<[string, Record<string, unknown>]> {
  return Object.entries(stack.resource?.[type] ?? {});
}

/** Deep partial match: every key of `expected` is in `actual` with a matching value (arrays element-wise). */
export function matches(actual: unknown, expected: unknown): boolean {
  if (expected !== null && typeof expected === 'object') {
    if (Array.isArray(expected)) {
      return Array.isArray(actual) && expected.length === actual.length && expected.every((e, i) => matches(actual[i], e));
    }
    if (actual === null || typeof actual !== 'object') return false;
    return Object.entries(expected).every(([k, v]) => matches((actual as Record<string, unknown>)[k], v));
  }
  return actual === expected;
}

/** Like cdktf's toHaveResourceWithProperties: returns the matching resources, fails if there is none. */
export function assertResource(stack: TfJson, type: string, properties: Record<string, unknown>): Array<[string, Record<string, unknown>]> {
  const found = resources(stack, type).filter(([, r]) => matches(r, properties));
  assert.ok(found.length > 0, `no ${type} with ${JSON.stringify(properties)}; have ${JSON.stringify(resources(stack, type).map(([id]) => id))}`);
  return found;
}

/** The single resource of a type whose logical id starts with `prefix`. */
export function one(stack: TfJson, type: string, prefix: string): Record<string, unknown> {
  const found = resources(stack, type).filter(([id]) => id.startsWith(prefix));
  assert.equal(found.length, 1, `expected one ${type} ${prefix}*, found ${found.map(([id]) => id).join(', ')}`);
  return (found[0] as [string, Record<string, unknown>])[1];
}

export interface K8sManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** The Kubernetes objects (kubernetes_manifest) of a stack, with their logical ids. */
export function manifests(stack: TfJson): Array<{ id: string; resource: Record<string, unknown>; manifest: K8sManifest }> {
  return resources(stack, 'kubernetes_manifest').map(([id, r]) => ({ id, resource: r, manifest: r.manifest as K8sManifest }));
}

export function findManifest(stack: TfJson, kind: string, name: string, namespace?: string): K8sManifest {
  const found = manifests(stack).filter((m) => m.manifest.kind === kind && m.manifest.metadata.name === name && (namespace === undefined || m.manifest.metadata.namespace === namespace));
  assert.equal(found.length, 1, `expected one ${kind} ${namespace ?? '*'}/${name}, found ${found.length}`);
  return (found[0] as { manifest: K8sManifest }).manifest;
}

/**
 * Parses a resource's JSON policy document (IAM, KMS, S3). Terraform interpolations inside it (`${format("...")}`)
 * may hold double quotes, which Terraform evaluates before the JSON exists; they are made JSON-safe first.
 */
export function policyOf(resource: Record<string, unknown>, key = 'policy'): { Statement: Array<Record<string, unknown>> } {
  const text = resource[key] as string;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '{') {
      let depth = 0;
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}' && --depth === 0) break;
      }
      out += text.slice(i, j + 1).replace(/"/g, "'");
      i = j;
    } else {
      out += text[i];
    }
  }
  return JSON.parse(out) as { Statement: Array<Record<string, unknown>> };
}

export const CLOUD_STACKS = ['cloud', 'cloud-platform', 'cloud-runtime'] as const;
export const EDGE_STACKS = ['edge', 'edge-runtime'] as const;
export const K8S_STACKS = ['cloud-platform', 'cloud-runtime', 'edge', 'edge-runtime'] as const;

/**
 * Whether the logical-id snapshot is to be rewritten (GLIMMER_UPDATE_SNAPSHOT=1). Refused when CI is set: there the
 * switch would only make the comparison pass; an update is a reviewed, committed change.
 */
export function snapshotUpdateRequested(env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.GLIMMER_UPDATE_SNAPSHOT !== '1') return false;
  if (env.CI) throw new Error(`GLIMMER_UPDATE_SNAPSHOT=1 is refused under CI (CI=${env.CI}): update the snapshot locally and commit it`);
  return true;
}
