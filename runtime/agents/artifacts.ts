/**
 * The files an agent of a given kind loads, in load order: its code bundle, the deployment configuration, the rule
 * files and model its configuration names, and the policies its A2A endpoint enforces. Measured boot (inside the
 * agent) and TPM attestation (in the supervisor, before the SVID) measure this same list, so the quoted PCR equals
 * the measurement the agent records (test/e2e/attested-run.test.ts compares the two for every kind). Every kind serves
 * A2A behind a policy decision point, so every kind loads the policies.
 */
import type { AgentSpec, RuntimeConfig } from '../config/types';
import { configuredArtifacts } from '../lifecycle/boot';
import { agentArtifacts, agentBundle, relativeTo } from '../lifecycle/release';
import { policyArtifacts } from '../trust/a2a/messenger';

export function launchArtifacts(spec: AgentSpec, config: RuntimeConfig, root: string): string[] {
  const configFiles = [config.file, config.cognitive.file].map((f) => relativeTo(root, f));
  return agentArtifacts(agentBundle(root, spec.kind), configFiles, [...configuredArtifacts({ spec, config }), ...policyArtifacts()]);
}
