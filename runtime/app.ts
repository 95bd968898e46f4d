/**
 * The runtime app factory: config -> state dir -> audit log -> PKI -> plant (embedded simulation, or the gateway in
 * front of real PLCs: plant.mode external) -> supervisor -> API.
 * Separate from the process entry (`glimmer run`) so tests start the real thing on port 0 in-process.
 */
// Every import is static: the runtime is bundled into the CLI and loaded only by `glimmer run`, and what an
// `await import()` could defer here is the plant branch not taken, measured at 5-27 ms of module load (tsx, load
// average about 20) against 0.6-1.6 s for the rest, which is no measurable cut of cold start.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { routePolicyCheck } from './api/auth';
import { wireConsole } from './api/console/view-model';
import type { Route } from './api/router';
import { auditRoutes } from './api/routes/audit';
import { consoleRoutes } from './api/routes/console';
import { decisionRoutes } from './api/routes/decisions';
import { entriesOf } from './audit/explain';
import { eventRoutes } from './api/routes/events';
import { clearFault, injectFault, plantRoutes } from './api/routes/plant';
import { externalPlantRoutes } from './api/routes/plant-external';
import { opcuaRoutes } from './api/routes/opcua';
import { trustRoutes } from './api/routes/trust';
import { systemRoutes } from './api/routes/system';
import { createApiServer, type ApiServer } from './api/server';
import { shiftReports } from './agents/data/shift-reports';
import { AuditGovernor, gatewayEvidence, governedSink } from './audit/governor';
import { openAuditLog, type AuditLog } from './audit/log';
import { loadConfig, REPO_ROOT } from './config/load';
import { applyTlsPqMode, tlsGroupOptions } from './trust/pq-tls';
import { checkExternalPlantFiles } from './config/plant';
import { selectAgent } from './config/select';
import type { AgentSpec, RuntimeConfig, Zone } from './config/types';
import { GlimmerError, asGlimmerError } from './errors';
import { startEmbeddedPlant, type EmbeddedPlant } from './industrial/embedded';
import { startExternalPlant, type ExternalPlantConnection } from './industrial/external';
import { opcuaRevocationGate, type OpcuaRevocationGate } from './industrial/opcua/revocation-gate';
import { OpcuaUserStore, operatorName } from './industrial/opcua/users';
import { levelChanges } from './config/reload';
import type { GatewayAuditRecord, GatewayAuditSink, WriteEvidence } from './industrial/modbus/inspector';
import { rulesPins } from './config/rules-dir';
import { assertDurableStore, type ClusterSettings, clusterSettings, isClusterMode } from './lifecycle/cluster';
import type { AuditLogOptions } from './audit/log';
import type { PlantRuntime } from './industrial/plant/runtime';
import type { PolledProcessImage } from './industrial/process-image';
import type { WriteDecider } from './industrial/write-decision';
import type { ReadPolicy } from './industrial/read-decision';
import { CONFIG_PINS_ENV, type ConfigPins, parseConfigPins } from './lifecycle/config-pins';
import { PUBLIC_KEY_FILE, pinReleaseKey } from './lifecycle/release';
import { ensureAdminToken, ensureStateDir } from './lifecycle/state-dir';
import { Supervisor, type AgentView } from './lifecycle/supervisor';
import type { AuditAppender, AuditRecordInput } from './model/messages';
import { PROCESS_ZONE, type FaultKind, type PlantSnapshot } from './model/plant';
import { plantMap } from './model/plant-map';
import { signalValue } from './industrial/plant/map';
import { Readiness, type Condition } from './observability/health';
import { createLogger, type Logger } from './observability/logger';
import { createMetrics, type Metrics } from './observability/metrics';
import { reasoningSettings } from './reasoning/config';
import { observeCognitiveRecord, observeCognitiveStatus } from './reasoning/observe';
import { observeNorthboundStatus } from './northbound/observe';
import { ensureCa, loadCa } from './trust/ca';
import { trustMetricHooks } from './trust/metrics';
import { createMtlsHttpServer, peerIdentity } from './trust/mtls';
import { RevocationFeed } from './trust/revocation-feed';
import { agentSpiffeId } from './trust/spiffe';
import { createApiAuthorizer } from './trust/policy/api';
import { createFrameDecider, gatewayDecide, gatewayReadPolicy } from './trust/policy/frame-decider';
import { PolicyDecisionPoint } from './trust/policy/pdp';
import { SvidSource } from './trust/rotation';
import { issueSvid, validateSvid } from './trust/svid';
import { identitySource, parsePolicyPins, PCR_POLICY_ENV } from './lifecycle/attestation/identity';
import { Attestor } from './lifecycle/attestation/attestor';
import { Tpm } from './lifecycle/attestation/tpm';
import { MANIFEST_FILE } from './lifecycle/release';
import { launchArtifacts } from './agents/artifacts';

