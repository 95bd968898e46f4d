/**
 * `glimmer explain <audit index> [--dir STATE_DIR | --url URL (--token T | --token-file F)] [--json]`: the causal chain
 * of one safety decision (fault, score and model, rules and bindings, order, policy decisions, gateway write, PLC state
 * after, acknowledgement), each link with its audit index. Reads the state dir offline (default .glimmer), or asks a
 * running runtime (GET /v1/decisions/explain), which assembles it with the same function.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { entriesOf, explainDecision, formatChain, type DecisionChain } from '../../audit/explain';
import { openAuditStore } from '../../audit/records';
import { GlimmerError, quote, type ErrorCode } from '../../errors';
import type { Command } from '../command';

const USAGE = `Usage: glimmer explain <audit index> [--dir STATE_DIR | --url URL --token T] [--json]

Prints the chain of the safety decision at (or referred to by) that audit entry: the fault seen, the anomaly score
and class with the model hash, the rules fired with their bindings, the order, each policy decision, the gateway
write, the PLC state after and the acknowledgement, each with its audit index.

Options:
  --dir DIR          state directory of a Glimmer runtime (read offline; default .glimmer)
  --url URL          a running runtime's API instead (e.g. http://127.0.0.1:8080)
  --token T          bearer token for --url (or --token-file FILE)
  --json             print the chain as JSON
`;

const usage = (message: string): never => {
  throw new GlimmerError('GLM_ERR_USAGE', `${message}\n\n${USAGE}`);
};

async function remote(url: string, token: string, index: number): Promise<DecisionChain> {
  const res = await fetch(new URL(`/v1/decisions/explain?index=${index}`, url), { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as DecisionChain & { error?: { code: ErrorCode; message: string } };
  if (!res.ok) throw new GlimmerError(body.error?.code ?? 'GLM_ERR_INTERNAL', body.error?.message ?? `GET /v1/decisions/explain answered ${res.status}`);
  return body;
}

const command: Command = async (argv) => {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { dir: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const raw = positionals[0];
  if (positionals.length !== 1 || raw === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(raw)) return usage(`one audit index (a non-negative integer) is required, received ${quote(positionals.join(' '))}`);
  const index = Number(raw);
  let chain: DecisionChain;
  if (values.url !== undefined) {
    if (values.dir !== undefined) return usage('--dir and --url exclude each other');
    const token = values.token ?? (values['token-file'] !== undefined ? fs.readFileSync(values['token-file'], 'utf8').trim() : undefined);
    if (!token) return usage('--url needs --token or --token-file');
    chain = await remote(values.url, token, index);
  } else {
    const dir = path.resolve(values.dir ?? '.glimmer');
    let store: ReturnType<typeof openAuditStore>;
    try {
      store = openAuditStore(dir);
    } catch (err) {
      throw new GlimmerError('GLM_ERR_USAGE', `no audit log in ${quote(dir)} (${(err as Error).message}); pass --dir STATE_DIR or --url`);
    }
    try {
      chain = explainDecision(entriesOf(store), index);
    } finally {
      store.close();
    }
  }
  process.stdout.write(values.json ? `${JSON.stringify(chain, null, 2)}\n` : formatChain(chain));
  return 0;
};

export default command;
