/**
 * The plant interlocks of rules/industrial_safety.pl, checked per Modbus write. Prolog never runs per frame (a query costs
 * milliseconds, a frame's budget is microseconds),
 * so the gateway checks the same two interlocks natively, from the same plant profile the rule engine reads, against
 * the latest process image; test/industrial/interlocks.test.ts proves the answers equal the rule engine's on random
 * plant states.
 *   IL-01 no pump start while its suction tank is low;  IL-02 no valve close against a running pump.
 */
import { tripsEmergencyStop, type Decision, type WriteDecisionFn, type WriteDecisionRequest } from './modbus/inspector';
import type { PlantSnapshot } from '../model/plant';

export interface InterlockProfile {
  /** [pump, tank]: the pump draws from the tank. */
  readonly suction: readonly (readonly [string, string])[];
  /** [pump, valve]: the valve is on the pump's discharge line. */
  readonly discharge: readonly (readonly [string, string])[];
  /** Level below which a pump must not draw from the tank, in cm (as the rule facts use). */
  readonly tankLowLimitCm: Readonly<Record<string, number>>;
}

export type Command = { readonly asset: string; readonly action: 'start' | 'stop' | 'open' | 'close' };

/** The commands a write expresses: `<pump>.run` 1/0 is start/stop, `<valve>.open` 1/0 is open/close. */
export function commandsOf(request: Pick<WriteDecisionRequest, 'signals' | 'values'>): Command[] {
  const out: Command[] = [];
  request.signals.forEach((signal, i) => {
    const on = (request.values[i] ?? 0) !== 0;
    const [asset, field] = signal.split('.');
    if (asset === undefined) return;
    if (field === 'run') out.push({ asset, action: on ? 'start' : 'stop' });
    else if (field === 'open') out.push({ asset, action: on ? 'open' : 'close' });
  });
  return out;
}

function levelCm(snapshot: PlantSnapshot, tank: string): number | undefined {
  const a = snapshot.assets[tank as keyof PlantSnapshot['assets']] as { values?: { level_m?: number } } | undefined;
  const m = a?.values?.level_m;
  return typeof m === 'number' ? Math.round(m * 100) : undefined;
}

function running(snapshot: PlantSnapshot, pump: string): boolean {
  return (snapshot.assets[pump as keyof PlantSnapshot['assets']] as { running?: boolean } | undefined)?.running === true;
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
 * Wraps a policy decision with the interlocks: a write must pass the policy first, then every interlock.
 * `snapshot` returns the latest process image (the embedded plant's, or the one polled from real PLCs); without a
 * fresh one the interlocks cannot be checked and the write is refused (fail closed), except an emergency stop trip.
 */
export function withInterlocks(policy: WriteDecisionFn, profile: InterlockProfile, snapshot: () => PlantSnapshot | undefined): WriteDecisionFn {
  return (request): Decision => {
    const decision = policy(request);
    if (!decision.allow) return decision;
    const image = snapshot();
    // Without a (fresh) image the interlocks cannot be checked: refused, except tripping the emergency stop.
    if (image === undefined) return tripsEmergencyStop(request) ? decision : { allow: false, reason: 'interlocks: no fresh process image', by: 'interlock' };
    for (const command of commandsOf(request)) {
      const codes = violatedInterlocks(profile, image, command);
      if (codes.length > 0) return { allow: false, reason: `interlock ${codes.join(', ')}: ${command.action} ${command.asset}`, by: 'interlock' };
    }
    return decision;
  };
}
