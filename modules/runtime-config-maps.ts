/**
 * The runtime's ConfigMaps in one zone namespace: `glimmer-config` (glimmer.yml and cognitive.yml) and one ConfigMap
 * per file set (rules, policies). File contents are escaped so Terraform never interpolates them.
 * File sets that share a mount path become one projected volume, each set under its `subdirectory`: the rules, the
 * Cedar policies and the compliance rules appear in the pod as one tree with the repository's `rules/` layout
 * (ConfigMap keys cannot hold `/`, projected items can), and those files are pinned for measured boot.
 */
import crypto from 'node:crypto';
import { Construct } from 'constructs';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import { escapeTemplate, k8sObject } from './k8s';
import { Fn, type ITerraformDependable } from './tf';
import { checkPattern, DNS_LABEL, invalidProp, isUnresolved } from './validate';
import { LABELS } from './zone-model';

const sha256Hex = (text: string): string => crypto.createHash('sha256').update(text).digest('hex');

/** ConfigMaps hold at most 1 MiB. */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;
const KEY = /^[-._a-zA-Z0-9]{1,253}$/;

export interface FileSet {
  /** ConfigMap name. */
  readonly name: string;
  /** Where the agent container mounts it. */
  readonly mountPath: string;
  /** Directory under mountPath (sets sharing a mountPath are projected into one volume). @default '' (the root) */
  readonly subdirectory?: string;
  /** File name -> content: literal text (escaped) or a token (e.g. a variable's PEM). */
  readonly files: Readonly<Record<string, string>>;
}

export interface RuntimeConfigMapsProps {
  readonly namespace: string;
  /** glimmer.yml: literal text or a token (e.g. jsonencode of the config with topology variables). */
  readonly glimmerYml: string;
  /** cognitive.yml, literal text. */
  readonly cognitiveYml: string;
  /** Further file sets (rules, policies). @default [] */
  readonly fileSets?: readonly FileSet[];
  /** Mount path of glimmer-config. @default '/etc/glimmer/config' */
  readonly configMountPath?: string;
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

/** A volume of the pod and where the agent container mounts it (read-only). */
export interface MountedVolume {
  readonly volume: IVolume;
  readonly mountPath: string;
}

export class RuntimeConfigMaps extends Construct {
  readonly objects: Manifest[] = [];
  /** What an agent mounts: glimmer-config first, then the file sets (one volume per mount path). */
  readonly volumes: MountedVolume[] = [];
  /**
   * GLIMMER_RULES_SHA256 for the projected trees: `<path under the mount>=<sha256>` for each literal file of a set with
   * a subdirectory or sharing its mount path (the rules and policies the runtime loads).
   */
  readonly treePins: string;
  /**
   * GLIMMER_CONFIG_SHA256 for the agents that mount glimmer-config: the sha256 of each file as the pod will read it
   * (computed by Terraform when glimmer.yml is a token, so variables are part of the pin).
   */
  readonly configPins: string;

  constructor(scope: Construct, id: string, props: RuntimeConfigMapsProps) {
    super(scope, id);
    checkPattern(this, 'namespace', props.namespace, DNS_LABEL, 'a Kubernetes namespace name');
    const labels = { [LABELS.name]: 'glimmer', [LABELS.partOf]: 'glimmer' };
    const configMap = (name: string, data: Record<string, string>) => {
      checkPattern(this, 'name', name, DNS_LABEL, 'a Kubernetes object name');
      let bytes = 0;
      for (const [key, value] of Object.entries(data)) {
        if (!KEY.test(key)) invalidProp(this, `${name} file name`, key, 'letters, digits, -, _ and . (no directories)');
        if (!isUnresolved(value)) bytes += Buffer.byteLength(value);
      }
      if (bytes > CONFIGMAP_MAX_BYTES) invalidProp(this, `${name} size`, bytes, `at most ${CONFIGMAP_MAX_BYTES} bytes`);
      this.objects.push(k8sObject<IConfigMap>(this, name, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: props.namespace, labels }, data }, { dependsOn: props.dependsOn }));
    };
    const glimmerYml = isUnresolved(props.glimmerYml) ? props.glimmerYml : escapeTemplate(props.glimmerYml);
    configMap('glimmer-config', { 'glimmer.yml': glimmerYml, 'cognitive.yml': escapeTemplate(props.cognitiveYml) });
    const glimmerSha = isUnresolved(props.glimmerYml) ? Fn.sha256(props.glimmerYml) : sha256Hex(props.glimmerYml);
    this.configPins = `glimmer.yml=${glimmerSha},cognitive.yml=${sha256Hex(props.cognitiveYml)}`;
    this.volumes.push({ volume: { name: 'glimmer-config', configMap: { name: 'glimmer-config' } }, mountPath: props.configMountPath ?? '/etc/glimmer/config' });

    const byMount = new Map<string, FileSet[]>();
    for (const set of props.fileSets ?? []) {
      if (!set.mountPath.startsWith('/')) invalidProp(this, `${set.name} mountPath`, set.mountPath, 'an absolute path');
      const sub = set.subdirectory ?? '';
      if (sub !== '' && !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(sub)) invalidProp(this, `${set.name} subdirectory`, sub, 'one directory name (a-z, 0-9, _ and -)');
      configMap(set.name, Object.fromEntries(Object.entries(set.files).map(([k, v]) => [k, isUnresolved(v) ? v : escapeTemplate(v)])));
      byMount.set(set.mountPath, [...(byMount.get(set.mountPath) ?? []), set]);
    }
    const pins: string[] = [];
    for (const [mountPath, sets] of byMount) {
      const first = sets[0] as FileSet;
      if (sets.length === 1 && !first.subdirectory) {
        this.volumes.push({ volume: { name: first.name, configMap: { name: first.name } }, mountPath });
        continue;
      }
      const sources = sets.map((set) => {
        const items = Object.keys(set.files).sort().map((key) => ({ key, path: set.subdirectory ? `${set.subdirectory}/${key}` : key }));
        for (const item of items) {
          const text = set.files[item.key] as string;
          if (!isUnresolved(text)) pins.push(`${item.path}=${sha256Hex(text)}`);
        }
        return { configMap: { name: set.name, items } };
      });
      this.volumes.push({ volume: { name: first.name, projected: { sources } }, mountPath });
    }
    this.treePins = pins.join(',');
  }
}
