/**
 * Loads and validates the runtime configuration. Defaults are applied here, once; everything downstream receives the
 * typed, complete `RuntimeConfig`. A bad file is refused as a whole with the file, the path inside it, the value and
 * what is allowed, so nothing starts half-configured.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import YAML from 'yaml';
import { GlimmerError, quote } from '../errors';
import { checkLifetime, DEFAULT_CERTIFICATE_LIFETIME } from './opcua-lifetime';
import { dmzBypassReason, firstDmzBypass } from '../model/zones';
import { normalisePlant } from './plant';
import { cognitiveConfigSchema, runtimeConfigSchema } from './schema';
import type { CognitiveConfig, NorthboundConfig, NorthboundConfigFile, RuntimeConfig, RuntimeConfigFile } from './types';

/** The release root: the nearest folder above this module with Glimmer's package.json (works from runtime/ and dist/). */
function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'glimmer') return dir;
    } catch {
      // no package.json here: keep walking up
    }
    if (path.dirname(dir) === dir) return path.resolve(start, '..', '..');
  }
}

export const REPO_ROOT = findRepoRoot(__dirname);
export const DEFAULT_CONFIG_FILE = path.join(REPO_ROOT, 'config', 'glimmer.yml');

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
let validators: { runtime: ValidateFunction; cognitive: ValidateFunction } | undefined;
function compiled() {
  validators ??= { runtime: ajv.compile(runtimeConfigSchema), cognitive: ajv.compile(cognitiveConfigSchema) };
  return validators;
}

function valueAt(doc: unknown, pointer: string): unknown {
  let cur: unknown = doc;
  for (const part of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

function describeAllowed(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'enum': return `one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'additionalProperties': return `no key ${quote(p.additionalProperty)} (unknown key)`;
    case 'required': return `a ${quote(p.missingProperty)} key`;
    case 'minimum': return `>= ${String(p.limit)}`;
    case 'maximum': return `<= ${String(p.limit)}`;
    case 'pattern': return `a string matching ${String(p.pattern)}`;
    case 'type': return `a value of type ${String(p.type)}`;
    default: return e.message ?? e.keyword;
  }
}

/** Renders the first schema violation as `file: at /path: received V, allowed: ...`. */
export function schemaError(file: string, doc: unknown, e: ErrorObject): GlimmerError {
  const where = e.instancePath === '' ? '/' : e.instancePath;
  const received = e.keyword === 'required' || e.keyword === 'additionalProperties' ? '' : `received ${quote(valueAt(doc, e.instancePath))}, `;
  return new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at ${where}: ${received}allowed: ${describeAllowed(e)}`, {
    details: { file, path: where, keyword: e.keyword },
  });
}

export function readStructured(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new GlimmerError('GLM_ERR_CONFIG_UNREADABLE', `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  try {
    return YAML.parse(text, { maxAliasCount: 100, uniqueKeys: true });
  } catch (err) {
    throw new GlimmerError('GLM_ERR_CONFIG_UNREADABLE', `${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

function validate<T>(file: string, doc: unknown, fn: ValidateFunction): T {
  if (!fn(doc)) throw schemaError(file, doc, (fn.errors as ErrorObject[])[0] as ErrorObject);
  return doc as T;
}

function crossCheck(file: string, cfg: RuntimeConfigFile): void {
  const zones = new Set<string>();
  cfg.zones.forEach((z, i) => {
    if (zones.has(z.name)) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /zones/${i}/name: received ${quote(z.name)}, allowed: a zone name not used before`);
    zones.add(z.name);
  });
  const known = [...zones].join(', ');
  cfg.conduits.forEach((c, i) => {
    for (const end of ['from', 'to'] as const) {
      if (!zones.has(c[end])) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /conduits/${i}/${end}: received ${quote(c[end])}, allowed: one of ${known}`);
    }
  });
  const bypass = firstDmzBypass(cfg.zones, cfg.conduits);
  if (bypass >= 0) {
    const c = cfg.conduits[bypass] as RuntimeConfigFile['conduits'][number];
    const level = (name: string) => cfg.zones.find((z) => z.name === name) as RuntimeConfigFile['zones'][number];
    throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /conduits/${bypass}: ${dmzBypassReason(level(c.from), level(c.to))}`, { details: { file, path: `/conduits/${bypass}` } });
  }
  const names = new Set<string>();
  cfg.agents.forEach((a, i) => {
    if (!zones.has(a.zone)) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /agents/${i}/zone: received ${quote(a.zone)}, allowed: one of ${known}`);
    if (names.has(a.name)) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /agents/${i}/name: received ${quote(a.name)}, allowed: an agent name not used before`);
    names.add(a.name);
  });
  for (const peer of Object.keys(cfg.a2a?.peers ?? {})) {
    if (!names.has(peer)) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /a2a/peers/${peer}: received ${quote(peer)}, allowed: one of the agents (${[...names].join(', ')})`);
  }
}

