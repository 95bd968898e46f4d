/**
 * A throwaway release root for supervisor tests: the real agent bundle (dist/agent.js from `make build`), a config
 * with the given agents, the real rule files, and a manifest signed by a test key. Nothing in the repo is touched.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT } from '../../runtime/config/load';
import { buildManifest, signManifest } from '../../runtime/lifecycle/manifest';
import { MANIFEST_FILE, SIGNATURE_FILE, releaseFiles } from '../../runtime/lifecycle/release';

export interface TestRelease {
  readonly root: string;
  readonly configFile: string;
  readonly stateDir: string;
  readonly publicKeyPem: string;
  sign(): void;
}

export function testRelease(agents: { name: string; kind: string; zone: string }[], supervisor: Record<string, unknown> = {}): TestRelease {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-rel-'));
  const bundle = path.join(REPO_ROOT, 'dist', 'agent.js');
  if (!fs.existsSync(bundle)) throw new Error('dist/agent.js is missing: run `make build` first (make test does)');
  fs.mkdirSync(path.join(root, 'dist'));
  fs.copyFileSync(bundle, path.join(root, 'dist', 'agent.js'));
  // The bundle keeps native and WebAssembly packages external (better-sqlite3, swipl-wasm, ...): resolve them as a release would.
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  fs.copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(root, 'package.json'));
  fs.cpSync(path.join(REPO_ROOT, 'rules'), path.join(root, 'rules'), { recursive: true });
  fs.mkdirSync(path.join(root, 'config'));
  const base = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, 'config', 'glimmer.yml'), 'utf8'));
  base.agents = agents.map((a) => ({ ...a, required_safety_level: 2 }));
  base.supervisor = { ...base.supervisor, ...supervisor };
  const configFile = path.join(root, 'config', 'glimmer.yml');
  fs.writeFileSync(configFile, YAML.stringify(base));
  // The test cognitive.yml names rulesets only (no model path), so measured boot covers the rule files.
  fs.writeFileSync(
    path.join(root, 'config', 'cognitive.yml'),
    YAML.stringify({
      hybrid_reasoning: {
        neural_components: [{ type: 'transformer', model: 'test', precision: 'int8', quantization: 'dynamic' }],
        symbolic_components: [{ type: 'prolog-engine', rulesets: ['industrial_safety.pl'] }],
      },
    }),
  );
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const release: TestRelease = {
    root,
    configFile,
    stateDir: fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-state-')),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign() {
      const manifest = buildManifest(root, releaseFiles(root), 'test');
      fs.writeFileSync(path.join(root, MANIFEST_FILE), manifest);
      fs.writeFileSync(path.join(root, SIGNATURE_FILE), signManifest(manifest, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()).toString('base64'));
    },
  };
  release.sign();
  return release;
}
