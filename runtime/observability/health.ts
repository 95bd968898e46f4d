/**
 * Readiness as a small registry of named conditions: each subsystem registers one check (the agents, the audit log,
 * the plant image; others add theirs with one `register` call). `GET /readyz` answers 503 while any check fails, so a
 * Kubernetes readiness probe takes the pod out of service; `GET /healthz` (liveness) stays 200 while the process
 * answers but reports the failing conditions instead of always saying ok.
 */
export interface Condition {
  readonly ok: boolean;
  /** Why not, while failing (short, no secrets: the endpoints are unauthenticated). */
  readonly reason?: string;
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly conditions: Readonly<Record<string, Condition>>;
}

export class Readiness {
  private readonly checks = new Map<string, () => Condition>();

  /** Adds a named condition; a name registered twice keeps the last check. */
  register(name: string, check: () => Condition): this {
    this.checks.set(name, check);
    return this;
  }

  evaluate(): ReadinessReport {
    const conditions: Record<string, Condition> = {};
    let ready = true;
    for (const [name, check] of this.checks) {
      let c: Condition;
      try {
        c = check();
      } catch (err) {
        // A check that cannot answer is a failing condition, never a pass.
        c = { ok: false, reason: `check failed: ${(err as Error).message}` };
      }
      conditions[name] = c.ok ? { ok: true } : { ok: false, reason: c.reason ?? 'failing' };
      if (!c.ok) ready = false;
    }
    return { ready, conditions };
  }
}
