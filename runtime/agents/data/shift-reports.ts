/**
 * The embedded default's business records: a shift report per pump every interval, signed off by the operator on
 * shift (a fictional roster, deterministic by time). They carry personal data on purpose, so the demo shows the
 * Data Agent's GDPR filter at work on the way from the DMZ to the enterprise zone.
 */
import type { PlantSnapshot } from '../../model/plant';

const ROSTER = [
  { operator_name: 'Alex Example', operator_badge: 'B-1001', operator_email: 'alex.example@plant.example' },
  { operator_name: 'Sam Sample', operator_badge: 'B-1002', operator_email: 'sam.sample@plant.example' },
  { operator_name: 'Kim Placeholder', operator_badge: 'B-1003', operator_email: 'kim.placeholder@plant.example' },
] as const;

const SHIFT_MS = 8 * 3600 * 1000;

export function shiftReports(snapshot: PlantSnapshot, now = Date.now()): Record<string, unknown>[] {
  const shift = Math.floor(now / SHIFT_MS);
  const operator = ROSTER[shift % ROSTER.length] as (typeof ROSTER)[number];
  return Object.entries(snapshot.assets)
    .filter(([, a]) => a.kind === 'pump')
    .map(([asset, a]) => ({
      type: 'shift_report',
      at: new Date(now).toISOString(),
      shift: `S${shift}`,
      asset,
      mean_flow_m3h: (a.values as { flow_m3h?: number }).flow_m3h ?? null,
      alarms: a.faults.length,
      ...operator,
    }));
}
