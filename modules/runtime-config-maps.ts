/**
 * The runtime's ConfigMaps in one zone namespace: `glimmer-config` (glimmer.yml and cognitive.yml) and one ConfigMap
 * per file set (rules, policies). File contents are escaped so Terraform never interpolates them.
 */
import crypto from 'node:crypto';
import { Construct } from 'constructs';
import type { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
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

export interface MountedConfigMap {
  readonly name: string;
  readonly mountPath: string;
}

export class RuntimeConfigMaps extends Construct {
  readonly objects: Manifest[] = [];
  /** What an agent mounts: glimmer-config first, then the file sets. */
  readonly mounts: MountedConfigMap[] = [];
  /**
   * GLIMMER_CONFIG_SHA256 for the agents that mount glimmer-config: the sha256 of each file as the pod will read it
   * (computed by Terraform when glimmer.yml is a token, so variables are part of the pin).
   */
  readonly configPins: string;

  constructor(scope: Construct, id: string, props: RuntimeConfigMapsProps) {
    super(scope, id);
    checkPattern('RuntimeConfigMaps', 'namespace', props.namespace, DNS_LABEL, 'a Kubernetes namespace name');
    const labels = { [LABELS.name]: 'glimmer', [LABELS.partOf]: 'glimmer' };
    const configMap = (name: string, data: Record<string, string>) => {
      checkPattern('RuntimeConfigMaps', 'name', name, DNS_LABEL, 'a Kubernetes object name');
      let bytes = 0;
      for (const [key, value] of Object.entries(data)) {
        if (!KEY.test(key)) invalidProp('RuntimeConfigMaps', `${name} file name`, key, 'letters, digits, -, _ and . (no directories)');
        if (!isUnresolved(value)) bytes += Buffer.byteLength(value);
      }
      if (bytes > CONFIGMAP_MAX_BYTES) invalidProp('RuntimeConfigMaps', `${name} size`, bytes, `at most ${CONFIGMAP_MAX_BYTES} bytes`);
      this.objects.push(k8sObject(this, name, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: props.namespace, labels }, data }, { dependsOn: props.dependsOn }));
    };
    const glimmerYml = isUnresolved(props.glimmerYml) ? props.glimmerYml : escapeTemplate(props.glimmerYml);
    configMap('glimmer-config', { 'glimmer.yml': glimmerYml, 'cognitive.yml': escapeTemplate(props.cognitiveYml) });
    const glimmerSha = isUnresolved(props.glimmerYml) ? Fn.sha256(props.glimmerYml) : sha256Hex(props.glimmerYml);
    this.configPins = `glimmer.yml=${glimmerSha},cognitive.yml=${sha256Hex(props.cognitiveYml)}`;
    this.mounts.push({ name: 'glimmer-config', mountPath: props.configMountPath ?? '/etc/glimmer/config' });
    for (const set of props.fileSets ?? []) {
      if (!set.mountPath.startsWith('/')) invalidProp('RuntimeConfigMaps', `${set.name} mountPath`, set.mountPath, 'an absolute path');
      configMap(set.name, Object.fromEntries(Object.entries(set.files).map(([k, v]) => [k, isUnresolved(v) ? v : escapeTemplate(v)])));
      this.mounts.push({ name: set.name, mountPath: set.mountPath });
    }
  }
}
