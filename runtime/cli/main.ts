/**
 * `glimmer` entry point. Each subcommand lives in `runtime/cli/commands/<name>.ts` and is loaded only when called,
 * so `glimmer --help` and light commands never pay for node-opcua or the cdktf providers. (`require`, not `import()`:
 * it resolves extensionless TypeScript paths under tsx too, and esbuild still bundles it.)
 * Exit codes: 0 ok, 1 findings / verification failure, 2 usage or input error.
 */
import { asGlimmerError } from '../errors';
import type { Command } from './command';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ default: Command }> }> = {
  run: { summary: 'run the agent swarm (embedded default: simulated plant on loopback)', load: () => Promise.resolve(require('./commands/run') as { default: Command }) },
  plant: { summary: 'plant map --json: the simulated plant\'s Modbus and OPC UA address map', load: () => Promise.resolve(require('./commands/plant') as { default: Command }) },
  rules: { summary: 'rules check --facts FILE.pl --json: evaluate the rule files on a fact file', load: () => Promise.resolve(require('./commands/rules') as { default: Command }) },
  opcua: { summary: 'opcua certs list|add|trust|reject|revoke|issuer|crl|own|renew, opcua users list|add|remove: the plant OPC UA server\'s trust list and accounts (--url, --token)', load: () => Promise.resolve(require('./commands/opcua') as { default: Command }) },
  trust: { summary: 'trust revoke SPIFFE_ID|SERIAL, trust revocations: revoke an SVID or identity at every enforcement point (--url, --token)', load: () => Promise.resolve(require('./commands/trust') as { default: Command }) },
  audit: { summary: 'audit verify (--url URL --token T | --dir STATE_DIR): verify signatures, roots and proofs', load: () => Promise.resolve(require('./commands/audit') as { default: Command }) },
  'verify-boot': { summary: 'verify-boot [--manifest FILE]: the measured-boot check on its own', load: () => Promise.resolve(require('./commands/verify-boot') as { default: Command }) },
  'plan-review': { summary: 'plan-review FILE [--format text|json|sarif|junit]: review a Terraform plan or cdk.tf.json', load: () => Promise.resolve(require('./commands/plan-review') as { default: Command }) },
  attest: { summary: 'attest (--dir DIR | --url URL --token T) [--agent A]: print and verify the last TPM quotes offline', load: () => Promise.resolve(require('./commands/attest') as { default: Command }) },
  compliance: { summary: 'compliance --standard S [--sl N] [--state-dir DIR | --url URL] [--stacks DIR]: control matrix with live checks', load: () => Promise.resolve(require('./commands/compliance') as { default: Command }) },
  mcp: { summary: 'mcp --url URL [--token-file FILE]: MCP server on stdio for a local AI client, relaying to the runtime', load: () => Promise.resolve(require('./commands/mcp') as { default: Command }) },
  explain: { summary: 'explain <audit index> [--dir DIR | --url URL --token T] [--json]: the causal chain of one safety decision', load: () => Promise.resolve(require('./commands/explain') as { default: Command }) },
  'threat-model': { summary: 'threat-model --topology edge|cloud [--format json|md]: STRIDE threat model', load: () => Promise.resolve(require('./commands/threat-model') as { default: Command }) },
};

export function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return ['Usage: glimmer <command> [options]', '', 'Commands:', ...lines, '', 'Run `glimmer <command> --help` for options.'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`glimmer: unknown command ${JSON.stringify(name)}\n\n${helpText()}\n`);
    return 2;
  }
  try {
    const command = (await entry.load()).default;
    return await command(rest);
  } catch (err) {
    const e = asGlimmerError(err);
    process.stderr.write(`glimmer ${name}: ${e.code}: ${e.message}\n`);
    if (e.code === 'GLM_ERR_INTERNAL' && process.env.GLIMMER_DEBUG) process.stderr.write(`${String((err as Error)?.stack)}\n`);
    return 2;
  }
}