/** Topic of the Data Agent's export requests (runtime/agents/data.ts). */
const EXPORT_TOPIC = 'records.export';
/** runtime/agents/data/northbound.ts SIGNALS_TOPIC and SAFETY_EVENT_TOPIC (not imported: that module pulls in the MQTT client). */
const NORTHBOUND_SIGNALS_TOPIC = 'plant.signals';
const NORTHBOUND_SAFETY_EVENT_TOPIC = 'safety.event';
const SHIFT_REPORT_INTERVAL_MS = 10_000;

export interface RuntimeOptions {
  /** @default config/glimmer.yml */
  readonly configFile?: string;
  /** @default .glimmer */
  readonly stateDir?: string;
  /** API port; 0 picks a free one. @default the config's api.port (8080) */
  readonly apiPort?: number;
  /** mTLS API port (client X.509-SVIDs); 0 picks a free one. @default the config's api.mtls_port (8443) */
  readonly apiMtlsPort?: number;
  /** First gateway listener port (operations; the other zones on the next ones). @default 5020 (embedded), the
   *  config's plant.external.gateway.ports (external) */
  readonly modbusPort?: number;
  /** The embedded plant's OPC UA server (unused with plant.mode external). @default 4840 */
  readonly opcuaPort?: number;
  /** Run only this agent of the configuration (one agent per pod). @default GLIMMER_AGENT, else every agent */
  readonly agent?: string;
  /** Pins of configuration files outside the release (a pod's ConfigMap). @default parsed from GLIMMER_CONFIG_SHA256 */
  readonly configPins?: ConfigPins;
  /** Root the release artifacts are measured from. @default the repository root */
  readonly root?: string;
  readonly logger?: Logger;
  /** Receives the agents' stderr. @default - agents write to this process's stderr */
  readonly agentStderr?: (chunk: Buffer, agent: string) => void;
}

export interface Runtime {
  readonly config: RuntimeConfig;
  readonly stateDir: string;
  readonly adminToken: string;
  readonly metrics: Metrics;
  readonly supervisor: Supervisor;
  /** GET /readyz's named conditions; register more with `readiness.register(name, check)`. */
  readonly readiness: Readiness;
  readonly audit: AuditLog;
  /** The simulated plant (plant.mode embedded); undefined against real PLCs. */
  readonly plant: PlantRuntime | undefined;
  /** The process image polled from the real PLCs (plant.mode external, where this process runs the gateway). */
  readonly processImage: PolledProcessImage | undefined;
  readonly apiPort: number;
  readonly apiMtlsPort: number;
  /** Embedded: where the plant listens (opcua, modbus_<zone>, plc_modbus). External: the gateway listeners
   *  (modbus_<zone>), the plant's OPC UA server (opcua) and the PLCs (plc_<zone>). */
  readonly endpoints: Readonly<Record<string, string>>;
  readonly consoleUrl: string;
  /**
   * Re-reads the configuration file and applies new zone security levels and required safety levels (SIGHUP in
   * `glimmer run`): safety holds follow at once. Anything else changed refuses the whole reload
   * (GLM_ERR_CONFIG_RELOAD_REFUSED). Returns the changes applied.
   */
  reload(): Promise<string[]>;
  stop(reason?: string): Promise<void>;
}

/**
 * GLIMMER_AUDIT_COSIGNING_KEY names a KMS ML_DSA_44 key (stacks: the audit cosigner key): every checkpoint then also
 * carries its C2SP tlog-cosignature v1.1 ML-DSA-44 cosignature, named GLIMMER_AUDIT_COSIGNER_NAME
 * (default glimmer.local/audit-cosigner).
 */
export async function auditCosigners(env: NodeJS.ProcessEnv = process.env) {
  const keyId = env.GLIMMER_AUDIT_COSIGNING_KEY;
  if (keyId === undefined || keyId === '') return [];
  const [{ kmsSigner }, { c2spCosigner }, https] = await Promise.all([import('./audit/kms'), import('./audit/cosignature'), import('node:https')]);
  const keyName = env.GLIMMER_AUDIT_COSIGNER_NAME || 'glimmer.local/audit-cosigner';
  // The KMS link uses the runtime's post-quantum TLS mode like every other link.
  const httpsAgent = new https.Agent({ keepAlive: true, ...tlsGroupOptions() });
  return [c2spCosigner(await kmsSigner({ keyId, keyName, keySpec: 'ML_DSA_44', httpsAgent }))];
}

