/**
 * A copilot's write, checked by the same steps as a Modbus write frame (runtime/industrial/write-decision.ts), one by
 * one so a dry run can say which passed and which refused, and why. The verdict that counts is always the composed
 * write decision's (`decide`), the very function the gateway calls per frame; the per-step list only explains it.
 */
import { GlimmerError, quote } from '../../errors';
import { findMapEntry, type PlantMapEntry } from '../../model/plant-map';
import type { PlantSnapshot } from '../../model/plant';
import {
  commandsOf, safetyTripped, tripsEmergencyStop, violatedInterlocks,
  type InterlockProfile, type WriteDecider, type WriteDecision, type WriteRequest,
} from '../../industrial/write-decision';
import type { PolicyResource } from '../../trust/policy/pdp';

export interface WriteChecks {
  /** The composed write decision (zone-client policy, process image, interlocks, safety trip). */
  readonly decide: WriteDecider;
  /** Its step 1 alone (the gateway's policy for the write zone's network client). */
  readonly gatewayPolicy: WriteDecider;
  readonly profile: InterlockProfile;
  readonly image: () => PlantSnapshot | undefined;
  /** The zone the write enters the gateway from. */
  readonly zone: string;
}

export interface PlannedWrite {
  readonly entry: PlantMapEntry;
  readonly request: WriteRequest;
  readonly resource: Extract<PolicyResource, { type: 'Register' }>;
}

export interface CheckResult {
  readonly step: 'zone' | 'gateway_policy' | 'process_image' | 'interlocks' | 'safety_trip';
  readonly pass: boolean;
  readonly reason: string;
}

/** The signal and value as the gateway would see them; GLM_ERR_MCP_ARGUMENTS_INVALID for an unknown signal. */
export function planWrite(signal: string, value: number | boolean, zone: string): PlannedWrite {
  const entry = findMapEntry(signal);
  if (entry === undefined) throw new GlimmerError('GLM_ERR_MCP_ARGUMENTS_INVALID', `at /signal: received ${quote(signal)}, allowed: a signal id of the plant map (glimmer plant map)`);
  const numeric = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  let raw = Math.round(numeric * entry.scale);
  if (entry.type === 'int16' && raw < 0) raw += 0x10000;
  const table = entry.table === 'coil' ? 'coil' : 'holding';
  const request: WriteRequest = {
    zone, connectionId: 0, unitId: entry.unit_id, functionCode: table === 'coil' ? 5 : 6, table, address: entry.address, quantity: 1,
    signals: [entry], values: [raw], safety: entry.safety,
  };
  const resource = {
    type: 'Register' as const, unitId: entry.unit_id, table: entry.table, address: entry.address, quantity: 1, zone: entry.zone,
    safety: entry.safety, writableFrom: [...entry.writable_from].sort(), mapped: true,
  };
  return { entry, request, resource };
}

/** Step 0 (the gateway's compiled tables): writable table, the zone among writable_from, the value in range. */
function zoneCheck(p: PlannedWrite, value: number | boolean, zone: string): CheckResult {
  const { entry } = p;
  if (entry.table !== 'coil' && entry.table !== 'holding') return { step: 'zone', pass: false, reason: `${entry.id} is read only (${entry.table} table)` };
  if (!entry.writable_from.includes(zone)) return { step: 'zone', pass: false, reason: `${entry.id} is writable from ${entry.writable_from.join(', ') || 'no zone'}, not from ${zone}` };
  if (entry.table === 'coil' && typeof value !== 'boolean' && value !== 0 && value !== 1) return { step: 'zone', pass: false, reason: `${entry.id} is a coil: 0/1 or true/false, received ${quote(value)}` };
  const numeric = typeof value === 'boolean' ? Number(value) : value;
  if (entry.range && (numeric < entry.range[0] || numeric > entry.range[1])) {
    return { step: 'zone', pass: false, reason: `${entry.id} accepts ${entry.range[0]}..${entry.range[1]} ${entry.unit}, received ${numeric}` };
  }
  const raw = p.request.values[0] as number;
  if (!Number.isInteger(raw) || raw < 0 || raw > 0xffff) return { step: 'zone', pass: false, reason: `${entry.id}: raw value ${raw} does not fit a register` };
  return { step: 'zone', pass: true, reason: `writable from ${zone}, value in range` };
}

/** Every step's answer, and the composed decision (what the gateway would do). */
export function checkWrite(checks: WriteChecks, p: PlannedWrite, value: number | boolean): { steps: CheckResult[]; decision: WriteDecision } {
  const zone = zoneCheck(p, value, checks.zone);
  const r = p.request;
  const policy = checks.gatewayPolicy(r);
  const image = checks.image();
  const failSafe = tripsEmergencyStop(r);
  const violated = image === undefined ? [] : commandsOf(r).flatMap((c) => violatedInterlocks(checks.profile, image, c).map((code) => `${code}: ${c.action} ${c.asset}`));
  const tripped = r.safety && safetyTripped(image);
  const steps: CheckResult[] = [
    zone,
    { step: 'gateway_policy', pass: policy.allow, reason: policy.allow ? `the ${checks.zone} zone's client may write this range` : (policy.reason ?? 'denied') },
    { step: 'process_image', pass: failSafe || image !== undefined, reason: image !== undefined ? 'fresh' : failSafe ? 'none, but tripping the emergency stop needs none' : 'no fresh process image' },
    { step: 'interlocks', pass: failSafe || violated.length === 0, reason: violated.length === 0 ? 'none violated' : violated.join('; ') },
    { step: 'safety_trip', pass: failSafe || !tripped, reason: tripped ? 'a safety interlock is tripped (or its state unknown): only the emergency stop may be written' : 'not tripped, or not a safety write' },
  ];
  // The zone step runs in the gateway before the decider; a write it refuses never reaches the rest.
  const decision = zone.pass ? checks.decide(r) : { allow: false, reason: `zone: ${zone.reason}`, by: 'policy' as const };
  return { steps, decision };
}
