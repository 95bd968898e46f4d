/**
 * `plant` of glimmer.yml: the embedded simulated plant (default) or the real plant (`mode: external`). For an external
 * plant the PLC addresses, the zone gateway's listen ports and the OPC UA endpoint are checked here, at load, so a bad
 * address is refused before anything starts; the OPC UA files are checked by `checkExternalPlantFiles` (only the
 * process that supervises an Industrial Agent reads them, so only that one needs them mounted).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { GlimmerError, quote } from '../errors';
import { plantMap } from '../model/plant-map';
import { gatewayListenerZones } from '../model/zones';
import type { ExternalPlant, PlcEndpoint, PlcEndpointFile, RuntimeConfig, RuntimeConfigFile } from './types';

export const DEFAULT_GATEWAY_PORT = 5020;
export const DEFAULT_PLC_PORT = 502;
export const DEFAULT_POLL_INTERVAL_MS = 250;
export const DEFAULT_STALE_AFTER_MS = 1000;

/** RFC 1123 host name (labels of letters, digits and inner hyphens). */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function endpointError(file: string, at: string, value: unknown, allowed: string): GlimmerError {
  return new GlimmerError('GLM_ERR_CONFIG_PLANT_ENDPOINT_INVALID', `${file}: at ${at}: received ${quote(value)}, allowed: ${allowed}`, { details: { file, path: at } });
}

function checkHost(file: string, at: string, host: string): string {
  if (net.isIP(host) === 0 && !HOST_NAME.test(host)) throw endpointError(file, at, host, 'a host name or an IP address (no scheme, no port)');
  return host;
}

/** The unit id each zone of the plant map is addressed by (control 1, safety 2). */
function mapUnitIds(): Map<string, number> {
  return new Map(plantMap().map((e) => [e.zone, e.unit_id]));
}

function plcEndpoint(file: string, zone: 'control' | 'safety', plc: PlcEndpointFile): PlcEndpoint {
  const at = `/plant/external/plcs/${zone}`;
  return { host: checkHost(file, `${at}/host`, plc.host), port: plc.port ?? DEFAULT_PLC_PORT, unitId: plc.unit_id ?? (mapUnitIds().get(zone) as number) };
}

/** Normalises `plant` (defaults once); refuses external-mode settings that cannot work. */
export function normalisePlant(file: string, doc: RuntimeConfigFile): RuntimeConfig['plant'] {
  const p = doc.plant ?? {};
  const mode = p.mode ?? 'embedded';
  const base = { mode, seed: p.seed ?? 42, tickMs: p.tick_ms ?? 100, faultSchedule: p.fault_schedule ?? [] };
  base.faultSchedule.forEach((e, i) => {
    if (e.clear_at_s !== undefined && e.clear_at_s <= e.at_s) {
      throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /plant/fault_schedule/${i}/clear_at_s: received ${e.clear_at_s}, allowed: a time after at_s (${e.at_s})`, { details: { file, path: `/plant/fault_schedule/${i}/clear_at_s` } });
    }
  });
  if (mode === 'embedded') return base;
  const ext = p.external;
  if (ext === undefined) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /plant: allowed: a "external" key (the PLC addresses) when mode is "external"`, { details: { file, path: '/plant' } });
  if (base.faultSchedule.length > 0) {
    throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /plant/fault_schedule: received ${base.faultSchedule.length} entries, allowed: none when mode is "external" (faults are injected into the simulated plant only)`, { details: { file, path: '/plant/fault_schedule' } });
  }
  const listeners = gatewayListenerZones(doc);
  const host = checkHost(file, '/plant/external/gateway/host', ext.gateway?.host ?? '127.0.0.1');
  const given = ext.gateway?.ports ?? {};
  for (const zone of Object.keys(given)) {
    if (!listeners.includes(zone)) throw endpointError(file, `/plant/external/gateway/ports/${zone}`, zone, `a zone with a gateway listener: one of ${listeners.join(', ')}`);
  }
  const ports: Record<string, number> = {};
  const owner = new Map<number, string>();
  listeners.forEach((zone, i) => {
    const port = given[zone] ?? DEFAULT_GATEWAY_PORT + i;
    const other = owner.get(port);
    if (other !== undefined) throw endpointError(file, `/plant/external/gateway/ports/${zone}`, port, `a port no other listener uses (zone ${other} listens on it)`);
    owner.set(port, zone);
    ports[zone] = port;
  });
  const external: ExternalPlant = {
    plcs: { control: plcEndpoint(file, 'control', ext.plcs.control), safety: plcEndpoint(file, 'safety', ext.plcs.safety) },
    gateway: { host, ports },
    pollIntervalMs: ext.poll_interval_ms ?? DEFAULT_POLL_INTERVAL_MS,
    staleAfterMs: ext.stale_after_ms ?? DEFAULT_STALE_AFTER_MS,
    ...(ext.opcua ? { opcua: normaliseOpcua(file, ext.opcua) } : {}),
  };
  if (external.staleAfterMs <= external.pollIntervalMs) {
    throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /plant/external/stale_after_ms: received ${external.staleAfterMs}, allowed: more than poll_interval_ms (${external.pollIntervalMs})`, { details: { file, path: '/plant/external/stale_after_ms' } });
  }
  const industrial = doc.agents.filter((a) => a.kind === 'industrial').map((a) => a.name);
  if (industrial.length > 0 && external.opcua === undefined) {
    throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /plant/external: allowed: a "opcua" key (the Industrial Agent ${industrial.join(', ')} watches the plant over OPC UA)`, { details: { file, path: '/plant/external' } });
  }
  return { ...base, external };
}

function normaliseOpcua(file: string, o: NonNullable<NonNullable<RuntimeConfigFile['plant']>['external']>['opcua'] & object): NonNullable<ExternalPlant['opcua']> {
  const at = '/plant/external/opcua';
  let url: URL | undefined;
  try {
    url = new URL(o.endpoint_url);
  } catch {
    url = undefined;
  }
  if (url === undefined || url.protocol !== 'opc.tcp:' || url.hostname === '' || url.username !== '' || url.password !== '') {
    throw endpointError(file, `${at}/endpoint_url`, o.endpoint_url, 'an opc.tcp://host:port[/path] URL without credentials');
  }
  checkHost(file, `${at}/endpoint_url`, url.hostname.replace(/^\[|\]$/g, ''));
  if ((o.client_certificate === undefined) !== (o.client_private_key === undefined)) {
    throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at ${at}: allowed: both client_certificate and client_private_key, or neither`, { details: { file, path: at } });
  }
  const dir = path.dirname(file);
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(dir, p));
  return {
    endpointUrl: o.endpoint_url,
    serverCertificate: abs(o.server_certificate) as string,
    ...(o.user !== undefined ? { user: o.user } : {}),
    passwordFile: abs(o.password_file) as string,
    ...(o.client_certificate !== undefined ? { clientCertificate: abs(o.client_certificate), clientPrivateKey: abs(o.client_private_key) } : {}),
  };
}