export function loadCognitiveConfig(file: string): CognitiveConfig {
  return validate<CognitiveConfig>(file, readStructured(file), compiled().cognitive);
}

/** Loads `glimmer.yml` (and the `cognitive.yml` it names), validates both, applies defaults once. */
export function loadConfig(file: string = DEFAULT_CONFIG_FILE): RuntimeConfig {
  const abs = path.resolve(file);
  const doc = validate<RuntimeConfigFile>(abs, readStructured(abs), compiled().runtime);
  crossCheck(abs, doc);
  const cognitiveFile = path.resolve(path.dirname(abs), doc.cognitive_config ?? 'cognitive.yml');
  const cognitive = loadCognitiveConfig(cognitiveFile);
  const zones = doc.zones.map((z) => (z.name === 'safety' ? { ...z, security_level: doc.topology.safety_zone_level } : z));
  return {
    file: abs,
    topology: doc.topology,
    zones,
    conduits: doc.conduits.map((c) => ({ from: c.from, to: c.to, protocols: c.protocols, allow_insecure_opcua: c.allow_insecure_opcua ?? false })),
    agents: doc.agents,
    supervisor: {
      restartBackoffMs: { initial: doc.supervisor?.restart_backoff_ms?.initial ?? 100, max: doc.supervisor?.restart_backoff_ms?.max ?? 10000 },
      maxRestarts: doc.supervisor?.max_restarts ?? 5,
      restartWindowS: doc.supervisor?.restart_window_s ?? 60,
      shutdownGraceMs: doc.supervisor?.shutdown_grace_ms ?? 5000,
    },
    plant: normalisePlant(abs, doc),
    api: { host: doc.api?.host ?? '127.0.0.1', port: doc.api?.port ?? 8080, mtlsPort: doc.api?.mtls_port ?? 8443, allowedHosts: (doc.api?.allowed_hosts ?? ['localhost']).map((h) => h.toLowerCase()) },
    opcua: {
      ...doc.opcua, port: doc.opcua?.port ?? 4840,
      certificateLifetime: checkLifetime({
        lifetimeMs: (doc.opcua?.certificate_lifetime_s ?? DEFAULT_CERTIFICATE_LIFETIME.lifetimeMs / 1000) * 1000,
        renewBeforeMs: (doc.opcua?.certificate_renew_before_s ?? DEFAULT_CERTIFICATE_LIFETIME.renewBeforeMs / 1000) * 1000,
      }, file),
    },
    a2a: { host: doc.a2a?.host ?? '127.0.0.1', port: doc.a2a?.port ?? 0, peers: doc.a2a?.peers ?? {} },
    cognitive: { file: cognitiveFile, ...cognitive },
    revocation: normaliseRevocation(abs, doc),
    attestation: normaliseAttestation(abs, doc),
    ...(doc.mcp ? {
      mcp: {
        resource: doc.mcp.resource,
        issuers: doc.mcp.issuers.map((i) => ({ issuer: i.issuer, jwksUri: i.jwks_uri, jwksRefreshMinS: i.jwks_refresh_min_s ?? 30 })),
        maxCallsPerMinute: doc.mcp.max_calls_per_minute ?? 600,
        writeZone: doc.mcp.write_zone ?? 'control',
        maxPendingWrites: doc.mcp.max_pending_writes ?? 32,
      },
    } : {}),
    ...(doc.northbound ? { northbound: normaliseNorthbound(abs, doc, doc.northbound) } : {}),
  };
}

