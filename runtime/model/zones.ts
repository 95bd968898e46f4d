/**
 * Zone rules every layer applies to the same zone model (IEC 62443 zones and conduits on ISA-95 levels): the runtime's
 * configuration loader (`glimmer run`), the stacks' constructs (`make synth`) and the threat model. One home, so the
 * three cannot disagree on a configuration.
 *
 * The DMZ rule. ISA-95 places the enterprise at level 4 and manufacturing operations and control at levels 3-0;
 * IEC 62443-3-2 partitions them into zones joined only by conduits, with an industrial DMZ (level 3.5) between the two so that no flow crosses from the enterprise into operations or control
 * directly (the Purdue reference model both build on): level 4 talks to the DMZ, the DMZ to level 3. So a conduit that joins a zone at level 4 or above with a
 * zone at level 3 or below bypasses the DMZ, whatever its protocols. Level 3 is included: a level-3 host reachable
 * from the enterprise is the pivot into control that the DMZ exists to remove. The reasoning is in docs/zones.md.
 */
import { plantMap } from './plant-map';

/** ISA-95 level of the industrial DMZ; the enterprise starts at `ENTERPRISE_LEVEL`. */
export const DMZ_LEVEL = 3.5;
export const ENTERPRISE_LEVEL = 4;

/** The zone model's parts as the rules need them (snake_case as in glimmer.yml). */
export interface ZoneLevel { readonly name: string; readonly isa95_level: number }
export interface ConduitEnds { readonly from: string; readonly to: string; readonly protocols: readonly string[] }

/** True when a conduit between zones at these ISA-95 levels bypasses the DMZ (see the module comment). */
export function bypassesDmz(levelA: number, levelB: number): boolean {
  return Math.max(levelA, levelB) >= ENTERPRISE_LEVEL && Math.min(levelA, levelB) < DMZ_LEVEL;
}

/** Why a conduit is refused, in words every refusal reuses: the levels it joins and what is allowed instead. */
export function dmzBypassReason(from: ZoneLevel, to: ZoneLevel): string {
  return `conduit ${from.name} (ISA-95 level ${from.isa95_level}) -> ${to.name} (level ${to.isa95_level}) bypasses the DMZ; ` +
    `allowed: level ${ENTERPRISE_LEVEL} and above reach levels 0-3 only through a zone at level ${DMZ_LEVEL}`;
}

/** Index of the first conduit that bypasses the DMZ, or -1. Conduits naming unknown zones are skipped (checked elsewhere). */
export function firstDmzBypass(zones: readonly ZoneLevel[], conduits: readonly Pick<ConduitEnds, 'from' | 'to'>[]): number {
  const level = new Map(zones.map((z) => [z.name, z.isa95_level]));
  return conduits.findIndex((c) => {
    const a = level.get(c.from);
    const b = level.get(c.to);
    return a !== undefined && b !== undefined && bypassesDmz(a, b);
  });
}

/**
 * Per zone, the zones its Modbus clients reach: itself and every zone reachable through conduits carrying `modbus`,
 * transitively (the gateway is the conduit, so a chain of Modbus conduits is one path).
 */
export function modbusReach(zones: readonly Pick<ZoneLevel, 'name'>[], conduits: readonly ConduitEnds[]): Map<string, Set<string>> {
  const edges = conduits.filter((c) => c.protocols.includes('modbus'));
  const out = new Map<string, Set<string>>();
  for (const z of zones) {
    const reachable = new Set([z.name]);
    for (let changed = true; changed;) {
      changed = false;
      for (const c of edges) if (reachable.has(c.from) && !reachable.has(c.to)) { reachable.add(c.to); changed = true; }
    }
    out.set(z.name, reachable);
  }
  return out;
}

/**
 * The client zones the Modbus gateway listens for, in listener order (operations first, then the others in
 * configuration order): the zones that reach at least one PLC zone of the plant map.
 */
export function gatewayListenerZones(config: { readonly zones: readonly Pick<ZoneLevel, 'name'>[]; readonly conduits: readonly ConduitEnds[] }): string[] {
  const plc = new Set(plantMap().map((e) => e.zone));
  const reach = modbusReach(config.zones, config.conduits);
  const zones = config.zones.map((z) => z.name).filter((z) => [...(reach.get(z) ?? [])].some((r) => plc.has(r)));
  return zones.includes('operations') ? ['operations', ...zones.filter((z) => z !== 'operations')] : zones;
}

/**
 * An agent whose required_safety_level exceeds its zone's security level: the configuration verdict that `glimmer run`,
 * `make synth` and the threat model share. Such a configuration is accepted with a warning and the agent starts held
 * (PAUSED by its supervisor) until the levels agree, because that is what the seed's safety_integrity_check orders at
 * every evaluation anyway. Refusing it would stop the whole swarm (the Industrial agent with its shutdowns included)
 * for one misplaced agent; starting it ACTIVE would let it run until the first rule evaluation, and in a pod without a
 * reachable Cognitive agent for good.
 */
export interface AgentLevel { readonly name: string; readonly zone: string; readonly required_safety_level: number }
export interface ZoneSecurityLevel { readonly name: string; readonly security_level: number }

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

export function safetyLevelShortfall(agent: AgentLevel, zones: readonly ZoneSecurityLevel[]): SafetyLevelShortfall | undefined {
  const zoneLevel = zones.find((z) => z.name === agent.zone)?.security_level ?? 0;
  return agent.required_safety_level > zoneLevel ? { agent: agent.name, zone: agent.zone, required: agent.required_safety_level, zoneLevel } : undefined;
}

export function safetyLevelShortfalls(config: { readonly agents: readonly AgentLevel[]; readonly zones: readonly ZoneSecurityLevel[] }): SafetyLevelShortfall[] {
  return config.agents.flatMap((a) => safetyLevelShortfall(a, config.zones) ?? []);
}

/** The one sentence all three tools print for a shortfall. */
export function shortfallMessage(s: SafetyLevelShortfall): string {
  return `agent ${s.agent} requires safety level ${s.required} but zone ${s.zone} provides ${s.zoneLevel}: it starts held (PAUSED) and stays held until the zone's level or its required level is changed so that they agree (safety_integrity_check)`;
}
