/**
 * The guards of INIT -> BOOTSTRAPPING (the seed's cert_validation, then measured boot):
 *  1. the agent's X.509-SVID chains to the trust bundle, is within its validity, and names this agent and zone;
 *  2. every artifact the agent loads matches the signed release manifest (extend-only measurement).
 * Both outcomes are audited; a refusal keeps the error code that names what failed.
 */
import path from 'node:path';
import type { AuditRecordInput } from '../model/messages';
import { asGlimmerError } from '../errors';
import { validateSvid } from '../trust/svid';
import { ruleArtifact } from '../config/rules-dir';
import type { BootCommand } from './ipc';
import { measuredBoot } from './manifest';
import { MANIFEST_FILE, SIGNATURE_FILE, agentArtifacts, agentBundle, relativeTo } from './release';
import type { LifecycleState } from './states';
import type { TransitionHook } from './state-machine';

/** Files the configuration makes an agent load: the Cognitive Agent's rulesets and model (cognitive.yml). */
export function configuredArtifacts(cmd: Pick<BootCommand, 'spec' | 'config'>): string[] {
  if (cmd.spec.kind !== 'cognitive') return [];
  const hr = cmd.config.cognitive.hybrid_reasoning;
  const rules = hr.symbolic_components.flatMap((c) => c.rulesets.map((r) => ruleArtifact(r)));
  const models = hr.neural_components.flatMap((c) => (c.path ? [c.path] : []));
  return [...rules, ...models];
}

export function bootHooks(
  cmd: BootCommand,
  kindArtifacts: readonly string[],
  audit: (record: AuditRecordInput) => void,
): [LifecycleState, TransitionHook][] {
  const agent = cmd.spec.name;
  const certValidation: TransitionHook = () => {
    try {
      const id = validateSvid(cmd.identity.certPem, {
        bundlePem: cmd.identity.bundlePem,
        trustDomain: cmd.config.topology.trust_domain,
        expect: { zone: cmd.spec.zone, agent },
      });
      audit({ type: 'agent.identity.valid', agent, spiffe_id: id.spiffeId });
    } catch (err) {
      audit({ type: 'agent.identity.refused', agent, code: asGlimmerError(err).code });
      throw err;
    }
  };
  const measured: TransitionHook = () => {
    const configFiles = [cmd.config.file, cmd.config.cognitive.file].map((f) => relativeTo(cmd.root, f));
    const kindFiles = [...configuredArtifacts(cmd), ...kindArtifacts].map((f) => (path.isAbsolute(f) ? relativeTo(cmd.root, f) : f));
    try {
      const m = measuredBoot({
        root: cmd.root,
        manifestFile: path.join(cmd.root, MANIFEST_FILE),
        signatureFile: path.join(cmd.root, SIGNATURE_FILE),
        publicKeyPem: cmd.releaseKeyPem,
        configPins: cmd.configPins,
        artifacts: agentArtifacts(agentBundle(cmd.root, cmd.spec.kind), configFiles, kindFiles),
      });
      audit({ type: 'agent.boot.measured', agent, measurement: m.value, artifacts: m.artifacts.length });
    } catch (err) {
      const e = asGlimmerError(err);
      audit({ type: 'agent.boot.refused', agent, code: e.code, artifact: e.details.artifact ?? null });
      throw err;
    }
  };
  return [
    ['BOOTSTRAPPING', certValidation],
    ['BOOTSTRAPPING', measured],
  ];
}
