/**
 * Where the release artifacts, the signed manifest and the release keys live, and which files an agent measures.
 * Production: CI signs the manifest with the release key in AWS KMS and the public key ships with the deployment.
 * Development: `make build` signs with a local Ed25519 key in `.glimmer-release/` (never committed); the runtime pins
 * the public key into `<state-dir>/trust/` on first start and refuses a different one afterwards.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentKind } from '../config/types';
import { GlimmerError } from '../errors';

export const MANIFEST_FILE = 'dist/release-manifest.json';
export const SIGNATURE_FILE = 'dist/release-manifest.sig';
export const PUBLIC_KEY_FILE = 'dist/release-key.pub.pem';
/** `agent=<PolicyPCR digest>` per agent of the shipped configuration, written by `make build` (TPM attestation). */
export const PCR_POLICY_FILE = 'dist/pcr-policy.txt';
export const DEV_KEY_DIR = '.glimmer-release';

function walk(root: string, dir: string, accept: (rel: string) => boolean, out: string[]): void {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return;
  for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) walk(root, rel, accept, out);
    else if (accept(rel)) out.push(rel);
  }
}

/** Every file a release ships that an agent may load: bundles, config, rules, policies, models. */
export function releaseFiles(root: string): string[] {
  const out: string[] = [];
  walk(root, 'dist', (f) => /^dist\/(agent(-[a-z]+)?|cli)\.js$/.test(f), out);
  walk(root, 'config', (f) => /\.(ya?ml)$/.test(f), out);
  walk(root, 'rules', (f) => /\.(pl|cedar|cedarschema|json)$/.test(f), out);
  walk(root, 'models', (f) => /\.onnx$/.test(f), out);
  // The Sparkplug B schema the Data Agent's edge node encodes with (read at run time, not bundled).
  walk(root, 'runtime/northbound', (f) => /\.proto$/.test(f), out);
  return out.sort();
}

/** The code bundle an agent of this kind runs: its own bundle when the release has one. */
export function agentBundle(root: string, kind: AgentKind): string {
  const own = `dist/agent-${kind}.js`;
  return fs.existsSync(path.join(root, own)) ? own : 'dist/agent.js';
}

/** Files one agent loads, in load order: its code bundle, the config, then its kind's own artifacts. */
export function agentArtifacts(bundle: string, configFiles: readonly string[], kindArtifacts: readonly string[]): string[] {
  return [...new Set([bundle, ...configFiles, ...kindArtifacts])];
}

export function relativeTo(root: string, file: string): string {
  return path.relative(root, path.resolve(file)).split(path.sep).join('/');
}

/**
 * Pins the release public key into the state dir on first use and returns the pinned key.
 * A different key later is refused: replacing the key must be a deliberate act (delete the pinned file).
 */
export function pinReleaseKey(stateDir: string, shippedPublicKeyPem: string): string {
  const pinned = path.join(stateDir, 'trust', 'release-key.pub.pem');
  if (!fs.existsSync(pinned)) {
    fs.mkdirSync(path.dirname(pinned), { recursive: true, mode: 0o700 });
    fs.writeFileSync(pinned, shippedPublicKeyPem, { mode: 0o644 });
    return shippedPublicKeyPem;
  }
  const current = fs.readFileSync(pinned, 'utf8');
  const der = (pem: string) => crypto.createPublicKey(pem).export({ type: 'spki', format: 'der' });
  if (!der(current).equals(der(shippedPublicKeyPem))) {
    throw new GlimmerError('GLM_ERR_BOOT_MANIFEST_SIGNATURE', `the release key shipped in ${PUBLIC_KEY_FILE} differs from the key pinned in ${pinned}; delete the pinned key only if you replaced the release key on purpose`);
  }
  return current;
}
