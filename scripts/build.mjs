// Bundles the CLI and the agent process with esbuild: one file each, so a fresh agent process starts in tens of
// milliseconds instead of resolving thousands of modules. Native and WebAssembly packages stay external.
import { build } from 'esbuild';
import fs from 'node:fs';

const external = [
  'better-sqlite3', 'onnxruntime-node', 'pkcs11js', '@cedar-policy/cedar-wasm', 'swipl-wasm', '@a2a-js/sdk', '@a2a-js/*', 'express', 'playwright-core',
  'cdktf', '@cdktf/*', 'constructs', 'kubernetes-models', '@kubernetes-models/*', 'tsx', 'tsx/*', 'esbuild',
  // node-opcua resolves certificate tooling and schema files at run time from its own folders.
  'node-opcua', 'node-opcua-*', '@serialport/*', 'serialport',
];

// The Industrial Agent's bundle carries node-opcua's client half (node-opcua-client, the certificate manager and what they
// require): about 600 modules that each agent start would otherwise resolve and load one by one, and the OPC UA code
// the agent runs is then measured with its bundle at boot. The client half reads no files from its package folders;
// the server half does (nodesets, schemas), so it and the umbrella package stay external (the agent never loads them).
// proper-lockfile is an optional lock provider of @ster5/global-mutex, imported only when configured (not installed).
const industrialExternal = [...external.filter((e) => !e.startsWith('node-opcua')), 'node-opcua', 'node-opcua-server', 'node-opcua-address-space', 'node-opcua-nodesets', 'proper-lockfile'];

/**
 * What stays outside a bundle. Every agent serves A2A, so the per-kind bundles also carry the A2A SDK and jose, its JWS
 * library, which Node otherwise loads as about 50 ES modules on each start.
 */
function externalFor(kind) {
  if (kind === undefined) return external;
  return (kind === 'industrial' ? industrialExternal : external).filter((e) => !e.startsWith('@a2a-js'));
}

// dist/agent.js runs any kind; dist/agent-<kind>.js carries one kind's code only (what the supervisor forks).
const entries = {
  cli: ['runtime/cli/entry.ts'],
  agent: ['runtime/agents/main.ts'],
  'agent-industrial': ['runtime/agents/main.ts', 'industrial'],
  'agent-cognitive': ['runtime/agents/main.ts', 'cognitive'],
  'agent-data': ['runtime/agents/main.ts', 'data'],
  // Latency scenarios time the runtime built as agents run it (bench/run.ts BUNDLED_SCENARIOS).
  'bench-rpc': ['bench/scenarios/rpc.ts'],
};
fs.mkdirSync('dist', { recursive: true });
for (const [name, [entry, kind]] of Object.entries(entries)) {
  if (!fs.existsSync(entry)) continue;
  await build({
    entryPoints: [entry],
    outfile: `dist/${name}.js`,
    bundle: true,
    platform: 'node',
    target: 'node26',
    format: 'cjs',
    sourcemap: 'linked',
    external: externalFor(kind),
    logLevel: 'warning',
    // Keep __dirname-relative lookups (rules/, config/, models/) working from dist/.
    define: { 'process.env.GLIMMER_BUNDLED': '"1"', ...(kind ? { GLIMMER_BUNDLE_KIND: JSON.stringify(kind) } : {}) },
    // Syntax minification folds the bundle-kind checks, so the other kinds' requires are dropped.
    minifySyntax: kind !== undefined,
  });
}
