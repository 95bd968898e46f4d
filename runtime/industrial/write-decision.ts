/**
 * The write decision: whether one write to the plant (a Modbus write frame at the gateway, or an OPC UA write on the
 * simulated PLC's server) goes through. One function composes the whole order of checks, `composeWriteDecision`, and
 * each plant (embedded or external) calls it once, at start; the gateway then calls the result per write frame.
 *
 * Order (docs/industrial.md "The write decision"):
 *  0. zone: the client's zone reaches the unit, may use the function, and every written address lists the zone in
 *     writable_from, within its value range. Checked by the gateway's compiled tables (modbus/inspector.ts) before
 *     this function runs, because it is array indexing and refuses most hostile frames for free.
 *  1. policy: who may write what (the trust PDP through its frame cache, or `failSafeOnly` without one).
 *  2. process image: without a fresh one nothing below can be checked, so the write is refused, unless it moves the
 *     plant to its safe state (tripping the emergency stop).
 *  3. interlocks IL-01/IL-02 of rules/industrial_safety.pl (no pump start on a low suction tank; no valve close
 *     against a running pump), checked natively on the image.
 *  4. safety trip: while the safety PLC reports a tripped interlock, or its state is unknown, a safety write that
 *     moves away from the safe state (reset, bypass, trip setpoints) is refused.
 * Tripping the emergency stop is never blocked by steps 2-4 (the fail-safe direction); only the policy can refuse it.
 *
 * The per-frame cost is a cache lookup (step 1) and a few property reads: Prolog never runs per frame (a query costs
 * milliseconds, a frame's budget is microseconds); test/industrial/write-decision.test.ts proves the native interlock
 * answers equal the rule engine's on random plant states.
 */
import type { PlantProfile, PlantSnapshot } from '../model/plant';
import type { PlantMapEntry } from '../model/plant-map';

/** One write as the gateway decoded it: the plant map entries it already looked up, and the raw values. */
export interface WriteRequest {
  /** Zone of the client (the gateway listener it connected to). */
  readonly zone: string;
  readonly connectionId: number;
  readonly unitId: number;
  readonly functionCode: number;
  readonly table: 'coil' | 'holding';
  readonly address: number;
  /** Number of coils or registers written. */
  readonly quantity: number;
  /** The plant map entries of the written addresses, in address order. */
  readonly signals: readonly PlantMapEntry[];
  /** Raw values written (0/1 for coils, register words). */
  readonly values: readonly number[];
  /** True when any written signal is a safety signal. */
  readonly safety: boolean;
  /** SPIFFE ID of an identified writer (an OPC UA session's user); absent: the zone's network client. */
  readonly principal?: string;
  /** @default 'modbus' */
  readonly protocol?: 'modbus' | 'opcua';
  /** The OPC UA client application's URI, part of the policy request's context. */
  readonly applicationUri?: string;
}

/** The verdict on one write. */
export interface WriteDecision {
  readonly allow: boolean;
  /** Free text for the log; never a label. */
  readonly reason?: string;
  /** Which step refused (the metric reason label): the policy (default) or a plant interlock. */
  readonly by?: 'policy' | 'interlock';
}

export type WriteDecider = (request: WriteRequest) => WriteDecision;

/** The interlock part of the plant profile. */
export type InterlockProfile = Pick<PlantProfile, 'suction' | 'discharge' | 'tankLowLimitCm'>;

/** The fail-safe direction: the write only trips the emergency stop (coil set to 1). */
export function tripsEmergencyStop(r: Pick<WriteRequest, 'table' | 'signals' | 'values'>): boolean {
  if (r.table !== 'coil' || r.signals.length === 0) return false;
  for (let i = 0; i < r.signals.length; i++) if (r.signals[i]?.id !== 'safety_1.emergency_stop' || r.values[i] !== 1) return false;
  return true;
}

/**
 * The fail-safe direction in the wider sense the gateway uses when the audit log cannot commit: tripping the
 * emergency stop, or stopping pumps (`<pump>.run` written 0). Such a write still goes to the PLC without its durable
 * record: refusing a move towards the safe state would trade safety for evidence.
 */
export function movesToSafeState(r: Pick<WriteRequest, 'table' | 'signals' | 'values'>): boolean {
  if (tripsEmergencyStop(r)) return true;
  if (r.table !== 'coil' || r.signals.length === 0) return false;
  for (let i = 0; i < r.signals.length; i++) if (r.signals[i]?.signal !== 'run' || r.values[i] !== 0) return false;
  return true;
}

