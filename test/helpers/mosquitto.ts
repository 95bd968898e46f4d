/**
 * A real MQTT broker for the northbound tests and the benchmark: Debian's mosquitto on a free loopback port with TLS
 * 1.3 only and client certificates required (anonymous clients refused; the certificate subject is the user name),
 * configured and kept in a temp dir, started and stopped by the caller.
 *
 * The PKI mirrors a plant: the runtime's own CA (runtime/trust/ca.ts) issues the clients' X.509-SVIDs (the Data
 * Agent's and the test host application's); the broker's server certificate comes from a separate "enterprise" CA
 * made with openssl, as a broker run by plant IT would have.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { ensureCa } from '../../runtime/trust/ca';
import { issueSvid } from '../../runtime/trust/svid';
import { restartablePort } from './ports';
import { waitFor } from './wait';

export interface TestPki {
  readonly dir: string;
  /** The runtime's CA bundle: the broker verifies client certificates with it. */
  readonly runtimeCaFile: string;
  /** The enterprise CA that issued the broker's certificate: clients verify the broker with it. */
  readonly brokerCaFile: string;
  readonly brokerCa: string;
  readonly node: { readonly cert: string; readonly key: string; readonly certFile: string; readonly keyFile: string };
  readonly peer: { readonly certFile: string; readonly keyFile: string };
  readonly stateDir: string;
}

export async function makeTestPki(dir: string): Promise<TestPki> {
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(stateDir, { recursive: true });
  const ca = await ensureCa(stateDir, 'glimmer.local');
  const node = await issueSvid(ca, { zone: 'dmz', agent: 'data-1' });
  const peer = await issueSvid(ca, { zone: 'enterprise', agent: 'scada-host' });
  const file = (name: string, text: string): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text, { mode: 0o600 });
    return f;
  };
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'broker-ca.key', '-out', 'broker-ca.pem', '-days', '2', '-subj', '/CN=Enterprise Test CA');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', '/CN=broker.test');
  fs.writeFileSync(path.join(dir, 'broker.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'broker.csr', '-CA', 'broker-ca.pem', '-CAkey', 'broker-ca.key', '-CAcreateserial', '-out', 'broker.pem', '-days', '2', '-extfile', 'broker.ext');
  return {
    dir, stateDir,
    runtimeCaFile: file('runtime-ca.pem', ca.bundlePem),
    brokerCaFile: path.join(dir, 'broker-ca.pem'),
    brokerCa: fs.readFileSync(path.join(dir, 'broker-ca.pem'), 'utf8'),
    node: { cert: node.certPem, key: node.keyPem, certFile: file('node.pem', node.certPem), keyFile: file('node.key', node.keyPem) },
    peer: { certFile: file('peer.pem', peer.certPem), keyFile: file('peer.key', peer.keyPem) },
  };
}

export interface Broker {
  readonly port: number;
  readonly url: string;
  /** Starts (again) on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGTERM (mosquitto sends the wills of connected clients on the way down) or SIGKILL; resolves on exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  log(): string;
}

export async function startMosquitto(pki: TestPki): Promise<Broker> {
  const port = await restartablePort();
  const dir = fs.mkdtempSync(path.join(pki.dir, 'mosquitto-'));
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(conf, [
    `user ${os.userInfo().username}`,
    'per_listener_settings false',
    'persistence false',
    'allow_anonymous false',
    `listener ${port} 127.0.0.1`,
    'protocol mqtt',
    'tls_version tlsv1.3',
    `cafile ${pki.runtimeCaFile}`,
    `certfile ${path.join(pki.dir, 'broker.pem')}`,
    `keyfile ${path.join(pki.dir, 'broker.key')}`,
    'require_certificate true',
    'use_subject_as_username true',
    'max_queued_messages 100000',
    // Also the Receive Maximum the broker announces: lets the edge node keep its full replay window of 64 in flight.
    'max_inflight_messages 100',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    '',
  ].join('\n'));
  let child: ChildProcess | undefined;
  let logText = '';
  const broker: Broker = {
    port,
    url: `mqtts://127.0.0.1:${port}`,
    async start() {
      const c = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = c;
      c.stderr?.on('data', (d: Buffer) => { logText = (logText + d.toString()).slice(-8000); });
      await waitFor(`mosquitto listening on ${port}`, () => new Promise<boolean>((resolve) => {
        if (c.exitCode !== null) throw new Error(`mosquitto exited: ${logText}`);
        const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(false));
      }), 10_000, { intervalMs: 50 });
    },
    async stop(signal = 'SIGTERM') {
      const c = child;
      child = undefined;
      if (c === undefined || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill(signal);
      });
    },
    log: () => logText,
  };
  await broker.start();
  return broker;
}

export interface PeerMessage {
  readonly topic?: string;
  readonly kind?: string;
  readonly device?: string | null;
  readonly seq?: number | null;
  readonly ts?: number;
  readonly metrics?: { name: string | null; alias: number | null; ts: number; hist: boolean; value: unknown; unit?: string | null }[];
  readonly violation?: string;
  readonly connected?: boolean;
}

export interface SparkplugPeer {
  readonly messages: PeerMessage[];
  readonly violations: () => string[];
  send(command: object): void;
  stop(): Promise<void>;
  stderr(): string;
}

const PROTO_DIR = path.join(__dirname, '..', '..', 'runtime', 'northbound', 'sparkplug');

/** The Python host application (test/northbound/sparkplug_peer.py) with its protobuf module generated by protoc. */
export async function startPeer(pki: TestPki, broker: Broker, group: string, hostId = 'scada'): Promise<SparkplugPeer> {
  const pb2 = fs.mkdtempSync(path.join(pki.dir, 'pb2-'));
  execFileSync('protoc', [`--proto_path=${PROTO_DIR}`, `--python_out=${pb2}`, 'sparkplug_b.proto']);
  const child = spawn('/usr/bin/python3', [path.join(__dirname, '..', 'northbound', 'sparkplug_peer.py'), pb2, '127.0.0.1', String(broker.port), pki.brokerCaFile, pki.peer.certFile, pki.peer.keyFile, group, hostId], { stdio: ['pipe', 'pipe', 'pipe'] });
  const messages: PeerMessage[] = [];
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-8000); });
  readline.createInterface({ input: child.stdout }).on('line', (line) => messages.push(JSON.parse(line) as PeerMessage));
  await waitFor('the Python peer to connect', () => messages.some((m) => m.connected), 15_000, { diag: () => err });
  return {
    messages,
    violations: () => messages.filter((m) => m.violation !== undefined).map((m) => m.violation as string),
    send: (command) => child.stdin.write(`${JSON.stringify(command)}\n`),
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
    stderr: () => err,
  };
}
