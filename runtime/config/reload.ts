/**
 * What a running swarm takes from a reloaded configuration (SIGHUP in `glimmer run`): the safety levels only, so the
 * holds of safety_integrity_check follow a level change without a restart.
 */
import { GlimmerError } from '../errors';
import type { RuntimeConfig } from './types';

/**
 * What a reload may change in a running swarm: the zone security levels (topology.safety_zone_level included) and the
 * agents' required levels. Returns those changes ("zone dmz: 2 -> 4"), or throws GLM_ERR_CONFIG_RELOAD_REFUSED naming
 * the first other difference, so a reload is applied whole or not at all.
 */
export function levelChanges(current: RuntimeConfig, next: RuntimeConfig): string[] {
  const strip = (c: RuntimeConfig) => ({
    ...c,
    topology: { ...c.topology, safety_zone_level: 0 },
    zones: c.zones.map((z) => ({ ...z, security_level: 0 })),
    agents: c.agents.map((a) => ({ ...a, required_safety_level: 0 })),
  });
  const a = strip(current) as unknown as Record<string, unknown>;
  const b = strip(next) as unknown as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) {
      throw new GlimmerError('GLM_ERR_CONFIG_RELOAD_REFUSED', `${next.file}: at /${key}: changed; a running swarm reloads only zone security levels and required safety levels (restart for anything else)`);
    }
  }
  const changes: string[] = [];
  next.zones.forEach((z, i) => {
    const was = current.zones[i]?.security_level;
    if (was !== z.security_level) changes.push(`zone ${z.name}: security level ${String(was)} -> ${z.security_level}`);
  });
  next.agents.forEach((ag, i) => {
    const was = current.agents[i]?.required_safety_level;
    if (was !== ag.required_safety_level) changes.push(`agent ${ag.name}: required safety level ${String(was)} -> ${ag.required_safety_level}`);
  });
  return changes;
}
