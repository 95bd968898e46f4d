/**
 * What each agent pod of a synthesized runtime stack receives, evaluated by the real terraform with a var file: its
 * command arguments, environment, and every mounted file (ConfigMap data, projected into its paths), plus the Secrets
 * it mounts (their content is the operator's, never in Terraform). The deployment rehearsal runs these as hosts; the
 * tests check them against the runtime's contract. Reads the stack's cdk.tf.json object, never declares it again.
 */
import path from 'node:path';
import type { TfJson } from './helpers';
import { manifests } from './helpers';
import type { TerraformSandbox } from './terraform';

export interface RenderedWorkload {
  readonly agent: string;
  readonly zone: string;
  readonly kind: string;
  readonly replicas: number;
  readonly image: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Absolute path in the container -> file content. */
  readonly files: Readonly<Record<string, string>>;
  /** Secrets the pod mounts: where, which Secret, whether the pod starts without it. */
  readonly secrets: ReadonlyArray<{ mountPath: string; secretName: string; optional: boolean }>;
  /** Mount path of the state volume claim (the audit store lives below it). */
  readonly stateMountPath: string;
  readonly annotations: Readonly<Record<string, string>>;
}

interface Volume { name: string; configMap?: { name: string }; projected?: { sources: Array<{ configMap: { name: string; items?: Array<{ key: string; path: string }> } }> }; secret?: { secretName: string; optional?: boolean } }
interface Container { image: string; args: string[]; env: Array<{ name: string; value: string }>; volumeMounts: Array<{ name: string; mountPath: string }> }
interface StatefulSetSpec {
  replicas: number;
  volumeClaimTemplates: Array<{ metadata: { name: string } }>;
  template: { metadata: { annotations: Record<string, string> }; spec: { containers: Container[]; volumes: Volume[] } };
}

export function renderWorkloads(sandbox: TerraformSandbox, stack: TfJson, varFiles: readonly string[]): RenderedWorkload[] {
  const all = manifests(stack);
  const sets = all.filter((m) => m.manifest.kind === 'StatefulSet');
  const configMaps = new Map(all.filter((m) => m.manifest.kind === 'ConfigMap').map((m) => [`${m.manifest.metadata.namespace}/${m.manifest.metadata.name}`, m.manifest.data as Record<string, string>]));
  const expressions: Record<string, unknown> = {};
  sets.forEach((s, i) => {
    const spec = s.manifest.spec as StatefulSetSpec;
    const ns = s.manifest.metadata.namespace as string;
    const c = spec.template.spec.containers[0] as Container;
    const files: Record<string, string> = {};
    for (const v of spec.template.spec.volumes) {
      const mount = c.volumeMounts.find((m) => m.name === v.name)?.mountPath;
      if (!mount) continue;
      const sources = v.configMap ? [{ configMap: { name: v.configMap.name, items: undefined } }] : (v.projected?.sources ?? []);
      for (const src of sources) {
        const data = configMaps.get(`${ns}/${src.configMap.name}`) ?? {};
        const items = src.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
        for (const item of items) files[path.posix.join(mount, item.path)] = data[item.key] as string;
      }
    }
    expressions[`w${i}`] = {
      image: c.image,
      args: c.args,
      env: Object.fromEntries(c.env.map((e) => [e.name, e.value])),
      files,
      secrets: spec.template.spec.volumes.filter((v) => v.secret).map((v) => ({ mountPath: c.volumeMounts.find((m) => m.name === v.name)?.mountPath ?? '', secretName: v.secret!.secretName, optional: v.secret!.optional === true })),
      annotations: spec.template.metadata.annotations,
      replicas: spec.replicas,
    };
  });
  const values = sandbox.render(stack, expressions, varFiles) as Record<string, Omit<RenderedWorkload, 'agent' | 'zone' | 'kind' | 'stateMountPath'>>;
  return sets.map((s, i) => {
    const spec = s.manifest.spec as StatefulSetSpec;
    const c = spec.template.spec.containers[0] as Container;
    const claim = spec.volumeClaimTemplates[0]?.metadata.name;
    return {
      ...(values[`w${i}`] as Omit<RenderedWorkload, 'agent' | 'zone' | 'kind' | 'stateMountPath'>),
      agent: s.manifest.metadata.name,
      zone: s.manifest.metadata.namespace as string,
      kind: (s.manifest.metadata.labels ?? {})['app.kubernetes.io/component'] as string,
      stateMountPath: c.volumeMounts.find((m) => m.name === claim)?.mountPath ?? '',
    };
  });
}
