/**
 * Writes and signs the release manifest over every shipped artifact (run by `make build`).
 * Key: GLIMMER_RELEASE_KEY_FILE (PEM, Ed25519 or P-384), else a development Ed25519 key in .glimmer-release/ created
 * on first use. CI signs with the KMS release key instead (scripts/sign-release.ts).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { launchArtifacts } from '../runtime/agents/artifacts';
import { loadConfig } from '../runtime/config/load';
import { policyDigestFor } from '../runtime/lifecycle/attestation/attestor';
import { buildManifest, signManifest } from '../runtime/lifecycle/manifest';
import { DEV_KEY_DIR, MANIFEST_FILE, PCR_POLICY_FILE, PUBLIC_KEY_FILE, SIGNATURE_FILE, releaseFiles } from '../runtime/lifecycle/release';

const root = path.resolve(__dirname, '..');

function releaseKey(): string {
  const configured = process.env.GLIMMER_RELEASE_KEY_FILE;
  if (configured) return fs.readFileSync(configured, 'utf8');
  const file = path.join(root, DEV_KEY_DIR, 'release-key.pem');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = crypto.generateKeyPairSync('ed25519');
    fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  return fs.readFileSync(file, 'utf8');
}

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const manifest = buildManifest(root, releaseFiles(root), `glimmer-${pkg.version}`);
const privateKeyPem = releaseKey();
fs.writeFileSync(path.join(root, MANIFEST_FILE), manifest);
fs.writeFileSync(path.join(root, SIGNATURE_FILE), `${signManifest(manifest, privateKeyPem).toString('base64')}\n`);
const publicPem = crypto.createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
fs.writeFileSync(path.join(root, PUBLIC_KEY_FILE), publicPem);
process.stdout.write(`signed release manifest: ${MANIFEST_FILE} (${JSON.parse(manifest.toString()).artifacts.length} artifacts)\n`);
// The TPM PolicyPCR digest each agent of the shipped configuration seals its key to (the stacks' pcr_policy_hash),
// from the manifest just written. A deployment with its own configuration computes it with `glimmer attest --policy`.
const config = loadConfig();
const digests = config.agents.map((a) => `${a.name}=${policyDigestFor(path.join(root, MANIFEST_FILE), launchArtifacts(a, config, root))}`);
fs.writeFileSync(path.join(root, PCR_POLICY_FILE), `${digests.join('\n')}\n`);
