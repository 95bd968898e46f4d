/**
 * The simulated plant over the API: its live snapshot and address map, and fault injection for demos, drills and the
 * console. Injections are audited; a bad asset or fault is a 400 naming what is allowed.
 */
import type { AuditAppender } from '../../model/messages';
import { GlimmerError, quote } from '../../errors';
import { plantMap } from '../../model/plant-map';
import type { PlantRuntime } from '../../industrial/plant/runtime';
import { FAULT_KINDS, type FaultKind } from '../../model/plant';
import type { Route, RoutePolicy } from '../router';

/**
 * Injects a fault into the simulated plant and audits who did it (API calls and the demo's fault schedule). The record
 * is durable before the fault applies: when the audit log cannot commit, nothing is applied (the caller gets 503).
 */
export async function injectFault(plant: PlantRuntime, audit: AuditAppender, asset: string, fault: FaultKind, by: string): Promise<void> {
  plant.sim.checkFault(asset, fault);
  // Wall clock and plant time: where a decision timeline starts (the plant cannot know who will notice the fault).
  await audit.append({ type: 'plant.fault.injected', asset, fault, by, at_ms: Date.now(), plant_time_ms: plant.sim.time });
  plant.sim.injectFault(asset, fault);
}

/** Clears the faults of one asset (or all) once the clearing is audited (the API and the demo's scheduled repairs). */
export async function clearFault(plant: PlantRuntime, audit: AuditAppender, asset: string | undefined, by: string): Promise<void> {
  if (asset !== undefined) plant.sim.checkAssetId(asset);
  await audit.append({ type: 'plant.fault.cleared', asset: asset ?? 'all', by, at_ms: Date.now(), plant_time_ms: plant.sim.time });
  plant.sim.clearFaults(asset);
}

/** Fault injection and clearing change the plant: an operator's `configure` on the plant asset. */
export const PLANT_FAULTS_POLICY: RoutePolicy = { action: 'configure', resource: { type: 'Asset', id: 'plant', zone: 'control', safety: false } };

export function plantRoutes(plant: PlantRuntime, audit: AuditAppender): Route[] {
  return [
    { method: 'GET', path: '/v1/plant', handle: () => ({ body: plant.snapshot }) },
    { method: 'GET', path: '/v1/plant/map', handle: () => ({ body: plantMap() }) },
    {
      method: 'POST',
      path: '/v1/plant/faults',
      policy: PLANT_FAULTS_POLICY,
      async handle(ctx) {
        const body = (await ctx.json()) as { asset?: unknown; fault?: unknown } | null;
        if (body === null || typeof body !== 'object' || typeof body.asset !== 'string') {
          throw new GlimmerError('GLM_ERR_API_BODY_INVALID', `at /asset: received ${quote(body?.asset)}, allowed: an asset id string`);
        }
        if (typeof body.fault !== 'string' || !(FAULT_KINDS as readonly string[]).includes(body.fault)) {
          throw new GlimmerError('GLM_ERR_API_BODY_INVALID', `at /fault: received ${quote(body.fault)}, allowed: one of ${FAULT_KINDS.join(', ')}`);
        }
        await injectFault(plant, audit, body.asset, body.fault as FaultKind, ctx.principal?.id ?? 'unknown');
        return { status: 201, body: { asset: body.asset, fault: body.fault } };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/plant/faults',
      policy: PLANT_FAULTS_POLICY,
      async handle(ctx) {
        const asset = ctx.url.searchParams.get('asset') ?? undefined;
        // Audited first, as injections are: no change without its durable record.
        await clearFault(plant, audit, asset, ctx.principal?.id ?? 'unknown');
        return { status: 200, body: { cleared: asset ?? 'all' } };
      },
    },
  ];
}
