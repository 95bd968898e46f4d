/**
 * The files an agent of a given kind loads, in load order: its code bundle, the deployment configuration, the rule
 * files and model its configuration names, and the policies its A2A endpoint enforces. Measured boot (inside the
 * agent) and TPM attestation (in the supervisor, before the SVID) measure this same list, so the quoted PCR equals
 * the measurement the agent records.
 */
import type { AgentSpec, RuntimeConfig } from '../config/types';
import { configuredArtifacts } from '../lifecycle/boot';
import { agentArtifacts, agentBundle, relativeTo } from '../lifecycle/release';
import { policyArtifacts } from '../trust/a2a/messenger';

/** Kinds whose behaviour serves A2A with a policy decision point (and so loads the policy files). */
const LOADS_POLICIES: Readonly<Record<AgentSpec['kind'], boolean>> = { industrial: true, cognitive: true, data: false };

export function launchArtifacts(spec: AgentSpec, config: RuntimeConfig, root: string): string[] {
  const configFiles = [config.file, config.cognitive.file].map((f) => relativeTo(root, f));
  return agentArtifacts(agentBundle(root, spec.kind), configFiles, [...configuredArtifacts({ spec, config }), ...(LOADS_POLICIES[spec.kind] ? policyArtifacts() : [])]);
}
