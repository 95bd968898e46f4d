/**
 * `glimmer attest (--dir STATE_DIR | --url URL --token T) [--agent NAME] [--json]`: prints the last TPM quote the
 * supervisor recorded (for each agent, or one) and verifies it offline: the attestation key's signature, the nonce the
 * verifier chose, and the PCR digest against the value the release manifest predicted. No TPM is needed.
 * `glimmer attest --policy [--config FILE] [--agent NAME]`: the PolicyPCR digests of this release (pcr_policy_hash).
 */
import path from 'node:path';
import { launchArtifacts } from '../../agents/artifacts';
import { readAuditRecords } from '../../audit/records';
import { DEFAULT_CONFIG_FILE, loadConfig, REPO_ROOT } from '../../config/load';
import { GlimmerError, asGlimmerError, quote } from '../../errors';
import { policyDigestFor } from '../../lifecycle/attestation/attestor';
import { verifyQuote } from '../../lifecycle/attestation/quote';
import { CONFIG_PINS_ENV, parseConfigPins } from '../../lifecycle/config-pins';
import { MANIFEST_FILE } from '../../lifecycle/release';
import { parseOptions, printHelp, type Command } from '../command';

const HELP = `Usage: glimmer attest (--dir STATE_DIR | --url URL --token T) [--agent NAME] [--json]
       glimmer attest --policy [--config FILE] [--agent NAME]

Prints the last TPM quote recorded in the audit log for each agent (or --agent) and verifies it offline: the
attestation key's signature, the verifier's nonce and the PCR 23 digest predicted by the signed release manifest.
Exit 0 when every quote verifies, 1 when one does not or none was recorded, 2 on usage errors.
--policy prints the PolicyPCR digest each agent's keys are sealed to (the stacks' tpm_attestation.pcr_policy_hash).`;

interface QuoteRecord {
  agent: string;
  pcr: number;
  nonce: string;
  quote: string;
  signature: string;
  ak_public: string;
  expected_pcr: string;
  policy_digest: string;
}

function isQuote(r: Record<string, unknown>): r is Record<string, unknown> & QuoteRecord {
  return r.type === 'attestation.quote' && ['agent', 'nonce', 'quote', 'signature', 'ak_public', 'expected_pcr'].every((k) => typeof r[k] === 'string');
}

const command: Command = async (argv) => {
  const values = parseOptions(argv, {
    dir: { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
    agent: { type: 'string' },
    policy: { type: 'boolean', default: false },
    config: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return printHelp(HELP);
  if (values.policy) {
    const config = loadConfig(values.config ?? DEFAULT_CONFIG_FILE);
    const agents = config.agents.filter((a) => values.agent === undefined || a.name === values.agent);
    if (agents.length === 0) throw new GlimmerError('GLM_ERR_USAGE', `no agent named ${quote(values.agent)}`);
    const pins = parseConfigPins(process.env[CONFIG_PINS_ENV]);
    const digests = agents.map((a) => ({ agent: a.name, policy_digest: policyDigestFor(path.join(REPO_ROOT, MANIFEST_FILE), launchArtifacts(a, config, REPO_ROOT), pins) }));
    process.stdout.write(values.json ? `${JSON.stringify(digests, null, 2)}\n` : `${digests.map((d) => `${d.agent}=${d.policy_digest}`).join('\n')}\n`);
    return 0;
  }
  if (Boolean(values.dir) === Boolean(values.url)) throw new GlimmerError('GLM_ERR_USAGE', `give --dir or --url\n\n${HELP}`);
  if (values.url && !values.token) throw new GlimmerError('GLM_ERR_USAGE', '--url needs --token');
  const last = new Map<string, QuoteRecord>();
  for await (const r of readAuditRecords(values.dir ? { stateDir: path.resolve(values.dir) } : { url: values.url as string, token: values.token as string })) {
    if (isQuote(r) && (values.agent === undefined || r.agent === values.agent)) last.set(r.agent, r);
  }
  if (last.size === 0) {
    process.stderr.write(`glimmer attest: no TPM quote is recorded${values.agent ? ` for ${quote(values.agent)}` : ''} (is attestation: tpm set?)\n`);
    return 1;
  }
  const results = [...last.values()].map((r) => {
    try {
      verifyQuote({ message: Buffer.from(r.quote, 'base64'), signature: Buffer.from(r.signature, 'base64'), nonce: Buffer.from(r.nonce, 'base64'), akPublicPem: r.ak_public }, Buffer.from(r.expected_pcr, 'hex'), r.pcr);
      return { agent: r.agent, ok: true, pcr: r.pcr, expected_pcr: r.expected_pcr, policy_digest: r.policy_digest, nonce: Buffer.from(r.nonce, 'base64').toString('hex') };
    } catch (err) {
      const e = asGlimmerError(err);
      return { agent: r.agent, ok: false, pcr: r.pcr, code: e.code, reason: e.message };
    }
  });
  if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else for (const r of results) process.stdout.write(r.ok ? `${r.agent}: quote OK, PCR ${r.pcr} = ${r.expected_pcr}, nonce ${r.nonce}, policy ${r.policy_digest}\n` : `${r.agent}: quote FAILED: ${r.code}: ${r.reason}\n`);
  return results.every((r) => r.ok) ? 0 : 1;
};
export default command;
