/**
 * Where agents' identities come from: the CA alone, or, with `attestation: tpm`, the CA only after the TPM attested
 * the agent and unsealed its key. Also checks the deployment's pin of the policy digest (GLIMMER_PCR_POLICY_HASH,
 * rendered from the stacks' `tpm_attestation.pcr_policy_hash`): a release other than the one the pin was computed
 * from is refused before any key is unsealed.
 */
import crypto from 'node:crypto';
import type { AgentSpec } from '../../config/types';
import { GlimmerError, quote } from '../../errors';
import type { Ca } from '../../trust/ca';
import { issueSvid, type AgentIdentity } from '../../trust/svid';
import type { Attestor } from './attestor';

export const PCR_POLICY_ENV = 'GLIMMER_PCR_POLICY_HASH';

/** `<hex>` (one agent per pod) or `agent=<hex>,...` (several agents in one process); empty: no pin. */
export function parsePolicyPins(text: string | undefined): { all?: string; byAgent: Map<string, string> } {
  const byAgent = new Map<string, string>();
  const value = (text ?? '').trim().toLowerCase();
  if (!value) return { byAgent };
  if (/^[0-9a-f]{64}$/.test(value)) return { all: value, byAgent };
  for (const part of value.split(',')) {
    const m = /^([a-z][a-z0-9-]{0,62})=([0-9a-f]{64})$/.exec(part.trim());
    if (!m) throw new GlimmerError('GLM_ERR_ATTESTATION_POLICY_MISMATCH', `${PCR_POLICY_ENV} must be a SHA-256 PolicyPCR digest (64 hex) or agent=<digest> pairs, received ${quote(part)}`);
    byAgent.set(m[1] as string, m[2] as string);
  }
  return { byAgent };
}

export interface IdentitySourceOptions {
  readonly ca: Ca;
  readonly attestation?: {
    readonly attestor: Attestor;
    /** The artifacts an agent loads, in load order (what its own measured boot measures). */
    readonly artifactsOf: (spec: AgentSpec) => string[];
    readonly pins?: ReturnType<typeof parsePolicyPins>;
  };
}

export function identitySource(options: IdentitySourceOptions): (spec: AgentSpec) => Promise<AgentIdentity> {
  const { ca, attestation } = options;
  return async (spec) => {
    let keyPem: string | undefined;
    if (attestation) {
      const { attestor } = attestation;
      // Measure, quote and unseal as one step: the PCR must still hold this agent's value when the key is unsealed.
      keyPem = await attestor.exclusive(async () => {
        const a = await attestor.attest(spec.name, attestation.artifactsOf(spec));
        const pin = attestation.pins?.byAgent.get(spec.name) ?? attestation.pins?.all;
        if (pin !== undefined && !crypto.timingSafeEqual(Buffer.from(pin, 'hex'), Buffer.from(a.policyDigest, 'hex'))) {
          throw new GlimmerError('GLM_ERR_ATTESTATION_POLICY_MISMATCH', `${spec.name}: the release's PolicyPCR digest ${a.policyDigest} differs from the deployment's pcr_policy_hash ${pin}`);
        }
        return attestor.identityKey(spec.name, a, async () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      });
    }
    const svid = await issueSvid(ca, { zone: spec.zone, agent: spec.name, ...(keyPem ? { keyPem } : {}) });
    return { certPem: svid.certPem, keyPem: svid.keyPem, bundlePem: ca.bundlePem };
  };
}
