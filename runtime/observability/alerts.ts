/**
 * The alert rules of monitoring/prometheus/custom_rules.yml, evaluated inside the runtime on its own registry so the
 * operator console shows active alerts without a Prometheus server. Same names, thresholds, `for` durations and
 * severities as the YAML (test/observability/alerts.test.ts checks they agree); Prometheus stays the reference.
 */
import type { Metrics } from './metrics';

/** An alert whose condition holds (pending until its `for` duration has passed, then firing). */
export interface ActiveAlert {
  readonly name: string;
  readonly severity: 'critical' | 'warning';
  readonly state: 'pending' | 'firing';
  /** epoch ms when the condition started to hold. */
  readonly since: number;
  readonly summary: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly response_plan: string;
}

type Labels = Record<string, string>;
interface Sample { labels: Labels; value: number }

/** One rule: which series currently meet the condition (each with its labels and a summary). */
export interface RuntimeAlertRule {
  readonly name: string;
  readonly severity: 'critical' | 'warning';
  /** Seconds the condition must hold before the alert fires (Prometheus `for`). */
  readonly forS: number;
  readonly responsePlan: string;
  active(m: Metrics, now: number, state: RuleMemory): Promise<{ labels: Labels; summary: string }[]>;
}

/** Per-rule memory for rules over a window (counter increases). */
export interface RuleMemory {
  history: Map<string, { t: number; value: number }[]>;
}

async function samples(metric: { get(): Promise<{ values: { labels: object; value: number }[] }> }): Promise<Sample[]> {
  const got = await metric.get();
  return got.values.map((v) => ({ labels: Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)])), value: v.value }));
}

const key = (labels: Labels): string => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
const RUNBOOK = '/docs/response/iec61508.md';

function humanize(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}

