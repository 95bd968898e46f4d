/**
 * An agent whose required_safety_level exceeds its zone's security level: the configuration verdict that `glimmer run`,
 * `make synth` and the threat model share. Such a configuration is accepted with a warning and the agent starts held
 * (PAUSED by its supervisor) until the levels agree, because that is what the seed's safety_integrity_check orders at
 * every evaluation anyway. Refusing it would stop the whole swarm (the Industrial agent with its shutdowns included)
 * for one misplaced agent; starting it ACTIVE would let it run until the first rule evaluation, and in a pod without a
 * reachable Cognitive agent for good.
 */
import { GlimmerError } from '../errors';
import type { AgentSpec, RuntimeConfig, Zone } from './types';

export interface SafetyLevelShortfall {
  readonly agent: string;
  readonly zone: string;
  readonly required: number;
  readonly zoneLevel: number;
}

/** The pod annotation `make synth` puts on such an agent's workload (the message says why). */
export const STARTS_HELD_ANNOTATION = 'glimmer.io/starts-held';

/** The holder name of a hold the configuration itself places (beside the ordering agents' names). */
export const CONFIGURATION_HOLDER = 'configuration';

export function safetyLevelShortfall(agent: Pick<AgentSpec, 'name' | 'zone' | 'required_safety_level'>, zones: readonly Pick<Zone, 'name' | 'security_level'>[]): SafetyLevelShortfall | undefined {
  const zoneLevel = zones.find((z) => z.name === agent.zone)?.security_level ?? 0;
  return agent.required_safety_level > zoneLevel ? { agent: agent.name, zone: agent.zone, required: agent.required_safety_level, zoneLevel } : undefined;
}

export function safetyLevelShortfalls(config: { readonly agents: readonly Pick<AgentSpec, 'name' | 'zone' | 'required_safety_level'>[]; readonly zones: readonly Pick<Zone, 'name' | 'security_level'>[] }): SafetyLevelShortfall[] {
  return config.agents.flatMap((a) => safetyLevelShortfall(a, config.zones) ?? []);
}

/** The one sentence all three tools print for a shortfall. */
export function shortfallMessage(s: SafetyLevelShortfall): string {
  return `agent ${s.agent} requires safety level ${s.required} but zone ${s.zone} provides ${s.zoneLevel}: it starts held (PAUSED) and stays held until the zone's level or its required level is changed so that they agree (safety_integrity_check)`;
}

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
