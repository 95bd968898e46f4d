/**
 * Turns what the Cognitive Agent reports (audit records and published status, relayed by the supervisor) into the
 * reasoning metrics. The agent runs in its own process, so the supervisor calls these on its side.
 */
import type { Metrics } from '../observability/metrics';

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => v !== null && typeof v === 'object' && !Array.isArray(v);
const BOUNDED = /^[A-Za-z0-9_.:-]{1,64}$/;

/** For audit records of type cognitive.decision: counts new violations and the shutdown commands sent. */
export function observeCognitiveRecord(metrics: Metrics, record: unknown): void {
  if (!isRec(record) || record.type !== 'cognitive.decision') return;
  for (const v of Array.isArray(record.new_violations) ? record.new_violations : []) {
    if (isRec(v) && typeof v.code === 'string' && BOUNDED.test(v.code)) metrics.complianceViolations.inc({ code: v.code });
  }
  for (const t of Array.isArray(record.shutdowns_sent) ? record.shutdowns_sent : []) {
    if (typeof t === 'string' && BOUNDED.test(t)) metrics.safetyShutdownCommands.inc({ target: t });
  }
}

/** For status the Cognitive Agent publishes: anomaly scores per asset, evaluation counts and durations. */
export function observeCognitiveStatus(metrics: Metrics, status: unknown, previous?: unknown): void {
  if (!isRec(status)) return;
  if (isRec(status.asset_scores)) {
    for (const [asset, score] of Object.entries(status.asset_scores)) {
      if (BOUNDED.test(asset) && typeof score === 'number' && Number.isFinite(score)) metrics.anomalyScore.set({ asset }, score);
    }
  }
  const now = isRec(status.rules) ? status.rules : undefined;
  const before = isRec(previous) && isRec(previous.rules) ? previous.rules : {};
  if (!now) return;
  const delta = (k: string) => Math.max(0, Number(now[k] ?? 0) - Number(before[k] ?? 0));
  const ok = delta('ok');
  const violation = delta('violation');
  const error = delta('error');
  if (ok) metrics.ruleEvaluations.inc({ ruleset: 'all', outcome: 'ok' }, ok);
  if (violation) metrics.ruleEvaluations.inc({ ruleset: 'all', outcome: 'violation' }, violation);
  if (error) metrics.ruleEvaluations.inc({ ruleset: 'all', outcome: 'error' }, error);
  if (Array.isArray(now.recent_durations_s)) {
    for (const d of now.recent_durations_s) if (typeof d === 'number' && d >= 0 && d < 60) metrics.ruleEvaluationDuration.observe({ ruleset: 'all' }, d);
  }
}