export const RUNTIME_ALERT_RULES: readonly RuntimeAlertRule[] = [
  {
    name: 'SafetyIntegrityBreach',
    severity: 'critical',
    forS: 120,
    responsePlan: `${RUNBOOK}#safety-shutdown`,
    async active(m) {
      const required = new Map((await samples(m.requiredSafetyLevel)).map((s) => [key(s.labels), s.value]));
      // A TERMINATED agent runs nothing: it does not page (the YAML's `unless ... state="TERMINATED"`).
      const terminated = new Set((await samples(m.agentState)).filter((s) => s.labels.state === 'TERMINATED' && s.value === 1).map((s) => key({ agent: s.labels.agent ?? '', zone: s.labels.zone ?? '' })));
      return (await samples(m.safetyIntegrityLevel))
        .filter((s) => required.has(key(s.labels)) && s.value < (required.get(key(s.labels)) as number) && !terminated.has(key(s.labels)))
        .map((s) => ({ labels: s.labels, summary: `${s.labels.agent} runs at SIL ${s.value} in zone ${s.labels.zone}, requires ${required.get(key(s.labels))}` }));
    },
  },
  {
    name: 'SafetyWriteDenied',
    severity: 'warning',
    forS: 0,
    responsePlan: `${RUNBOOK}#denied-safety-writes`,
    async active(m, now, memory) {
      const out: { labels: Labels; summary: string }[] = [];
      const byGroup = new Map<string, { labels: Labels; value: number }>();
      for (const s of await samples(m.gatewayDecisions)) {
        if (s.labels.decision !== 'deny' || s.labels.zone !== 'safety') continue;
        const labels = { zone: s.labels.zone, function: s.labels.function ?? '', reason: s.labels.reason ?? '' };
        const g = byGroup.get(key(labels)) ?? { labels, value: 0 };
        g.value += s.value;
        byGroup.set(key(labels), g);
      }
      for (const [k, g] of byGroup) {
        // A series seen for the first time counts from zero (the runtime's counters start at 0 and a label set appears
        // with its first increment), so the first denial is not lost as Prometheus' increase() would lose it.
        const h = memory.history.get(k) ?? [{ t: now, value: 0 }];
        h.push({ t: now, value: g.value });
        while (h.length > 1 && (h[0] as { t: number }).t < now - 300_000) h.shift();
        memory.history.set(k, h);
        const increase = g.value - (h[0] as { value: number }).value;
        if (increase > 0) out.push({ labels: g.labels, summary: `the gateway denied ${increase} ${g.labels.function} request(s) to the safety zone (${g.labels.reason}) in 5 minutes` });
      }
      return out;
    },
  },
  {
    name: 'SafetyOrderUndelivered',
    severity: 'critical',
    forS: 0,
    responsePlan: `${RUNBOOK}#safety-order-undelivered`,
    async active(m, now, memory) {
      const out: { labels: Labels; summary: string }[] = [];
      for (const s of await samples(m.safetyOrderFailures)) {
        const labels = { target_kind: s.labels.target_kind ?? '', code: s.labels.code ?? '' };
        // As for SafetyWriteDenied: a series seen for the first time counts from zero.
        const h = memory.history.get(key(labels)) ?? [{ t: now, value: 0 }];
        h.push({ t: now, value: s.value });
        while (h.length > 1 && (h[0] as { t: number }).t < now - 300_000) h.shift();
        memory.history.set(key(labels), h);
        const increase = s.value - (h[0] as { value: number }).value;
        if (increase > 0) out.push({ labels, summary: `${increase} safety order(s) not delivered in 5 minutes (target kind ${labels.target_kind}, ${labels.code})` });
      }
      return out;
    },
  },
  {
    name: 'PlcUnreachable',
    severity: 'critical',
    forS: 60,
    responsePlan: `${RUNBOOK}#plc-unreachable`,
    async active(m) {
      return (await samples(m.plcUp)).filter((s) => s.value === 0).map((s) => ({ labels: s.labels, summary: `the gateway cannot reach PLC ${s.labels.plc}` }));
    },
  },
  {
    name: 'PlantProcessImageStale',
    severity: 'critical',
    forS: 0,
    responsePlan: `${RUNBOOK}#process-image-stale`,
    async active(m) {
      return (await samples(m.plantProcessImageAge)).filter((s) => s.value > 60).map((s) => ({ labels: s.labels, summary: `no complete process image from the PLCs for ${humanize(s.value)}: interlocked writes are refused` }));
    },
  },
  {
    name: 'AgentStuckPaused',
    severity: 'warning',
    forS: 600,
    responsePlan: `${RUNBOOK}#agent-paused`,
    async active(m) {
      return (await samples(m.agentState))
        .filter((s) => s.labels.state === 'PAUSED' && s.value === 1)
        .map((s) => ({ labels: s.labels, summary: `agent ${s.labels.agent} is PAUSED` }));
    },
  },
  {
    name: 'AgentCrashLoop',
    severity: 'critical',
    forS: 0,
    responsePlan: `${RUNBOOK}#agent-crash-loop`,
    async active(m) {
      return (await samples(m.agentCrashLoop)).filter((s) => s.value === 1).map((s) => ({ labels: s.labels, summary: `agent ${s.labels.agent} crashed past its restart budget; the supervisor gave up on it` }));
    },
  },
  {
    name: 'AuditCheckpointOverdue',
    severity: 'critical',
    forS: 300,
    responsePlan: `${RUNBOOK}#audit-checkpoint-overdue`,
    async active(m) {
      return (await samples(m.auditCheckpointAge)).filter((s) => s.value > 900).map((s) => ({ labels: s.labels, summary: `no signed audit checkpoint for ${humanize(s.value)}` }));
    },
  },
  {
    name: 'AuditLogCannotCommit',
    severity: 'critical',
    forS: 0,
    responsePlan: `${RUNBOOK}#audit-cannot-commit`,
    async active(m) {
      return (await samples(m.auditCommitFailing)).filter((s) => s.value === 1).map((s) => ({ labels: s.labels, summary: 'the audit log cannot commit: writes to the plant are refused except the fail-safe direction' }));
    },
  },
  {
    name: 'AuditDiskLow',
    severity: 'warning',
    forS: 60,
    responsePlan: `${RUNBOOK}#audit-disk-low`,
    async active(m) {
      const watermark = (await samples(m.auditDiskWatermark))[0]?.value;
      if (watermark === undefined) return [];
      return (await samples(m.auditDiskFree)).filter((s) => s.value < watermark).map((s) => ({ labels: s.labels, summary: `the audit log's file system has ${Math.round(s.value / 1048576)} MiB free, below its ${Math.round(watermark / 1048576)} MiB watermark` }));
    },
  },
  {
    name: 'CertificateExpiringSoon',
    severity: 'warning',
    forS: 120,
    responsePlan: `${RUNBOOK}#certificate-expiring`,
    async active(m, now) {
      return (await samples(m.certificateExpiry))
        .filter((s) => s.value - now / 1000 < 1200)
        .map((s) => ({ labels: s.labels, summary: `the certificate of ${s.labels.agent} expires in ${humanize(s.value - now / 1000)}: rotation is late` }));
    },
  },
  {
    name: 'CertificateExpiryImminent',
    severity: 'critical',
    forS: 0,
    responsePlan: `${RUNBOOK}#certificate-expiring`,
    async active(m, now) {
      return (await samples(m.certificateExpiry))
        .filter((s) => s.value - now / 1000 < 300)
        .map((s) => ({ labels: s.labels, summary: `the certificate of ${s.labels.agent} expires in ${humanize(s.value - now / 1000)} (or has expired)` }));
    },
  },
  {
    name: 'OpcuaCertificateExpiringSoon',
    severity: 'warning',
    forS: 600,
    responsePlan: `${RUNBOOK}#opcua-certificate-expiring`,
    async active(m, now) {
      const lead = new Map((await samples(m.opcuaCertificateRenewBefore)).map((s) => [key(s.labels), s.value]));
      return (await samples(m.opcuaCertificateExpiry))
        .filter((s) => s.value - now / 1000 < 0.5 * (lead.get(key(s.labels)) ?? Number.NaN))
        .map((s) => ({ labels: s.labels, summary: `the OPC UA ${s.labels.role} certificate of ${s.labels.application} expires in ${humanize(s.value - now / 1000)}: renewal is failing` }));
    },
  },
  {
    name: 'RevocationFeedStale',
    severity: 'critical',
    forS: 0,
    responsePlan: `${RUNBOOK}#revocation-feed-stale`,
    async active(m) {
      const age = (await samples(m.revocationFeedAge))[0]?.value ?? 0;
      return (await samples(m.revocationFeedStale)).filter((s) => s.value === 1).map((s) => ({ labels: s.labels, summary: `the revocation feed is ${humanize(age)} old: this runtime's A2A endpoints and mTLS API refuse every peer` }));
    },
  },
];

