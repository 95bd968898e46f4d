/**
 * Where the rule files (`*.pl`, `policies/*.cedar`, `compliance/*.pl`) are read from: the release's rules/ by default;
 * in a pod, the mounted ConfigMaps named by GLIMMER_RULES_DIR, pinned file by file by GLIMMER_RULES_SHA256
 * (`<path relative to the rules dir>=<sha256>,...`). Mounted rule files are outside the signed release manifest, so
 * measured boot checks each against its pin and refuses an unpinned one (GLM_ERR_BOOT_ARTIFACT_MISSING).
 */
import path from 'node:path';
import { GlimmerError, quote } from '../errors';
import { REPO_ROOT } from './load';

export const RULES_DIR_ENV = 'GLIMMER_RULES_DIR';
export const RULES_PINS_ENV = 'GLIMMER_RULES_SHA256';

type Env = Readonly<Record<string, string | undefined>>;

/** The rules directory (absolute). */
export function rulesDir(env: Env = process.env): string {
  const dir = env[RULES_DIR_ENV];
  if (dir === undefined || dir === '') return path.join(REPO_ROOT, 'rules');
  if (!path.isAbsolute(dir)) throw new GlimmerError('GLM_ERR_CLUSTER_CONFIG_INVALID', `${RULES_DIR_ENV}=${quote(dir)} must be an absolute path`);
  return path.normalize(dir);
}

/** A rule file as measured boot names it: `rules/<rel>` in the release, the absolute path when mounted. */
export function ruleArtifact(rel: string, env: Env = process.env): string {
  return env[RULES_DIR_ENV] ? path.join(rulesDir(env), rel) : `rules/${rel}`;
}

const ENTRY = /^((?:[A-Za-z0-9._-]{1,128}\/){0,4}[A-Za-z0-9._-]{1,128})=([0-9a-f]{64})$/;

/** GLIMMER_RULES_SHA256 as pins keyed by the absolute path of each mounted file ({} when unset). */
export function rulesPins(env: Env = process.env): Record<string, string> {
  const text = env[RULES_PINS_ENV];
  if (text === undefined || text.trim() === '') return {};
  const dir = rulesDir(env);
  const pins: Record<string, string> = {};
  for (const raw of text.split(',')) {
    const m = ENTRY.exec(raw.trim());
    if (!m || m[1]?.split('/').some((p) => p === '.' || p === '..')) {
      throw new GlimmerError('GLM_ERR_BOOT_CONFIG_PIN_INVALID', `${RULES_PINS_ENV} entry ${quote(raw.trim(), 160)} is not <relative path>=<64 lowercase hex digits>`);
    }
    const file = path.join(dir, m[1] as string);
    if (file in pins) throw new GlimmerError('GLM_ERR_BOOT_CONFIG_PIN_INVALID', `${RULES_PINS_ENV} pins ${quote(m[1])} twice`);
    pins[file] = m[2] as string;
  }
  return pins;
}
