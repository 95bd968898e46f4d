/**
 * The decision timeline and the alarm list over the API.
 *   GET /v1/decisions[?limit=N]          the latest safety decisions, newest first, each as its whole chain
 *   GET /v1/decisions/explain?index=I    the chain of the decision at (or referred to by) audit entry I
 *   GET /v1/alarms                       ISA-18.2 alarms
 *   POST /v1/alarms/ack {id}             acknowledge; POST /v1/alarms/shelve {id, minutes}; POST /v1/alarms/unshelve {id}
 * Chains are read from the audit log (runtime/audit/explain.ts, the same assembly `glimmer explain` prints). Alarm
 * actions go through the PDP (action `acknowledge`) and are audited with the operator's identity before they apply:
 * when the log cannot commit, the alarm stays as it was and the caller gets the log's error.
 */
import { explainDecision, recentDecisions, type ExplainSource } from '../../audit/explain';
import { GlimmerError, quote } from '../../errors';
import type { AuditAppender } from '../../model/messages';
import { MAX_SHELVE_MINUTES, type AlarmBook } from '../console/alarms';
import type { RequestContext, Route, RoutePolicy } from '../router';

/** Acknowledging or shelving an alarm: an operator's `acknowledge` on the plant. */
export const ALARM_POLICY: RoutePolicy = { action: 'acknowledge', resource: { type: 'Asset', id: 'plant', zone: 'control', safety: false } };

const MAX_LIMIT = 50;

function intParam(ctx: RequestContext, name: string, fallback?: number): number {
  const raw = ctx.url.searchParams.get(name);
  if (raw === null && fallback !== undefined) return fallback;
  if (raw === null || !/^(0|[1-9][0-9]{0,15})$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new GlimmerError('GLM_ERR_AUDIT_RANGE_INVALID', `query parameter ${name} must be a non-negative integer, received ${quote(raw)}`);
  }
  return Number(raw);
}

async function alarmBody(ctx: RequestContext): Promise<{ id: string; minutes?: unknown }> {
  const body = (await ctx.json()) as { id?: unknown; minutes?: unknown } | null;
  if (body === null || typeof body !== 'object' || typeof body.id !== 'string' || body.id.length === 0 || body.id.length > 200) {
    throw new GlimmerError('GLM_ERR_API_BODY_INVALID', `at /id: received ${quote(body?.id)}, allowed: an alarm id string`);
  }
  return { id: body.id, minutes: body.minutes };
}

export function decisionRoutes(source: ExplainSource, alarms: AlarmBook, audit: AuditAppender): Route[] {
  const by = (ctx: RequestContext) => ctx.principal?.id ?? 'unknown';
  /** An operator's action on one alarm: validated, audited with who did it, then applied (never applied unaudited). */
  const alarmRoute = (path: string, type: string, plan: (ctx: RequestContext, id: string, minutes: unknown) => { record: Record<string, unknown>; apply: () => unknown; reply: unknown }): Route => ({
    method: 'POST',
    path,
    policy: ALARM_POLICY,
    async handle(ctx) {
      const { id, minutes } = await alarmBody(ctx);
      const alarm = alarms.get(id);
      const step = plan(ctx, id, minutes);
      await audit.append({ type, alarm: id, name: alarm.name, asset: alarm.asset, ...step.record, by: by(ctx) });
      step.apply();
      return { body: step.reply };
    },
  });
  return [
    {
      method: 'GET',
      path: '/v1/decisions',
      handle: (ctx) => {
        const limit = Math.min(MAX_LIMIT, Math.max(1, intParam(ctx, 'limit', 20)));
        return { body: { decisions: recentDecisions(source, limit).map((i) => explainDecision(source, i)) } };
      },
    },
    {
      method: 'GET',
      path: '/v1/decisions/explain',
      handle: (ctx) => ({ body: explainDecision(source, intParam(ctx, 'index')) }),
    },
    { method: 'GET', path: '/v1/alarms', handle: () => ({ body: { alarms: alarms.list() } }) },
    alarmRoute('/v1/alarms/ack', 'alarm.acknowledged', (ctx, id) => {
      const alarm = alarms.get(id);
      return { record: { state: alarm.state, decision_id: alarm.decision_id, decision_index: alarm.decision_index }, apply: () => alarms.acknowledge(id, by(ctx)), reply: { id, acknowledged_by: by(ctx) } };
    }),
    alarmRoute('/v1/alarms/shelve', 'alarm.shelved', (_ctx, id, minutes) => {
      if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > MAX_SHELVE_MINUTES) {
        throw new GlimmerError('GLM_ERR_API_BODY_INVALID', `at /minutes: received ${quote(minutes)}, allowed: an integer 1..${MAX_SHELVE_MINUTES}`);
      }
      return { record: { minutes }, apply: () => alarms.shelve(id, minutes), reply: { id, shelved_minutes: minutes } };
    }),
    alarmRoute('/v1/alarms/unshelve', 'alarm.unshelved', (_ctx, id) => ({ record: {}, apply: () => alarms.unshelve(id), reply: { id } })),
  ];
}
