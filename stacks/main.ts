/**
 * `make synth [TOPOLOGY=edge|cloud|all]`: synthesizes the stacks into cdktf.out/ with the layout of `cdktf synth`
 * (manifest.json, stacks/<stack>/cdk.tf.json), running the app directly (cdktf-cli is not needed to synthesize).
 * stacks/synth.cjs bundles and runs this file; it is also the `app` of cdktf.json, so `cdktf synth|deploy` work
 * where the CLI is installed. Options: --topology edge|cloud|all, --outdir DIR, --config FILE, --root REPO.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { asGlimmerError } from '../runtime/errors';
import { REPO_ROOT } from '../runtime/config/load';
import { safetyLevelShortfalls, shortfallMessage } from '../runtime/model/zones';
import { buildApp } from './app';
import { loadStackInputs } from './inputs';
import { resolveTopology } from './topology';

export function main(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { topology: { type: 'string' }, outdir: { type: 'string' }, config: { type: 'string' }, root: { type: 'string' } },
    });
    const root = path.resolve(values.root ?? REPO_ROOT);
    const topology = resolveTopology({ flag: values.topology, env, cdktfJson: path.join(root, 'cdktf.json') });
    const outdir = path.resolve(values.outdir ?? env.CDKTF_OUTDIR ?? path.join(root, 'cdktf.out'));
    const inputs = loadStackInputs({
      configFile: values.config ?? path.join(root, 'config', 'glimmer.yml'),
      rulesDir: path.join(root, 'rules'),
      alertRulesFile: path.join(root, 'monitoring', 'prometheus', 'custom_rules.yml'),
    });
    // Like `cdktf synth`: the output holds exactly this run's stacks (a TOPOLOGY=edge run drops cloud stacks of an
    // earlier TOPOLOGY=all run). Only the app's own outputs are removed, never the rest of the directory.
    fs.rmSync(path.join(outdir, 'stacks'), { recursive: true, force: true });
    fs.rmSync(path.join(outdir, 'manifest.json'), { force: true });
    // The runtime's own verdict (runtime/model/zones.ts): accepted, and the agent starts held.
    for (const s of safetyLevelShortfalls(inputs.config)) process.stderr.write(`synth: warning: ${shortfallMessage(s)}\n`);
    const app = buildApp({ topology, inputs, outdir, backend: { stateBucket: env.GLIMMER_STATE_BUCKET, stateRegion: env.GLIMMER_STATE_REGION, localStateDir: root, outdir } });
    app.synth();
    const stacks = app.node.children.map((c) => c.node.id);
    process.stderr.write(`synth: topology ${topology}: ${stacks.join(', ')} -> ${path.relative(process.cwd(), outdir) || '.'}/stacks/\n`);
    return 0;
  } catch (err) {
    const e = asGlimmerError(err);
    process.stderr.write(`synth: ${e.code}: ${e.message}\n`);
    if (e.code === 'GLM_ERR_INTERNAL') process.stderr.write(`${String((err as Error)?.stack)}\n`);
    return 2;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
