/**
 * Commands from the enterprise (Sparkplug NCMD/DCMD) that would write to the plant. Refused by default: this is step 0
 * of the write decision (runtime/industrial/write-decision.ts, the zone step) for a writer in the broker's zone.
 * A command passes it only when
 *   1. it decoded and names plant signals of the device it is addressed to (nothing unknown, nothing else),
 *   2. a conduit between the broker's zone and the Data Agent's zone sets `allow_sparkplug_commands`, and
 *   3. every signal lists the command zone (the gateway listener the write enters through) in writable_from.
 * What passes is then written through that zone's gateway listener as an ordinary Modbus write, so the policy,
 * interlocks and audit of steps 1-4 apply to it exactly as to any other write; nothing here can skip them.
 */
import type { ErrorCode } from '../errors';
import type { PlantMapEntry } from '../model/plant-map';

export interface CommandRequest {
  readonly kind: 'NCMD' | 'DCMD';
  readonly device?: string;
  readonly writes: readonly { readonly entry: PlantMapEntry; readonly value: number | boolean }[];
  readonly unknown: readonly string[];
  readonly error?: { readonly code: ErrorCode; readonly message: string };
}

export interface CommandZones {
  /** The broker's zone (where the command comes from). */
  readonly brokerZone: string;
  /** The Data Agent's zone (where it enters the plant's side). */
  readonly agentZone: string;
  /** The zone whose gateway listener the write would enter through. */
  readonly commandZone: string;
  /** Conduits that set allow_sparkplug_commands. */
  readonly commandConduits: readonly { readonly from: string; readonly to: string }[];
}

export type CommandVerdict =
  | { readonly allow: false; readonly code: ErrorCode; readonly reason: string }
  | { readonly allow: true; readonly writes: CommandRequest['writes'] };

export function commandVerdict(command: CommandRequest, zones: CommandZones): CommandVerdict {
  if (command.error !== undefined) return { allow: false, code: command.error.code, reason: command.error.message };
  if (command.unknown.length > 0 || command.writes.length === 0) {
    return { allow: false, code: 'GLM_ERR_NORTHBOUND_COMMAND_REFUSED', reason: `${command.kind} names no writable plant signal${command.unknown.length > 0 ? ` (unknown: ${command.unknown.slice(0, 8).join(', ')})` : ''}` };
  }
  const { brokerZone: a, agentZone: b } = zones;
  if (!zones.commandConduits.some((c) => (c.from === a && c.to === b) || (c.from === b && c.to === a))) {
    return { allow: false, code: 'GLM_ERR_NORTHBOUND_COMMAND_REFUSED', reason: `no conduit between zone ${a} and zone ${b} sets allow_sparkplug_commands` };
  }
  const denied = command.writes.find((w) => !w.entry.writable_from.includes(zones.commandZone));
  if (denied !== undefined) {
    return { allow: false, code: 'GLM_ERR_NORTHBOUND_COMMAND_REFUSED', reason: `signal ${denied.entry.id} is not writable from zone ${zones.commandZone}` };
  }
  return { allow: true, writes: command.writes };
}
