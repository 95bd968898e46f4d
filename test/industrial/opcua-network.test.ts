/**
 * The plant OPC UA server on a plant network: bind address, advertised host and certificate SANs from settings, the
 * certificate reissued when they change, and a real session from another network namespace to a non-loopback address
 * (a veth pair; needs root and `ip netns`, which `make test` runs with).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectPlantOpcua } from '../../runtime/industrial/opcua/client';
import { opcuaNetwork } from '../../runtime/industrial/opcua/network';
import { certificateManager, ensureOwnCertificate, identityFor, loadOpcua } from '../../runtime/industrial/opcua/pki';
import { opcuaSecurityFor } from '../../runtime/industrial/opcua/security';
import { CONDUITS, ZONES, until } from './helpers';

const security = opcuaSecurityFor({ zones: ZONES, conduits: CONDUITS }, 'control');
// Names carry this worktree's id and the pid, so parallel runs never collide; addresses from the pid too.
const NS = `glm-h23-${process.pid}`;
const VETH = `h23v${process.pid % 100000}`;
const NET = `10.231.${process.pid % 250}`;
const SERVER_IP = `${NET}.2`;
let dir: string;
let child: ChildProcess | undefined;

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
const sans = (file: string) => new crypto.X509Certificate(fs.readFileSync(file)).subjectAltName ?? '';

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-opcua-net-'));
  ip('netns', 'add', NS);
  ip('link', 'add', VETH, 'type', 'veth', 'peer', 'name', `${VETH}p`);
  ip('link', 'set', `${VETH}p`, 'netns', NS);
  ip('addr', 'add', `${NET}.1/30`, 'dev', VETH);
  ip('link', 'set', VETH, 'up');
  ip('netns', 'exec', NS, 'ip', 'addr', 'add', `${SERVER_IP}/30`, 'dev', `${VETH}p`);
  ip('netns', 'exec', NS, 'ip', 'link', 'set', `${VETH}p`, 'up');
  ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');
});
after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child?.once('exit', r));
  }
  try { ip('netns', 'del', NS); } catch { /* already gone */ }
  try { ip('link', 'del', VETH); } catch { /* removed with the namespace */ }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('GIVEN network settings WHEN derived THEN the certificate names the bind address and every advertised host; loopback names stay for local clients', () => {
  const n = opcuaNetwork({ host: '0.0.0.0', advertised_hosts: ['plant-opcua.example.net', '10.1.2.3'], certificate_dns: ['scada.example.net'] });
  assert.equal(n.host, '0.0.0.0');
  assert.deepEqual(n.advertisedHosts, ['plant-opcua.example.net', '10.1.2.3']);
  assert.ok(n.certificateDns.includes('plant-opcua.example.net') && n.certificateDns.includes('scada.example.net') && n.certificateDns.includes('localhost'));
  assert.deepEqual(n.certificateIps, ['10.1.2.3', '127.0.0.1']);
  assert.deepEqual(opcuaNetwork({ host: '192.168.7.9' }).advertisedHosts, ['192.168.7.9'], 'a specific bind address is advertised by default');
  assert.deepEqual(opcuaNetwork().advertisedHosts, ['localhost']);
});

test('GIVEN a server certificate WHEN the network settings change THEN it is reissued with the same key and the new SANs; unchanged settings keep it', async () => {
  loadOpcua();
  const id = identityFor(dir, 'reissue');
  const cm = await certificateManager(id);
  try {
    const before = fs.readFileSync(id.certificateFile);
    assert.equal(await ensureOwnCertificate(id, cm, opcuaNetwork()), 'kept', 'a new store\'s certificate already has the default names');
    const first = fs.readFileSync(id.certificateFile);
    assert.equal(await ensureOwnCertificate(id, cm, opcuaNetwork()), 'kept');
    assert.deepEqual(fs.readFileSync(id.certificateFile), first);
    assert.equal(await ensureOwnCertificate(id, cm, opcuaNetwork({ host: '10.9.8.7', advertised_hosts: ['plant.example.net'] })), 'reissued');
    assert.match(sans(id.certificateFile), /IP Address:10\.9\.8\.7/);
    assert.match(sans(id.certificateFile), /DNS:plant\.example\.net/);
    const key = (pem: Buffer) => new crypto.X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
    assert.equal(key(fs.readFileSync(id.certificateFile)), key(before), 'same key pair');
  } finally {
    await cm.dispose();
  }
});

test('GIVEN the server in a network namespace bound to its veth address WHEN a client in another namespace connects THEN the session runs on that address, advertised and named in the certificate', async (t) => {
  const script = path.join(__dirname, 'peers', 'opcua-netns-server.ts');
  child = spawn('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', script, dir, SERVER_IP, '4840'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  assert.ok(await until(() => /READY \{/.test(out) || child?.exitCode !== null, 60_000), `server did not start: ${err}`);
  const ready = JSON.parse(/READY (\{.*\})/.exec(out)?.[1] ?? 'null') as { endpoint_url: string; server_certificate: string } | null;
  assert.ok(ready, `server failed: ${err.slice(-2000)}`);
  assert.equal(ready.endpoint_url, `opc.tcp://${SERVER_IP}:4840`, 'the advertised endpoint is the non-loopback address');
  assert.match(sans(ready.server_certificate), new RegExp(`IP Address:${SERVER_IP.replace(/\./g, '\\.')}`));

  const seen = new Set<string>();
  const client = await connectPlantOpcua({ endpointUrl: ready.endpoint_url, stateDir: dir, name: 'industrial-1', user: 'industrial-1', security, onValue: (s) => seen.add(s) });
  try {
    assert.ok(await until(() => seen.has('tank_1.level_m'), 15_000), 'values arrive over the veth link');
    const ss = execFileSync('ip', ['netns', 'exec', NS, 'ss', '-tn', 'state', 'established'], { encoding: 'utf8' });
    t.diagnostic(`endpoint ${ready.endpoint_url}; certificate SANs: ${sans(ready.server_certificate)}; tank_1.level_m = ${String(client.values.get('tank_1.level_m'))}`);
    t.diagnostic(`ss in ${NS}: ${ss.trim().split('\n').slice(1).join(' | ')}`);
    assert.match(ss, new RegExp(`${SERVER_IP.replace(/\./g, '\\.')}:4840\\s+${NET.replace(/\./g, '\\.')}\\.1:`), `the session's TCP connection runs between the namespaces:\n${ss}`);
  } finally {
    await client.close();
  }
});