function fileError(file: string, at: string, target: string, why: string, cause?: unknown): GlimmerError {
  return new GlimmerError('GLM_ERR_CONFIG_PLANT_FILE_UNREADABLE', `${file}: at ${at}: ${quote(target)} ${why}`, { cause, details: { file, path: at } });
}

function read(file: string, at: string, target: string): Buffer {
  try {
    return fs.readFileSync(target);
  } catch (err) {
    throw fileError(file, at, target, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, err);
  }
}

/** The certificate's DER bytes (PEM or DER file). */
export function readCertificate(file: string, at: string, target: string): Buffer {
  const bytes = read(file, at, target);
  try {
    return Buffer.from(new crypto.X509Certificate(bytes).raw);
  } catch (err) {
    throw fileError(file, at, target, 'is not an X.509 certificate (PEM or DER)', err);
  }
}

/**
 * Refuses an external plant whose OPC UA files cannot be used, before anything starts. Only needed where an
 * Industrial Agent runs (the others never open an OPC UA session).
 */
export function checkExternalPlantFiles(config: RuntimeConfig): void {
  const o = config.plant.external?.opcua;
  if (config.plant.mode !== 'external' || o === undefined || !config.agents.some((a) => a.kind === 'industrial')) return;
  const at = '/plant/external/opcua';
  readCertificate(config.file, `${at}/server_certificate`, o.serverCertificate);
  if (read(config.file, `${at}/password_file`, o.passwordFile).toString('utf8').trim() === '') {
    throw fileError(config.file, `${at}/password_file`, o.passwordFile, 'is empty');
  }
  if (o.clientCertificate !== undefined && o.clientPrivateKey !== undefined) {
    const cert = new crypto.X509Certificate(readCertificate(config.file, `${at}/client_certificate`, o.clientCertificate));
    let key: crypto.KeyObject;
    try {
      key = crypto.createPrivateKey(read(config.file, `${at}/client_private_key`, o.clientPrivateKey));
    } catch (err) {
      if (err instanceof GlimmerError) throw err;
      throw fileError(config.file, `${at}/client_private_key`, o.clientPrivateKey, 'is not a PEM private key', err);
    }
    if (!cert.checkPrivateKey(key)) throw fileError(config.file, `${at}/client_private_key`, o.clientPrivateKey, `does not belong to the client certificate ${quote(o.clientCertificate)}`);
  }
}
