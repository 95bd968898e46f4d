/**
 * What the stacks read from the repository, once, at synth: the runtime configuration (through the runtime's own
 * loader, so the mesh, the NetworkPolicies and the runtime enforce one zone model), cognitive.yml, the rule and
 * policy files, and the Prometheus alert rules. Modules receive all of it as props.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { DEFAULT_CONFIG_FILE, loadConfig, readStructured, REPO_ROOT } from '../runtime/config/load';
import type { RuntimeConfig } from '../runtime/config/types';
import { GlimmerError } from '../runtime/errors';
import type { FileSet } from '../modules/runtime-config-maps';
import type { AlertRuleGroup } from '../modules/runtime-monitoring';
import type { ZoneModel, ZoneSpec } from '../modules/zone-model';

export interface StackInputs {
  readonly config: RuntimeConfig;
  /** config/glimmer.yml as written (validated by loadConfig), for the runtime's ConfigMap. */
  readonly rawConfig: Readonly<Record<string, unknown>>;
  readonly cognitiveYml: string;
  readonly fileSets: readonly FileSet[];
  readonly ruleGroups: readonly AlertRuleGroup[];
}

export interface InputPaths {
  /** @default config/glimmer.yml */
  readonly configFile?: string;
  /** @default rules/ */
  readonly rulesDir?: string;
  /** @default monitoring/prometheus/custom_rules.yml (skipped when absent) */
  readonly alertRulesFile?: string;
}

const MOUNT_ROOT = '/etc/glimmer';

function filesIn(dir: string, accept: (name: string) => boolean): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.isFile() && accept(entry.name)) out[entry.name] = fs.readFileSync(path.join(dir, entry.name), 'utf8');
  }
  return out;
}

/** Where the pods find the rules tree: the repository's `rules/` layout (GLIMMER_RULES_DIR). */
export const RULES_MOUNT = `${MOUNT_ROOT}/rules`;

/**
 * rules/*.pl -> glimmer-rules; rules/policies/* -> glimmer-policies; any other rules/<dir>/* -> glimmer-rules-<dir>.
 * All mount at RULES_MOUNT, each set in its own subdirectory, so the pod sees the repository's tree.
 */
export function ruleFileSets(rulesDir: string): FileSet[] {
  const sets: FileSet[] = [
    { name: 'glimmer-rules', mountPath: RULES_MOUNT, files: filesIn(rulesDir, (n) => n.endsWith('.pl')) },
    { name: 'glimmer-policies', mountPath: RULES_MOUNT, subdirectory: 'policies', files: filesIn(path.join(rulesDir, 'policies'), (n) => !n.startsWith('.')) },
  ];
  if (fs.existsSync(rulesDir)) {
    for (const d of fs.readdirSync(rulesDir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (!d.isDirectory() || d.name === 'policies' || !/^[a-z0-9-]{1,40}$/.test(d.name)) continue;
      sets.push({ name: `glimmer-rules-${d.name}`, mountPath: RULES_MOUNT, subdirectory: d.name, files: filesIn(path.join(rulesDir, d.name), (n) => !n.startsWith('.')) });
    }
  }
  return sets;
}

export function loadAlertRuleGroups(file: string): AlertRuleGroup[] {
  if (!fs.existsSync(file)) return [];
  let doc: unknown;
  try {
    doc = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new GlimmerError('GLM_ERR_INFRA_ALERT_RULES_INVALID', `${file}: not valid YAML`, { cause: err });
  }
  const groups = (doc as { groups?: unknown } | null)?.groups;
  if (!Array.isArray(groups) || !groups.every((g) => g && typeof g.name === 'string' && Array.isArray(g.rules))) {
    throw new GlimmerError('GLM_ERR_INFRA_ALERT_RULES_INVALID', `${file}: must hold groups: [{name, rules: [...]}, ...]`);
  }
  return groups as AlertRuleGroup[];
}

export function loadStackInputs(paths: InputPaths = {}): StackInputs {
  const configFile = paths.configFile ?? DEFAULT_CONFIG_FILE;
  const config = loadConfig(configFile);
  return {
    config,
    rawConfig: readStructured(config.file) as Record<string, unknown>,
    cognitiveYml: fs.readFileSync(config.cognitive.file, 'utf8'),
    fileSets: ruleFileSets(paths.rulesDir ?? path.join(REPO_ROOT, 'rules')),
    ruleGroups: loadAlertRuleGroups(paths.alertRulesFile ?? path.join(REPO_ROOT, 'monitoring', 'prometheus', 'custom_rules.yml')),
  };
}

/**
 * The zone model the constructs receive. Like the runtime's loader, the zone named `safety` takes the safety zone
 * level, here the Terraform variable (a token) so `-var safety_zone_level=4` relabels it.
 */
export function zoneModelOf(config: RuntimeConfig, safetyZoneLevel: number | string): ZoneModel {
  const zones: ZoneSpec[] = config.zones.map((z) => ({
    name: z.name,
    isa95Level: z.isa95_level,
    securityLevel: z.name === 'safety' ? safetyZoneLevel : z.security_level,
  }));
  return {
    zones,
    conduits: config.conduits.map((c) => ({ from: c.from, to: c.to, protocols: c.protocols as ZoneModel['conduits'][number]['protocols'] })),
    agents: config.agents.map((a) => ({ name: a.name, kind: a.kind, zone: a.zone })),
    trustDomain: config.topology.trust_domain,
  };
}
