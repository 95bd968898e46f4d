// `make synth` and the cdktf.json `app`: bundles the cdktf app (our TypeScript only; packages stay external) with
// esbuild, then runs it with plain Node. Running the same app through tsx costs about 5x the CPU: every one of the
// provider packages' module loads goes through tsx's loader hooks, and tsx's source maps make each of the thousands
// of stack traces cdktf captures for its tokens expensive.
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS launcher run by plain node */
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const outfile = path.join(root, 'node_modules', '.cache', 'glimmer-synth', 'main.cjs');
esbuild.buildSync({
  entryPoints: [path.join(root, 'stacks', 'main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  logLevel: 'warning',
});
const args = process.argv.slice(2);
process.exitCode = require(outfile).main(args.includes('--root') ? args : [...args, '--root', root]);
