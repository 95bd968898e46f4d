/** Shared by the external-plant tests: a glimmer.yml with plant.mode external, and real certificate files. */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { DEFAULT_CONFIG_FILE } from '../../runtime/config/load';

export const BASE_CONFIG = YAML.parse(fs.readFileSync(DEFAULT_CONFIG_FILE, 'utf8')) as Record<string, unknown> & { plant: Record<string, unknown>; agents: unknown[] };
const COGNITIVE = fs.readFileSync(path.join(path.dirname(DEFAULT_CONFIG_FILE), 'cognitive.yml'), 'utf8');

/** A self-signed certificate and its key (PEM files) made by openssl, in `dir`. */
export function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

/** Writes glimmer.yml (+ cognitive.yml) into a fresh directory; returns the glimmer.yml path. */
export function writeConfig(doc: unknown, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-ext-'))): string {
  fs.writeFileSync(path.join(dir, 'glimmer.yml'), YAML.stringify(doc));
  fs.writeFileSync(path.join(dir, 'cognitive.yml'), COGNITIVE);
  return path.join(dir, 'glimmer.yml');
}

/** The embedded default with `plant` replaced by an external plant (PLCs on `host:port`, unit ids 1 and 2). */
export function externalConfig(plc: { host: string; port: number }, extra: Record<string, unknown> = {}, agents?: unknown[]): Record<string, unknown> {
  return {
    ...structuredClone(BASE_CONFIG),
    ...(agents ? { agents } : {}),
    plant: {
      mode: 'external',
      external: {
        plcs: { control: { ...plc, unit_id: 1 }, safety: { ...plc, unit_id: 2 } },
        ...extra,
      },
    },
  };
}

/** The deployment's pins of a configuration outside the release (what GLIMMER_CONFIG_SHA256 carries in a pod). */
export function pinsOf(configFile: string): Record<string, string> {
  const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(path.join(path.dirname(configFile), f))).digest('hex');
  return { 'glimmer.yml': sha('glimmer.yml'), 'cognitive.yml': sha('cognitive.yml') };
}

/** The same pins as the GLIMMER_CONFIG_SHA256 value a pod's environment holds (`glimmer.yml=<sha>,cognitive.yml=<sha>`). */
export function pinsEnv(configFile: string): string {
  return Object.entries(pinsOf(configFile)).map(([f, sha]) => `${f}=${sha}`).join(',');
}


const PEER = path.join(__dirname, '..', 'industrial', 'peers', 'pymodbus_plc.py');

/** The pymodbus PLC (test/industrial/peers/pymodbus_plc.py) on a loopback port, once it listens; `tripped`: its safety PLC reports a tripped level interlock. */
export async function startPeer(port: number, options: { tripped?: boolean } = {}): Promise<ChildProcess> {
  const child = spawn('/usr/bin/python3', [PEER, String(port), ...(options.tripped ? ['tripped'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  assert.ok(await waitListening(port, 10_000), `pymodbus PLC did not listen on ${port}: ${stderr} ${spawnSync('ss', ['-tanp'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(`:${port}`)).join('\n')}`);
  return child;
}

export async function waitListening(port: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