/** The policy without a policy decision point: process writes pass, and of the safety writes only the fail-safe one. */
export const failSafeOnly: WriteDecider = (r) => {
  if (!r.safety || tripsEmergencyStop(r)) return { allow: true };
  return { allow: false, reason: 'only tripping the emergency stop is allowed without a policy decision point' };
};

/** The policy of a gateway built without one (tests, benchmarks): process writes pass, every safety write is denied. */
export const denySafetyWrites: WriteDecider = (r) => (r.safety ? { allow: false, reason: 'no policy decision point configured' } : { allow: true });

export type Command = { readonly asset: string; readonly action: 'start' | 'stop' | 'open' | 'close' };

/** The commands a write expresses: `<pump>.run` 1/0 is start/stop, `<valve>.open` 1/0 is open/close. */
export function commandsOf(request: Pick<WriteRequest, 'signals' | 'values'>): Command[] {
  const out: Command[] = [];
  request.signals.forEach((e, i) => {
    const on = (request.values[i] ?? 0) !== 0;
    if (e.signal === 'run') out.push({ asset: e.asset, action: on ? 'start' : 'stop' });
    else if (e.signal === 'open') out.push({ asset: e.asset, action: on ? 'open' : 'close' });
  });
  return out;
}

function levelCm(snapshot: PlantSnapshot, tank: string): number | undefined {
  const a = snapshot.assets[tank];
  // An image from a PLC may lack a tank's values (an untyped snapshot): no fact, as for the rule engine.
  const m = a?.kind === 'tank' ? (a.values as Partial<typeof a.values> | undefined)?.level_m : undefined;
  return typeof m === 'number' ? Math.round(m * 100) : undefined;
}

function running(snapshot: PlantSnapshot, pump: string): boolean {
  const a = snapshot.assets[pump];
  return a?.kind === 'pump' && a.running === true;
}

/** The interlock codes a command violates in the given plant state (empty: allowed). */
export function violatedInterlocks(profile: InterlockProfile, snapshot: PlantSnapshot, command: Command): string[] {
  const codes: string[] = [];
  if (command.action === 'start') {
    for (const [pump, tank] of profile.suction) {
      const limit = profile.tankLowLimitCm[tank];
      const level = levelCm(snapshot, tank);
      if (pump === command.asset && limit !== undefined && level !== undefined && level < limit) codes.push('IL-01-PUMP-START-LOW-TANK');
    }
  }
  if (command.action === 'close') {
    for (const [pump, valve] of profile.discharge) {
      if (valve === command.asset && running(snapshot, pump)) codes.push('IL-02-VALVE-CLOSE-RUNNING-PUMP');
    }
  }
  return [...new Set(codes)];
}

/**
 * The safety PLC's trip state in a process image. Unknown (no image, no safety asset, no boolean) counts as tripped:
 * the safe answer, the same in both plant modes.
 */
export function safetyTripped(image: PlantSnapshot | undefined): boolean {
  const s = image?.assets.safety_1;
  return s?.kind !== 'safety' || s.interlock_tripped !== false;
}

export interface WriteDecisionOptions {
  /** Step 1. @default failSafeOnly */
  readonly policy?: WriteDecider;
  /** The plant's interlock topology and limits (steps 3). */
  readonly profile: InterlockProfile;
  /** The latest process image, undefined when there is none or it is stale (the embedded plant's, or the polled one). */
  readonly image: () => PlantSnapshot | undefined;
}

/** Composes steps 1-4 (the module comment) into the decider the gateway calls per write. */
export function composeWriteDecision(options: WriteDecisionOptions): WriteDecider {
  const policy = options.policy ?? failSafeOnly;
  const { profile, image } = options;
  return (r) => {
    const decision = policy(r);
    if (!decision.allow) return decision;
    if (tripsEmergencyStop(r)) return decision;
    const snapshot = image();
    if (snapshot === undefined) return { allow: false, reason: 'interlocks: no fresh process image', by: 'interlock' };
    for (const command of commandsOf(r)) {
      const codes = violatedInterlocks(profile, snapshot, command);
      if (codes.length > 0) return { allow: false, reason: `interlock ${codes.join(', ')}: ${command.action} ${command.asset}`, by: 'interlock' };
    }
    if (r.safety && safetyTripped(snapshot)) return { allow: false, reason: 'a safety interlock is tripped (or the safety PLC state is unknown): only the emergency stop may be written', by: 'interlock' };
    return decision;
  };
}