/**
 * Evaluates RUNTIME_ALERT_RULES with Prometheus semantics: a condition that starts to hold is `pending`, and `firing`
 * once it has held for the rule's `for`; it disappears as soon as it stops holding.
 */
export class AlertEvaluator {
  private readonly since = new Map<string, number>();
  private readonly memory = new Map<string, RuleMemory>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly metrics: Metrics, private readonly rules: readonly RuntimeAlertRule[] = RUNTIME_ALERT_RULES) {}

  async evaluate(now = Date.now()): Promise<ActiveAlert[]> {
    const alerts: ActiveAlert[] = [];
    const seen = new Set<string>();
    for (const rule of this.rules) {
      const memory = this.memory.get(rule.name) ?? { history: new Map() };
      this.memory.set(rule.name, memory);
      for (const hit of await rule.active(this.metrics, now, memory)) {
        const id = `${rule.name}${key(hit.labels)}`;
        seen.add(id);
        const since = this.since.get(id) ?? now;
        this.since.set(id, since);
        alerts.push({
          name: rule.name,
          severity: rule.severity,
          state: now - since >= rule.forS * 1000 ? 'firing' : 'pending',
          since,
          summary: hit.summary,
          labels: hit.labels,
          response_plan: rule.responsePlan,
        });
      }
    }
    for (const id of [...this.since.keys()]) if (!seen.has(id)) this.since.delete(id);
    return alerts;
  }

  /** Evaluates every `intervalMs` and calls `onChange` when the set of alerts or their states change. */
  start(intervalMs: number, onChange: (alerts: ActiveAlert[]) => void): void {
    let last = '[]';
    const tick = async () => {
      const alerts = await this.evaluate();
      const signature = JSON.stringify(alerts.map((a) => [a.name, a.labels, a.state]));
      if (signature !== last) {
        last = signature;
        onChange(alerts);
      }
    };
    this.timer = setInterval(() => void tick().catch(() => undefined), intervalMs);
    this.timer.unref();
    void tick().catch(() => undefined);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