export async function startRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger();
  // One agent per pod when GLIMMER_AGENT (or --agent) names it; the whole swarm otherwise.
  let fullConfig = loadConfig(options.configFile);
  // Before any TLS link exists or agent is forked: they read the mode from this process (and its environment).
  applyTlsPqMode(fullConfig.topology.tls_pq_mode);
  const config = selectAgent(fullConfig, options.agent ?? process.env.GLIMMER_AGENT);
  checkExternalPlantFiles(config);
  const configPins = options.configPins ?? { ...parseConfigPins(process.env[CONFIG_PINS_ENV]), ...rulesPins() };
  const root = options.root ?? REPO_ROOT;
  // Cluster mode: the provisioned KMS keys, bucket and volume, or no start at all (checked before anything is created).
  const cluster = isClusterMode() ? clusterSettings() : undefined;
  if (cluster) assertDurableStore(path.resolve(options.stateDir ?? '.glimmer'));
  const stateDir = ensureStateDir(options.stateDir ?? '.glimmer');
  const adminToken = ensureAdminToken(stateDir);
  const metrics = createMetrics();

  const shippedKey = path.join(root, PUBLIC_KEY_FILE);
  if (!fs.existsSync(shippedKey)) throw new GlimmerError('GLM_ERR_BOOT_MANIFEST_INVALID', `${shippedKey} is missing; run \`make build\` to bundle and sign the release`);
  const releaseKeyPem = pinReleaseKey(stateDir, fs.readFileSync(shippedKey, 'utf8'));

  const stack: (() => Promise<void>)[] = [];
  let stopped: Promise<void> | undefined;
  const unwind = async () => {
    for (const close of stack.reverse()) await close().catch((err: Error) => logger.error({ err: err.message }, 'shutdown step failed'));
  };
  try {
    const cosigners = await auditCosigners();
    // A C2SP cosignature signs a 32-byte root: a new log with a cosigner is hashed with SHA-256 (an existing log keeps its own).
    const audit = await openAuditLog({ stateDir, logger, metrics, cosigners, ...(cosigners.length > 0 ? { algorithm: 'RFC9162_SHA256' as const } : {}), ...(cluster ? await clusterAudit(cluster, logger) : {}) });
    stack.push(() => audit.close());
    // Durable records also go to the console (its decision timeline and alarms), once it is wired.
    let onDurable: (record: AuditRecordInput, index: number) => void = () => undefined;
    const sink: AuditAppender = {
      append: (record) => audit.append(record).then((r) => {
        onDurable(record, r.index);
        return r;
      }),
    };
    // Fire-and-forget appends (gateway batches, policy decisions) must never become unhandled rejections: a failed
    // audit log fails closed (appends refused, alertable) but does not crash the plant's gateway. Refused appends are
    // logged once and then summarised every 10 s: a flood must not move from the audit log into the process log.
    const refusedLog = { count: 0, lastAt: 0 };
    const appendFailed = (err: Error, type: string) => {
      refusedLog.count += 1;
      const now = Date.now();
      if (now - refusedLog.lastAt < 10_000) return;
      logger.error({ err: err.message, type, refused: refusedLog.count }, 'audit append failed');
      refusedLog.lastAt = now;
      refusedLog.count = 0;
    };
    const appendNow = (r: AuditRecordInput) => {
      audit.append(r).catch((err: Error) => appendFailed(err, r.type));
    };
    // Per-source budget: refusals, reads and TLS refusals beyond it are aggregated (runtime/audit/governor.ts).
    const governor = new AuditGovernor({ sink: appendNow, metrics });
    stack.push(async () => governor.close());
    const record = governedSink(governor, appendNow);
    await audit.append({ type: 'runtime.start', config: path.basename(config.file), deployment_model: config.topology.deployment_model });

    // Cluster mode: every pod's SVIDs chain to the one mounted CA, so agents in other pods verify them.
    const ca = cluster ? await loadCa(cluster.trustCaDir, config.topology.trust_domain) : await ensureCa(stateDir, config.topology.trust_domain);
    const attestation = config.attestation.mode === 'tpm' ? await startAttestation(config, fullConfig, { stateDir, root, configPins, audit: record }) : undefined;
    // The revocation list: this runtime is its authority (signs and pushes the feed) unless revocation.feed_url names
    // the authority it follows (runtime/trust/revocation-feed.ts).
    const trustDomain = config.topology.trust_domain;
    let feedErrorAt = 0;
    const revocations = await RevocationFeed.start({
      trustDomain, bundlePem: ca.bundlePem, stateDir, audit: record,
      refreshMs: config.revocation.refreshMs, maxAgeMs: config.revocation.maxAgeMs,
      ...(config.revocation.feedUrl === undefined ? { ca } : { feedUrl: config.revocation.feedUrl }),
      onFetchError: (err) => {
        // One line per 10 s: the staleness that follows is audited and on /readyz.
        if (Date.now() - feedErrorAt < 10_000) return;
        feedErrorAt = Date.now();
        logger.error({ code: err.code, reason: err.message }, 'revocation feed not refreshed');
      },
    });
    stack.push(async () => revocations.close());
    metrics.revocationFeed.read = () => ({ stale: revocations.list.stale, ageS: (revocations.list.feedAgeMs ?? 0) / 1000 });
    // The plant OPC UA server's gate (set once the embedded plant runs): an agent whose SVID or SPIFFE ID is revoked
    // loses its OPC UA sessions too.
    let opcuaGate: OpcuaRevocationGate | undefined;
    const localAgents = new Map(config.agents.map((a) => [agentSpiffeId(trustDomain, a.zone, a.name), a.name]));
    revocations.list.onRevoke((target) => {
      for (const id of revocations.identitiesOf(target)) {
        const agent = localAgents.get(id);
        if (agent !== undefined && opcuaGate !== undefined) void opcuaGate.revoked(agent, id, target.kind === 'serial' ? target.serial : null);
      }
      return 0;
    });
    const issueIdentity = identitySource({ ca, ...(attestation ? { attestation } : {}) });
    // A revoked SPIFFE ID is issued nothing; every SVID issued is remembered (a revocation by serial names its owner).
    const identityFor = async (spec: AgentSpec) => {
      revocations.assertIssuable(agentSpiffeId(trustDomain, spec.zone, spec.name));
      const identity = await issueIdentity(spec);
      const issued = validateSvid(identity.certPem, { bundlePem: identity.bundlePem, trustDomain });
      revocations.issued(issued);
      // Which serial went to whom: what an operator revokes by (`glimmer trust revoke <serial>`).
      record({ type: 'trust.svid_issued', agent: spec.name, serial: issued.serial, peer: issued.spiffeId, not_after: issued.notAfter.toISOString() });
      await opcuaGate?.reissued(spec.name);
      return identity;
    };
    // One zone model for every enforcement point: the PDP decides API calls and (cached) every Modbus write.
    const hooks = trustMetricHooks(metrics);
    // OPC UA role accounts are Cedar operators (opcua-<name>, roles = the account's role): one policy decides them.
    let accountsChanged: () => void = () => undefined;
    const opcuaAccounts = new OpcuaUserStore(stateDir, () => accountsChanged());
    // The whole zone model, even when this process supervises one agent: its peers must stay known principals.
    const policyModel = (c: RuntimeConfig) => ({
      trustDomain: c.topology.trust_domain, zones: c.zones, conduits: c.conduits, agents: c.agents, topology: c.topology,
      operators: opcuaAccounts.list().map((a) => ({ name: operatorName(a.name), zone: a.zone, roles: [a.role] })),
    });
    const pdp = await PolicyDecisionPoint.create({
      model: policyModel(fullConfig),
      audit: record,
      onDecision: hooks.onDecision,
      validatedDir: path.join(stateDir, 'cache', 'cedar-validated'),
    });
    // A provisioned or removed account changes the Cedar operators at once.
    accountsChanged = () => pdp.setModel(policyModel(fullConfig));
    const frames = createFrameDecider(pdp, { plantMap: plantMap(), audit: record, auditDecisions: 'deny', onLookup: hooks.onLookup, onDecision: hooks.onFrameDecision });
    hooks.watchPolicy(pdp);
    hooks.watchDecisionCache(pdp);
    // Step 1 of the write decision; the plant composes the interlock steps on its own process image.
    const policy = gatewayDecide(frames, config.topology.trust_domain);
    // Reads obey the same zone model: Cedar `register-read` per zone, answered once per range and policy version.
    const readPolicy = gatewayReadPolicy(frames, config.topology.trust_domain);
    // Gateway decisions arrive in batches; they go to the audit log (group commit) and to the console.
    let onGatewayRecords: GatewayAuditSink = () => undefined;
    const gatewayAudit = (records: GatewayAuditRecord[]) => {
      for (const r of records) record(r);
      onGatewayRecords(records);
    };
    // Control follows evidence: an allowed write's record is durable before the PLC sees the write (governor.ts).
    const evidence: WriteEvidence = gatewayEvidence(governor, audit, (r) => onGatewayRecords([r]));
    const plant = await startPlant({ config, fullConfig, stateDir, logger, metrics, audit: gatewayAudit, evidence, policy, readPolicy, options, opcuaAccounts, opcuaAudit: (records) => { for (const r of records) record(r); } });
    stack.push(() => plant.stop());
    // Agents boot with the whole swarm's configuration (their peers, the cognitive rules' agent facts); this process
    // supervises only the selected ones.
    const supervisor = new Supervisor({
      config: fullConfig,
      agents: config.agents,
      stateDir,
      root,
      logger,
      metrics,
      audit: sink,
      releaseKeyPem,
      configPins,
      endpoints: plant.endpoints,
      identityFor,
      ...(options.agentStderr ? { agentStderr: options.agentStderr } : {}),
    });
    stack.push(() => supervisor.stop());
    // The control channel carries the signed feed to every agent (their A2A endpoints and clients enforce it).
    revocations.onFeed((feed) => supervisor.pushRevocation(feed));
    // The embedded plant's OPC UA server also shows each agent's state and latest decision (folder Agents/<agent>).
    // A real plant's server is not ours to write to: there the agents' state is on the API and the console only.
    const opcuaServer = plant.embedded?.opcua;
    // The server's own store: it knows the OPC UA issuer and closes sessions on revoke.
    const opcuaTrust = opcuaServer?.trust;
    if (opcuaServer && opcuaTrust) {
      opcuaGate = opcuaRevocationGate({
        stateDir, trust: opcuaTrust, dropPeer: (t) => opcuaServer.dropPeer(t), audit: record,
        onError: (err, agent) => logger.error({ agent, err: (err as Error).message }, 'OPC UA trust list not updated for a revocation'),
      });
      supervisor.on('transition', (t: { agent: string; to: string }) => opcuaServer.publishAgent(t.agent, t.to));
      supervisor.on('status', (agent: string, status: Record<string, unknown>) => {
        const state = supervisor.agents().find((a) => a.id === agent)?.state ?? 'ACTIVE';
        opcuaServer.publishAgent(agent, state, status);
      });
    }
    // Agents run in their own processes: their reasoning metrics are derived here from what they report.
    const lastStatus = new Map<string, unknown>();
    supervisor.on('audit', (_agent: string, r: AuditRecordInput) => observeCognitiveRecord(metrics, r));
    // Safety shutdowns go northbound too (the Sparkplug safety_events device, in the never-dropped safety stream).
    const nb = config.northbound;
    if (nb !== undefined && config.agents.some((a) => a.name === nb.agent)) {
      supervisor.on('audit', (_agent: string, r: AuditRecordInput) => {
        if (r.type !== 'industrial.shutdown') return;
        supervisor.deliver({ from: 'runtime', to: nb.agent, topic: NORTHBOUND_SAFETY_EVENT_TOPIC, body: { time_ms: Date.now(), target: r.target, outcome: r.outcome, codes: r.codes ?? [] } });
      });
    }
    supervisor.on('status', (agent: string, status: Record<string, unknown>) => {
      observeCognitiveStatus(metrics, status, lastStatus.get(agent));
      observeNorthboundStatus(metrics, status, lastStatus.get(agent));
      lastStatus.set(agent, status);
    });

    const wired = wireConsole({
      supervisor,
      zones: config.zones,
      metrics,
      plant: plant.snapshots,
      audit,
      scoreThreshold: reasoningSettings(config.cognitive).threshold,
    });
    onGatewayRecords = (records) => wired.onGatewayRecords(records);
    onDurable = (r, index) => wired.onAuditRecord(r, index);
    stack.push(async () => wired.stop());

    // Readiness: one named condition per subsystem; another subsystem adds its own with readiness.register().
    const readiness = new Readiness()
      .register('agents', () => agentsReady(supervisor.agents()))
      .register('audit', () => {
        const h = audit.health();
        return h.committing ? { ok: true } : { ok: false, reason: h.reason ?? 'the audit log cannot commit' };
      })
      .register('plant_image', () => (plant.image() === undefined ? { ok: false, reason: plant.whyNoImage() } : { ok: true }))
      .register('shutdown', () => (stopped === undefined ? { ok: true } : { ok: false, reason: 'shutting down' }))
      .register('safety_orders', () => supervisor.safetyOrders.condition())
      .register('revocation', () => revocations.condition());
    const routes: Route[] = [
      ...systemRoutes({ agents: () => supervisor.agents(), registry: metrics.registry, readiness }),
      ...auditRoutes(audit),
      ...(plant.embedded ? plantRoutes(plant.embedded.plant, sink) : externalPlantRoutes(plant.image, plant.whyNoImage)),
      ...consoleRoutes(wired.view),
      ...eventRoutes(wired.view),
      ...decisionRoutes(entriesOf(audit), wired.view.alarmBook, sink),
      ...(config.mcp ? (await import('./api/mcp/index')).mcpEndpoint({
        config: config.mcp, pdp, audit, image: plant.image, gatewayPolicy: policy, view: wired.view, endpoints: plant.endpoints,
        // The MCP door: a caller on a revoked SVID (mTLS listener) or whose token names a revoked SPIFFE ID is refused.
        gate: (req, principal) => {
          const peer = peerIdentity(req);
          const subject = principal.id.slice(principal.id.indexOf('#') + 1);
          revocations.check('mcp', { ...(peer ? { serial: peer.serial, spiffeId: peer.spiffeId } : subject.startsWith('spiffe://') ? { spiffeId: subject } : {}) });
        },
      }).routes : []),
      ...trustRoutes(revocations, { bundlePem: ca.bundlePem, trustDomain }),
    ];
    if (opcuaServer && opcuaTrust) {
      routes.push(...opcuaRoutes({ trust: opcuaTrust, ...(plant.embedded?.certificates ? { certificates: plant.embedded.certificates } : {}), accounts: opcuaAccounts, defaultZone: PROCESS_ZONE, audit: sink }));
    }
    const api: ApiServer = createApiServer({ adminToken, routes, logger, authorize: routePolicyCheck(createApiAuthorizer(pdp)), allowedHosts: config.api.allowedHosts });
    const apiPort = await listening('API', config.api.host, options.apiPort ?? config.api.port, (port, host) => api.listen(port, host));
    stack.push(() => api.close());
    logger.info({ host: config.api.host, port: apiPort }, 'api listening');
    // Machine clients (agents, CI) call the same API over TLS 1.3 with their X.509-SVID instead of the bearer token.
    const apiZone = config.zones.find((z) => z.name === config.topology.control_zone.toLowerCase())?.name ?? (config.zones[0] as Zone).name;
    const apiIdentity = await SvidSource.start({
      issue: async () => {
        const svid = await issueSvid(ca, { zone: apiZone, agent: 'api' });
        revocations.issued(svid);
        return svid;
      },
      bundlePem: ca.bundlePem,
      trustDomain: config.topology.trust_domain,
      audit: record,
      onExpiry: hooks.onExpiry('api'),
    });
    const mtls = createMtlsHttpServer({ source: apiIdentity, revocation: revocations.list, audit: record, onRefusal: hooks.onRefusal, onHandshake: hooks.onHandshake }, api.handler);
    const apiMtlsPort = (await listening('mTLS API', config.api.host, options.apiMtlsPort ?? config.api.mtlsPort, (port, host) => mtls.listen(port, host))).port;
    stack.push(async () => {
      await mtls.close();
      apiIdentity.stop();
    });
    // A follower fetches the authority's feed with the API's SVID.
    revocations.follow(apiIdentity);

    await supervisor.start();
    if (plant.embedded) {
      const faultTimers = scheduleFaults(config, plant.embedded.plant, sink, logger);
      stack.push(async () => faultTimers.forEach((t) => clearTimeout(t)));
    }
    const reports = feedDataAgents(config, supervisor, plant.image, logger);
    stack.push(async () => clearInterval(reports));
    const northbound = feedNorthbound(config, supervisor, plant.image);
    if (northbound) stack.push(async () => clearInterval(northbound));
    const consoleUrl = `http://${config.api.host}:${apiPort}/#token=${adminToken}`;
    let reloading = Promise.resolve<unknown>(undefined);
    const reload = async (): Promise<string[]> => {
      try {
        const file = fullConfig.file;
        const rel = path.relative(root, file);
        // A file of the signed release is measured against its manifest at every agent start: changing it is a new
        // release (make build), not a reload.
        if (!rel.startsWith('..') && !path.isAbsolute(rel)) {
          throw new GlimmerError('GLM_ERR_CONFIG_RELOAD_REFUSED', `${file} is part of the signed release; rebuild (make build) and restart to change it, or run with --config on a deployment copy`);
        }
        const sha = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
        const next = loadConfig(file);
        if (crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') !== sha) throw new GlimmerError('GLM_ERR_CONFIG_RELOAD_REFUSED', `${file} changed while it was being reloaded; send SIGHUP again`);
        const changes = levelChanges(fullConfig, next);
        if (changes.length > 0) {
          fullConfig = next;
          pdp.setModel(policyModel(next));
          // Agents restarted from now on measure the file that was applied (its earlier pin no longer matches it).
          supervisor.applyLevels(next, { ...configPins, [path.basename(file)]: sha });
        }
        await audit.append({ type: 'config.reload', config: path.basename(next.file), sha256: sha, changes });
        logger.info({ changes }, 'configuration reloaded');
        return changes;
      } catch (err) {
        const e = asGlimmerError(err);
        record({ type: 'config.reload_refused', code: e.code, message: e.message.slice(0, 300) });
        logger.error({ code: e.code, reason: e.message }, 'configuration reload refused');
        throw e;
      }
    };

    return {
      config,
      stateDir,
      adminToken,
      metrics,
      supervisor,
      readiness,
      audit,
      plant: plant.embedded?.plant,
      processImage: plant.external?.image,
      apiPort,
      apiMtlsPort,
      endpoints: plant.endpoints,
      consoleUrl,
      reload() {
        // One reload at a time, in the order the signals came.
        const next = reloading.then(reload);
        reloading = next.catch(() => undefined);
        return next;
      },
      stop(reason = 'shutdown') {
        stopped ??= (async () => {
          // Agents first (they write their final audit records), then the API, the plant and the audit log.
          await supervisor.stop(reason);
          // The runtime's last own record, before the log seals its final checkpoint.
          await audit.append({ type: 'runtime.stop', reason }).catch((err: Error) => appendFailed(err, 'runtime.stop'));
          await unwind();
        })();
        return stopped;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/**
 * Cluster mode's audit log: checkpoints signed by the stack's KMS key (its public key is fetched now, so a key that
 * is missing or of the wrong kind stops the start), sealed segments archived to the Object Lock bucket.
 */
async function clusterAudit(cluster: ClusterSettings, logger: Logger): Promise<Pick<AuditLogOptions, 'signer' | 'archive'>> {
  const { kmsSigner } = await import('./audit/kms');
  const { s3SegmentArchive } = await import('./audit/archive');
  const signer = await kmsSigner({ keyId: cluster.signingKey, keyName: 'glimmer.cluster/audit', maxAttempts: 3 });
  const archive = await s3SegmentArchive({ bucket: cluster.bucket, prefix: cluster.prefix, retention: cluster.retention });
  logger.info({ signer: 'kms', key: cluster.signingKey, algorithm: signer.algorithm, archive: archive.location, retention: cluster.retention }, 'cluster mode: audit checkpoints signed by KMS, sealed segments archived');
  return { signer, archive };
}

/** Listens, or refuses with GLM_ERR_API_LISTEN_FAILED naming the listener, host, port and reason (e.g. EADDRINUSE). */
async function listening<T>(what: string, host: string, port: number, listen: (port: number, host: string) => Promise<T>): Promise<T> {
  try {
    return await listen(port, host);
  } catch (err) {
    throw new GlimmerError('GLM_ERR_API_LISTEN_FAILED', `the ${what} cannot listen on ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

/** Ready when every agent runs (ACTIVE or PAUSED): not while one boots, was refused or crash-loops. */
function agentsReady(agents: readonly AgentView[]): Condition {
  const bad = agents.filter((a) => a.state !== 'ACTIVE' && a.state !== 'PAUSED');
  if (bad.length === 0) return { ok: true };
  return { ok: false, reason: bad.map((a) => `${a.id} ${a.state}${a.last_error ? ` (${a.last_error.code})` : ''}`).join(', ') };
}

/** The demo's fault schedule (config plant.fault_schedule): each fault is injected once and cleared at its clear_at_s, audited. */
function scheduleFaults(config: RuntimeConfig, plant: PlantRuntime, audit: AuditAppender, logger: Logger): NodeJS.Timeout[] {
  return config.plant.faultSchedule.flatMap((entry) => {
    const at = (s: number, what: string, act: () => Promise<void>): NodeJS.Timeout => {
      const timer = setTimeout(() => {
        act().then(
          () => logger.info({ asset: entry.asset, fault: entry.fault }, `scheduled fault ${what}`),
          (err: Error) => logger.error({ asset: entry.asset, fault: entry.fault, err: err.message }, `scheduled fault not ${what}: refused or not audited`),
        );
      }, s * 1000);
      timer.unref();
      return timer;
    };
    const timers = [at(entry.at_s, 'injected', () => injectFault(plant, audit, entry.asset, entry.fault as FaultKind, 'fault_schedule'))];
    if (entry.clear_at_s !== undefined) timers.push(at(entry.clear_at_s, 'cleared', () => clearFault(plant, audit, entry.asset, 'fault_schedule')));
    return timers;
  });
}

/**
 * Hands shift reports to every Data Agent for the enterprise zone (the embedded default's business flow), built from
 * the process image: the simulation's, or the one polled from the real PLCs. Without a fresh image (PLCs unreachable,
 * or a pod that polls no PLC) no report is made up: the tick is skipped and logged once per outage.
 */
function feedDataAgents(config: RuntimeConfig, supervisor: Supervisor, image: () => PlantSnapshot | undefined, logger: Logger): NodeJS.Timeout {
  let skipping = false;
  const timer = setInterval(() => {
    const snapshot = image();
    if (snapshot === undefined) {
      if (!skipping && config.agents.some((a) => a.kind === 'data')) logger.warn('shift reports skipped: no fresh process image (external plant unreachable, or this process polls no PLC)');
      skipping = true;
      return;
    }
    skipping = false;
    const records = shiftReports(snapshot);
    for (const agent of config.agents.filter((a) => a.kind === 'data')) {
      supervisor.deliver({ from: 'runtime', to: agent.name, topic: EXPORT_TOPIC, body: { to_zone: 'enterprise', records } });
    }
  }, SHIFT_REPORT_INTERVAL_MS);
  timer.unref();
  return timer;
}

/**
 * Hands the plant's signal values to the Data Agent that runs the Sparkplug edge node (config northbound), every
 * publish interval, stamped with the wall clock (Sparkplug timestamps are epoch milliseconds). Without a fresh image
 * nothing is sent: no value is made up; the edge node reports by exception from what it has.
 */
function feedNorthbound(config: RuntimeConfig, supervisor: Supervisor, image: () => PlantSnapshot | undefined): NodeJS.Timeout | undefined {
  const nb = config.northbound;
  if (nb === undefined || !config.agents.some((a) => a.name === nb.agent)) return undefined;
  const map = plantMap();
  const timer = setInterval(() => {
    const snapshot = image();
    if (snapshot === undefined) return;
    const values: Record<string, number | boolean> = {};
    for (const e of map) values[e.id] = signalValue(snapshot, e);
    supervisor.deliver({ from: 'runtime', to: nb.agent, topic: NORTHBOUND_SIGNALS_TOPIC, body: { time_ms: Date.now(), values } });
  }, nb.publishIntervalMs);
  timer.unref();
  return timer;
}

interface StartedPlant {
  readonly endpoints: Readonly<Record<string, string>>;
  /** The latest process image (undefined: none fresh, interlocked writes fail closed). */
  readonly image: () => PlantSnapshot | undefined;
  /** Why there is no image (for the API's 503). */
  readonly whyNoImage: () => string;
  /** Images as they arrive (the console), or undefined when this process has none. */
  readonly snapshots: ConsolePlantSource | undefined;
  readonly embedded?: EmbeddedPlant;
  readonly external?: ExternalPlantConnection;
  stop(): Promise<void>;
}
type ConsolePlantSource = { onSnapshot(listener: (snapshot: PlantSnapshot) => void): () => void };

/**
 * plant.mode embedded: the simulated plant, its PLC, its OPC UA server and the gateway in front (the demo).
 * plant.mode external: only the gateway in front of the configured PLCs and the process image polled from them, and
 * only where an Industrial Agent runs (or the whole swarm): a Cognitive or Data Agent pod never reaches level 1-2.
 */
async function startPlant(o: {
  config: RuntimeConfig; fullConfig: RuntimeConfig; stateDir: string; logger: Logger; metrics: Metrics;
  audit: GatewayAuditSink; evidence: WriteEvidence; policy: WriteDecider; readPolicy: ReadPolicy; options: RuntimeOptions;
  opcuaAccounts: OpcuaUserStore; opcuaAudit: (records: AuditRecordInput[]) => void;
}): Promise<StartedPlant> {
  const { config, logger } = o;
  if (config.plant.mode === 'external') {
    const wholeSwarm = config.agents.length === o.fullConfig.agents.length;
    const external = await startExternalPlant({
      config, stateDir: o.stateDir, logger, metrics: o.metrics, audit: o.audit, evidence: o.evidence, policy: o.policy, readPolicy: o.readPolicy, modbusPort: o.options.modbusPort,
      gateway: wholeSwarm || config.agents.some((a) => a.kind === 'industrial'),
    });
    const image = external.image;
    return {
      endpoints: external.endpoints,
      image: () => image?.snapshot,
      whyNoImage: () => (image === undefined ? 'this process supervises no Industrial Agent, so it polls no PLC' : `the PLCs did not answer within stale_after_ms (${image.error ?? 'no answer yet'})`),
      snapshots: image,
      external,
      stop: () => external.stop(),
    };
  }
  const embedded = await startEmbeddedPlant({
    config, stateDir: o.stateDir, logger, metrics: o.metrics, audit: o.audit, evidence: o.evidence, policy: o.policy, readPolicy: o.readPolicy,
    modbusPort: o.options.modbusPort ?? 5020,
    opcuaPort: o.options.opcuaPort ?? o.config.opcua.port,
    opcuaAccounts: o.opcuaAccounts,
    opcuaAudit: o.opcuaAudit,
  });
  return {
    endpoints: embedded.endpoints,
    image: () => embedded.plant.snapshot,
    whyNoImage: () => 'the simulated plant always has one',
    snapshots: embedded.plant,
    embedded,
    stop: () => embedded.stop(),
  };
}

/**
 * `attestation: tpm`: proves the TPM's attestation key once (EK certificate chain, credential activation), then
 * attests each agent before its SVID. The attested artifacts are exactly what the agent's own measured boot
 * measures, so the quoted PCR equals the measurement the agent records. A TPM that cannot be reached refuses start.
 */
async function startAttestation(
  config: RuntimeConfig,
  fullConfig: RuntimeConfig,
  ctx: { stateDir: string; root: string; configPins: ConfigPins; audit: (r: AuditRecordInput) => void },
) {
  if (config.attestation.mode !== 'tpm') return undefined;
  const dir = path.join(ctx.stateDir, 'tpm');
  let ekCaPem: string;
  try {
    ekCaPem = fs.readFileSync(config.attestation.ekCaFile, 'utf8');
  } catch (err) {
    throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `attestation.ek_ca_file ${config.attestation.ekCaFile} cannot be read`, { cause: err });
  }
  const tpm = new Tpm({ tcti: config.attestation.tcti, dir });
  const attestor = new Attestor({ tpm, ekCaPem, root: ctx.root, manifestFile: path.join(ctx.root, MANIFEST_FILE), configPins: ctx.configPins, dir, audit: ctx.audit });
  await attestor.provision();
  return { attestor, artifactsOf: (spec: AgentSpec) => launchArtifacts(spec, fullConfig, ctx.root), pins: parsePolicyPins(process.env[PCR_POLICY_ENV]) };
}
