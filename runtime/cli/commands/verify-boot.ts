/**
 * `glimmer verify-boot [--manifest FILE] [--key PEM] [--root DIR] [--state-dir DIR]`: the measured-boot check on its
 * own. Verifies the manifest signature (against the key pinned in the state dir if there is one, else the shipped key),
 * then measures every artifact of the release against it. Exit 0 when all match, 1 on any mismatch, 2 on bad input.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../config/load';
import { GlimmerError, asGlimmerError } from '../../errors';
import { measuredBoot, parseManifest } from '../../lifecycle/manifest';
import { MANIFEST_FILE, PUBLIC_KEY_FILE, releaseFiles } from '../../lifecycle/release';
import { parseOptions, printHelp, type Command } from '../command';

const HELP = `Usage: glimmer verify-boot [--manifest FILE] [--signature FILE] [--key PUBLIC_KEY_PEM] [--root DIR] [--state-dir DIR] [--json]`;

const command: Command = async (argv) => {
  const values = parseOptions(argv, {
    manifest: { type: 'string' },
    signature: { type: 'string' },
    key: { type: 'string' },
    root: { type: 'string' },
    'state-dir': { type: 'string', default: '.glimmer' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return printHelp(HELP);
  const root = path.resolve(values.root ?? REPO_ROOT);
  const manifestFile = path.resolve(values.manifest ?? path.join(root, MANIFEST_FILE));
  const signatureFile = path.resolve(values.signature ?? manifestFile.replace(/\.json$/, '.sig'));
  const pinned = path.join(values['state-dir'] as string, 'trust', 'release-key.pub.pem');
  const keyFile = values.key ?? (fs.existsSync(pinned) ? pinned : path.join(root, PUBLIC_KEY_FILE));
  let publicKeyPem: string;
  try {
    publicKeyPem = fs.readFileSync(keyFile, 'utf8');
  } catch {
    throw new GlimmerError('GLM_ERR_USAGE', `release public key ${keyFile} cannot be read`);
  }
  let listed: string[];
  try {
    listed = parseManifest(fs.readFileSync(manifestFile), manifestFile).artifacts.map((a) => a.path);
  } catch (err) {
    throw err instanceof GlimmerError ? err : new GlimmerError('GLM_ERR_BOOT_MANIFEST_INVALID', `release manifest ${manifestFile} cannot be read`);
  }
  // Everything listed, plus anything shipped but unlisted (an added rule file must not slip through).
  const artifacts = [...new Set([...listed, ...releaseFiles(root)])];
  try {
    const m = measuredBoot({ root, manifestFile, signatureFile, publicKeyPem, artifacts });
    if (values.json) process.stdout.write(`${JSON.stringify({ ok: true, measurement: m.value, artifacts: m.artifacts }, null, 2)}\n`);
    else process.stdout.write(`measured boot OK: ${m.artifacts.length} artifacts, measurement ${m.value}\n(key ${keyFile})\n`);
    return 0;
  } catch (err) {
    const e = asGlimmerError(err);
    if (e.code === 'GLM_ERR_INTERNAL') throw err;
    if (values.json) process.stdout.write(`${JSON.stringify({ ok: false, code: e.code, message: e.message, artifact: e.details.artifact ?? null }, null, 2)}\n`);
    else process.stderr.write(`measured boot FAILED: ${e.code}: ${e.message}\n`);
    return 1;
  }
};
export default command;
