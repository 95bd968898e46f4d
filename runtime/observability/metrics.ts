/**
 * The Prometheus registry of the runtime. Naming follows Prometheus conventions: `glimmer_` prefix, base units in the
 * name, `_total` for counters, label values from bounded sets only (agent ids, zones, states, reasons; never client
 * addresses). The seed's `safety_integrity_level` and `required_safety_level` keep their exact names so the seed's
 * alert expression works as written.
 */
import client from 'prom-client';

export const LIFECYCLE_STATES = ['INIT', 'BOOTSTRAPPING', 'ACTIVE', 'PAUSED', 'TERMINATED'] as const;

export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'glimmer_' });
  // prom-client names three gauges `*_total`, which `promtool check metrics` refuses; the per-type gauges without the
  // suffix carry the same information.
  for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) {
    registry.removeSingleMetric(`glimmer_nodejs_${name}`);
  }
  const r = [registry];
  // Gateways count decisions in plain arrays and add them to the counter with each audit batch (every 50 ms at most);
  // a scrape first takes what they hold, so it never lags the traffic it follows.
  const heldGatewayDecisions = new Set<() => void>();
  // The PDP counts its decision cache's hits and misses itself (pdp.decisionCache); a scrape takes what each watched
  // PDP added since the last one, so the per-call path does nothing more for the metric.
  const heldDecisionCacheLookups = new Set<() => void>();
  // plant.mode external: the process that polls the PLCs sets `read` (milliseconds since the last complete poll).
  const processImageAge: { read?: () => number | undefined } = {};
  // The runtime sets `read`: whether its revocation list is stale and the age of its signed feed (seconds).
  const revocationFeed: { read?: () => { stale: boolean; ageS: number } } = {};
  return {
    registry,
    agentState: new client.Gauge({ name: 'glimmer_agent_state', help: '1 for the lifecycle state the agent is in, 0 for the others', labelNames: ['agent', 'kind', 'zone', 'state'], registers: r }),
    agentTransitions: new client.Counter({ name: 'glimmer_agent_transitions_total', help: 'Lifecycle transitions by agent, source and target state', labelNames: ['agent', 'from', 'to'], registers: r }),
    agentCrashLoop: new client.Gauge({ name: 'glimmer_agent_crash_loop', help: '1 when the supervisor gave up on the agent after it crashed more often than max_restarts within restart_window_s, else 0', labelNames: ['agent'], registers: r }),
    agentRestarts: new client.Counter({ name: 'glimmer_agent_restarts_total', help: 'Agent process restarts by the supervisor', labelNames: ['agent'], registers: r }),
    bootRefusals: new client.Counter({ name: 'glimmer_boot_refusals_total', help: 'Boots refused by certificate validation or measured boot, by error code', labelNames: ['agent', 'code'], registers: r }),
    safetyIntegrityLevel: new client.Gauge({ name: 'safety_integrity_level', help: 'Safety integrity level the agent currently operates at (its zone\'s level)', labelNames: ['agent', 'zone'], registers: r }),
    requiredSafetyLevel: new client.Gauge({ name: 'required_safety_level', help: 'Safety integrity level the agent requires', labelNames: ['agent', 'zone'], registers: r }),
    safetyHolds: new client.Gauge({ name: 'glimmer_safety_holds', help: 'Safety holds in force on the agent (one per ordering agent, plus one when its configured levels disagree); the supervisor keeps it PAUSED while above 0', labelNames: ['agent'], registers: r }),
    // target_kind: agent|plant|unknown; code: a GLM_ERR_* code (bounded by the error catalogue).
    safetyOrderFailures: new client.Counter({ name: 'glimmer_safety_order_failures_total', help: 'Safety orders (shutdowns, holds, releases) that were not delivered or not enforced, by target kind and error code', labelNames: ['target_kind', 'code'], registers: r }),

    // --- industrial gateway (runtime/industrial) --- names fixed here so dashboards and alerts have one source.
    // zone: the zone of the addressed PLC register; function: Modbus function name (read_coils, write_single_register, ...);
    // decision: allow|deny; reason: a bounded code (policy, interlock, sanity, zone, ...). Never a client address.
    gatewayDecisions: new client.Counter({ name: 'glimmer_gateway_decisions_total', help: 'Gateway decisions on Modbus/OPC UA requests by target zone, function, decision and reason', labelNames: ['zone', 'function', 'decision', 'reason'], registers: r, collect: () => heldGatewayDecisions.forEach((take) => take()) }),
    heldGatewayDecisions,
    plcUp: new client.Gauge({ name: 'glimmer_plc_up', help: '1 when the gateway reached the PLC on its last poll, 0 when it did not', labelNames: ['plc'], registers: r }),
    // zone: the listener's (client's) zone; reason: malformed|oversize|slow_client|idle|overflow|peer|shutdown.
    gatewayConnections: new client.Gauge({ name: 'glimmer_gateway_connections', help: 'Open Modbus client connections at the gateway by client zone', labelNames: ['zone'], registers: r }),
    gatewayConnectionsRefused: new client.Counter({ name: 'glimmer_gateway_connections_refused_total', help: 'Modbus client connections refused or evicted by the connection budgets, by client zone and reason (listener_full|source_limit|evicted)', labelNames: ['zone', 'reason'], registers: r }),
    gatewayConnectionsClosed: new client.Counter({ name: 'glimmer_gateway_connections_closed_total', help: 'Modbus client connections closed by the gateway or the peer, by client zone and reason', labelNames: ['zone', 'reason'], registers: r }),
    processImageAge,
    revocationFeed,
    revocationFeedStale: new client.Gauge({
      name: 'glimmer_revocation_feed_stale',
      help: '1 while this runtime follows a revocation feed older than revocation.max_age_s (its enforcement points refuse every peer); 0 otherwise and on the authority',
      registers: r,
      collect() { this.set(revocationFeed.read?.().stale ? 1 : 0); },
    }),
    revocationFeedAge: new client.Gauge({
      name: 'glimmer_revocation_feed_age_seconds',
      help: 'Age of the signed revocation feed in force, by the authority\'s signing time (followers; 0 on the authority)',
      registers: r,
      collect() { this.set(revocationFeed.read?.().ageS ?? 0); },
    }),
    plantProcessImageAge: new client.Gauge({
      name: 'glimmer_plant_process_image_age_seconds',
      help: 'Seconds since the last complete poll of the external plant\'s PLCs (since polling started before the first one; 0 where no PLC is polled)',
      registers: r,
      collect() { this.set((processImageAge.read?.() ?? 0) / 1000); },
    }),
    gatewayUpstreamReconnects: new client.Counter({ name: 'glimmer_gateway_upstream_reconnects_total', help: 'Reconnection attempts of the gateway to an upstream PLC', labelNames: ['plc'], registers: r }),
    opcuaSessions: new client.Gauge({ name: 'glimmer_opcua_sessions', help: 'Activated sessions on the plant OPC UA server (created but never activated ones do not count)', registers: r }),
    opcuaCertificatesRejected: new client.Counter({ name: 'glimmer_opcua_certificates_rejected_total', help: 'OPC UA peer certificates refused (untrusted, revoked, out of policy), by side and OPC UA status', labelNames: ['side', 'status'], registers: r }),
    opcuaActivationFailures: new client.Counter({ name: 'glimmer_opcua_activation_failures_total', help: 'Refused OPC UA session activations (bad password, unknown user, refused token type), by OPC UA status', labelNames: ['status'], registers: r }),
    opcuaChannelRefusals: new client.Counter({ name: 'glimmer_opcua_channel_refusals_total', help: 'OpenSecureChannel requests the plant OPC UA server refused, by the OPC UA status of the ERR message sent', labelNames: ['status'], registers: r }),
    // role: server|client; application: plant-server or an industrial agent's name (bounded by the config).
    opcuaCertificateExpiry: new client.Gauge({ name: 'glimmer_opcua_certificate_expiry_timestamp_seconds', help: 'notAfter of an OPC UA application instance certificate Glimmer renews (the plant server\'s, each industrial agent client\'s), as a Unix timestamp', labelNames: ['role', 'application'], registers: r }),
    opcuaCertificateRenewBefore: new client.Gauge({ name: 'glimmer_opcua_certificate_renew_before_seconds', help: 'Renewal lead time of an OPC UA application certificate: it is renewed this many seconds before its notAfter', labelNames: ['role', 'application'], registers: r }),
    opcuaCertificateRenewals: new client.Counter({ name: 'glimmer_opcua_certificate_renewals_total', help: 'OPC UA application certificate renewals by role, application and outcome (renewed|failed)', labelNames: ['role', 'application', 'outcome'], registers: r }),
    // --- end industrial gateway ---

    // --- audit (runtime/audit) ---
    auditAppends: new client.Counter({ name: 'glimmer_audit_appends_total', help: 'Entries appended to the Merkle audit log and acknowledged as durable', registers: r }),
    auditCheckpointAge: new client.Gauge({ name: 'glimmer_audit_checkpoint_age_seconds', help: 'Seconds the oldest durable audit entry has waited for a signed checkpoint (0 while the latest checkpoint covers every entry)', registers: r }),
    auditTreeSize: new client.Gauge({ name: 'glimmer_audit_tree_size', help: 'Entries in the audit Merkle tree (durable)', registers: r }),
    auditCheckpointSize: new client.Gauge({ name: 'glimmer_audit_checkpoint_size', help: 'Tree size covered by the latest signed audit checkpoint', registers: r }),
    auditCheckpointFailures: new client.Counter({ name: 'glimmer_audit_checkpoint_failures_total', help: 'Failed attempts to sign an audit checkpoint, by signer kind (kms|pkcs11|file|ml-dsa|ephemeral)', labelNames: ['signer'], registers: r }),
    auditCommitDuration: new client.Histogram({ name: 'glimmer_audit_commit_duration_seconds', help: 'Duration of one audit group commit (transaction plus fsync)', buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], registers: r }),
    auditSegmentsSealed: new client.Counter({ name: 'glimmer_audit_segments_sealed_total', help: 'Audit segments closed with a sealed final checkpoint', registers: r }),
    auditDiskFree: new client.Gauge({ name: 'glimmer_audit_disk_free_bytes', help: 'Free bytes on the file system of the audit log, checked every checkpoint interval', registers: r }),
    auditDiskWatermark: new client.Gauge({ name: 'glimmer_audit_disk_watermark_bytes', help: 'Low-disk watermark of the audit log: free space below it fires AuditDiskLow', registers: r }),
    auditCommitFailing: new client.Gauge({ name: 'glimmer_audit_commit_failing', help: '1 while the audit log cannot commit (appends refused, writes to PLCs refused but the fail-safe direction); 0 otherwise', registers: r }),
    auditAggregated: new client.Counter({ name: 'glimmer_audit_aggregated_total', help: 'Audit records folded into a per-source aggregate record instead of being written one by one, by kind', labelNames: ['kind'], registers: r }),
    // --- end audit ---

    // --- trust (runtime/trust) ---
    certificateExpiry: new client.Gauge({ name: 'glimmer_certificate_expiry_timestamp_seconds', help: 'notAfter of the agent\'s current X.509 identity certificate, as a Unix timestamp', labelNames: ['agent'], registers: r }),
    // side: server|client; code: a GLM_ERR_CERT_* code or GLM_ERR_API_UNAUTHENTICATED (bounded by the error catalogue).
    tlsHandshakes: new client.Counter({ name: 'glimmer_tls_handshakes_total', help: 'Verified mTLS handshakes by side, negotiated key-exchange group (X25519MLKEM768 is hybrid post-quantum; unknown: a server in hybrid-preferred mode cannot read it) and post-quantum mode', labelNames: ['side', 'group', 'mode'], registers: r }),
    tlsRefusals: new client.Counter({ name: 'glimmer_tls_refusals_total', help: 'mTLS peers refused by SPIFFE certificate validation, by side and error code', labelNames: ['side', 'code'], registers: r }),
    svidRotations: new client.Counter({ name: 'glimmer_svid_rotations_total', help: 'X.509-SVIDs re-issued at half-life', labelNames: ['agent'], registers: r }),
    // function: <enforcement>_<action>, enforcement modbus|opcua|https|a2a, action read|write|shutdown|configure|call
    // (at most 20 values); decision: allow|deny.
    policyDecisions: new client.Counter({ name: 'glimmer_policy_decisions_total', help: 'Policy decisions by enforcement point and action, and outcome (frame cache hits included)', labelNames: ['function', 'decision'], registers: r }),
    // agent: the configured agent names (bounded); function and decision as above, checked by the supervisor.
    agentPolicyDecisions: new client.Counter({ name: 'glimmer_agent_policy_decisions_total', help: 'Policy decisions of the agents\' own PDPs (their A2A endpoints), reported to the supervisor, by agent, enforcement point and action, and outcome (glimmer_policy_decisions_total counts the supervisor process\'s own)', labelNames: ['agent', 'function', 'decision'], registers: r }),
    policyCacheLookups: new client.Counter({ name: 'glimmer_policy_cache_lookups_total', help: 'Frame decision cache lookups by outcome (hit|miss)', labelNames: ['outcome'], registers: r }),
    policyDecisionCacheLookups: new client.Counter({ name: 'glimmer_policy_decision_cache_lookups_total', help: 'PDP exact decision cache lookups (Agent and AuditConfig resources, copilots\' Tool reads) by outcome (hit|miss)', labelNames: ['outcome'], registers: r, collect: () => heldDecisionCacheLookups.forEach((take) => take()) }),
    heldDecisionCacheLookups,
    policyGeneration: new client.Gauge({ name: 'glimmer_policy_generation', help: 'Version of the policy set and model in force (increases on every reload or model change)', registers: r }),
    // --- end trust ---

    // --- reasoning (runtime/reasoning) ---
    // ruleset: the rule file's base name (bounded by config/cognitive.yml); asset: asset ids of the plant model (bounded).
    ruleEvaluations: new client.Counter({ name: 'glimmer_rule_evaluations_total', help: 'Safety and asset rule evaluations by ruleset and outcome (ok|violation|error)', labelNames: ['ruleset', 'outcome'], registers: r }),
    ruleEvaluationDuration: new client.Histogram({ name: 'glimmer_rule_evaluation_duration_seconds', help: 'Duration of one rule evaluation', labelNames: ['ruleset'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: r }),
    anomalyScore: new client.Gauge({ name: 'glimmer_anomaly_score', help: 'Latest anomaly score of the asset from the int8 model, 0..1', labelNames: ['asset'], registers: r }),
    // code: violation codes of the shipped rule files (bounded); target: plant asset ids and agent names (bounded).
    complianceViolations: new client.Counter({ name: 'glimmer_compliance_violations_total', help: 'Violations the rules logged through log_compliance_violation/2, counted when they appear, by code', labelNames: ['code'], registers: r }),
    safetyShutdownCommands: new client.Counter({ name: 'glimmer_safety_shutdown_commands_total', help: 'Shutdown commands sent because enforce_safety_shutdown/1 fired, by target', labelNames: ['target'], registers: r }),
    // --- end reasoning ---

    // --- northbound (runtime/northbound; set from the Data Agent's published status) ---
    // stream: the store-and-forward streams (safety|trend), bounded by the code.
    northboundQueueDepth: new client.Gauge({ name: 'glimmer_northbound_queue_depth', help: 'Records waiting in the northbound store-and-forward queue, by stream', labelNames: ['stream'], registers: r }),
    northboundQueueBytes: new client.Gauge({ name: 'glimmer_northbound_queue_bytes', help: 'Bytes the queued records take against their stream\'s budget, by stream', labelNames: ['stream'], registers: r }),
    northboundQueueAge: new client.Gauge({ name: 'glimmer_northbound_queue_oldest_age_seconds', help: 'Age of the oldest queued record, by stream (0 when empty)', labelNames: ['stream'], registers: r }),
    northboundQueueDropped: new client.Counter({ name: 'glimmer_northbound_queue_dropped_total', help: 'Queued records dropped by the overflow policy (oldest trends first; safety events never), by stream', labelNames: ['stream'], registers: r }),
    northboundBorn: new client.Gauge({ name: 'glimmer_northbound_born', help: '1 while the Sparkplug edge node\'s session is born (data flows live), else 0 (data is stored)', registers: r }),
    northboundMetrics: new client.Counter({ name: 'glimmer_northbound_metrics_total', help: 'Sparkplug metrics published live (births and data)', registers: r }),
    northboundReplayed: new client.Counter({ name: 'glimmer_northbound_replayed_total', help: 'Stored records replayed to the broker and confirmed (PUBACK)', registers: r }),
    // --- end northbound ---
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