const MIB = 1024 * 1024;

/** The Sparkplug edge node: its zone and agent must exist, the agent must be a Data Agent; defaults applied here once. */
function normaliseNorthbound(file: string, doc: RuntimeConfigFile, nb: NorthboundConfigFile): NorthboundConfig {
  const zone = nb.zone ?? 'enterprise';
  const commandZone = nb.command_zone ?? 'operations';
  for (const [key, value] of [['zone', zone], ['command_zone', commandZone]] as const) {
    if (!doc.zones.some((z) => z.name === value)) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /northbound/${key}: received ${quote(value)}, allowed: one of ${doc.zones.map((z) => z.name).join(', ')}`);
  }
  const data = doc.agents.filter((a) => a.kind === 'data').map((a) => a.name);
  const agent = nb.agent ?? data[0];
  if (agent === undefined || !data.includes(agent)) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /northbound/agent: received ${quote(nb.agent ?? null)}, allowed: one of the data agents (${data.join(', ') || 'none configured'})`);
  return {
    broker: nb.broker, zone, agent, groupId: nb.group_id, edgeNodeId: nb.edge_node_id ?? agent,
    ...(nb.primary_host_id === undefined ? {} : { primaryHostId: nb.primary_host_id }),
    caFile: path.resolve(path.dirname(file), nb.ca_file),
    ...(nb.server_name === undefined ? {} : { serverName: nb.server_name }),
    publishIntervalMs: nb.publish_interval_ms ?? 1000,
    deadbands: nb.deadbands ?? {},
    replayMaxMessagesPerS: nb.replay_max_messages_per_s ?? 5000,
    commandZone,
    commandConduits: doc.conduits.filter((c) => c.allow_sparkplug_commands === true).map((c) => ({ from: c.from, to: c.to })),
    store: { safetyBudgetBytes: Math.floor((nb.store?.safety_budget_mb ?? 64) * MIB), trendBudgetBytes: Math.floor((nb.store?.trend_budget_mb ?? 2048) * MIB) },
  };
}

/** A follower re-checks its feed every refresh: a max age under two refreshes would turn stale between two fetches. */
function normaliseRevocation(file: string, doc: RuntimeConfigFile): RuntimeConfig['revocation'] {
  const r = doc.revocation ?? {};
  const refreshMs = r.refresh_ms ?? 1000;
  const maxAgeMs = (r.max_age_s ?? 30) * 1000;
  if (maxAgeMs < 2 * refreshMs) {
    throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /revocation/max_age_s: received ${quote(maxAgeMs / 1000)}, allowed: at least two refreshes (2 x refresh_ms = ${2 * refreshMs} ms)`);
  }
  return { refreshMs, maxAgeMs, ...(r.feed_url ? { feedUrl: r.feed_url } : {}) };
}

/** `attestation: {mode: tpm}` needs the TPM's address and the CA its EK certificate must chain to. */
function normaliseAttestation(file: string, doc: RuntimeConfigFile): RuntimeConfig['attestation'] {
  const a = doc.attestation;
  if (!a || a.mode === 'none') return { mode: 'none' };
  for (const key of ['tcti', 'ek_ca_file'] as const) {
    if (!a[key]) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /attestation/${key}: required when attestation.mode is tpm`);
  }
  return { mode: 'tpm', tcti: a.tcti as string, ekCaFile: path.resolve(path.dirname(file), a.ek_ca_file as string) };
}
