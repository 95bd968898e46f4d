/**
 * The Cognitive Agent: Prolog safety and asset rules fused with the int8 anomaly model (runtime/reasoning).
 * It receives plant snapshots from the Industrial agent (topic `plant.snapshot`), decides per snapshot with the rules
 * and per window with the model, audits every changed decision with its explanation, publishes its scores, and sends
 * `safety.shutdown` to the Industrial agent when enforce_safety_shutdown/1 fires for a plant unit (an agent named as
 * the target is sent the command itself; this agent holds itself). Heavy modules load in `start`, not at import.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GlimmerError, quote } from '../errors';
import { REPO_ROOT } from '../config/load';
import { reasoningSettings } from '../reasoning/config';
import { ruleArtifact } from '../config/rules-dir';
import type { AgentBehaviour, BehaviourFactory } from './behaviour';
import { policyArtifacts, startAgentMessenger, TOPIC_SHUTDOWN, TOPIC_SNAPSHOT } from './messaging';


/** The sha256 the release manifest lists for `rel` (its signature was verified by the measured boot). */
export function manifestSha256(rel: string, manifestFile?: string): string {
   
  const { MANIFEST_FILE } = require('../lifecycle/release') as typeof import('../lifecycle/release');
   
  const { parseManifest } = require('../lifecycle/manifest') as typeof import('../lifecycle/manifest');
  const file = manifestFile ?? path.join(REPO_ROOT, MANIFEST_FILE);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new GlimmerError('GLM_ERR_MODEL_UNTRUSTED', `model ${quote(rel)} cannot be checked: release manifest ${quote(file)} is missing`, { cause: err });
  }
  const entry = parseManifest(bytes, file).artifacts.find((a) => a.path === rel);
  if (!entry) throw new GlimmerError('GLM_ERR_MODEL_UNTRUSTED', `model ${quote(rel)} is not listed in the signed release manifest`);
  return entry.sha256;
}

const factory: BehaviourFactory = (spec, config) => {
  const settings = reasoningSettings(config.cognitive);
  const modelRel = path.isAbsolute(settings.modelPath) ? path.relative(REPO_ROOT, settings.modelPath).split(path.sep).join('/') : settings.modelPath;
  const industrial = config.agents.find((a) => a.kind === 'industrial')?.name ?? 'industrial-1';
  const agentNames = new Set(config.agents.map((a) => a.name));
  let stopCore: (() => Promise<void>) | undefined;

  const behaviour: AgentBehaviour = {
    artifacts: [...settings.rulesets.map((r) => ruleArtifact(r)), modelRel, ...policyArtifacts()],
    messaging: { start: startAgentMessenger, accepts: [{ topic: TOPIC_SNAPSHOT, description: 'Evaluates a plant snapshot with the safety rules and the anomaly model' }] },
    async start(ctx) {
      const { RuleEngine } = await import('../reasoning/engine');
      const { loadAnomalyModel } = await import('../reasoning/model');
      const { CognitiveCore } = await import('../reasoning/cognitive-core');
      const [{ SIMULATED_PLANT_PROFILE }, { staticFacts }] = await Promise.all([import('../model/plant'), import('../reasoning/plant-facts')]);
      const engine = await RuleEngine.create({
        rulesDir: settings.rulesDir,
        rulesets: settings.rulesets,
        inferenceLimit: settings.inferenceLimit,
        onWarning: (line) => ctx.logger.warn({ line: String(line).slice(0, 300) }, 'rule engine message'),
      });
      const model = await loadAnomalyModel({ file: path.resolve(REPO_ROOT, modelRel), expectedSha256: manifestSha256(modelRel) });
      const core = new CognitiveCore({
        engine,
        model,
        modelPath: modelRel,
        threshold: settings.threshold,
        staticFacts: staticFacts(SIMULATED_PLANT_PROFILE, config.agents, config.zones),
        sinks: {
          shutdown: (command) => {
            if (command.target === spec.name) ctx.hold(`safety shutdown: ${command.codes.join(', ') || 'enforce_safety_shutdown'}`);
            else ctx.send(agentNames.has(command.target) ? command.target : industrial, TOPIC_SHUTDOWN, command);
          },
          audit: (record) => ctx.audit(record),
          publish: (status) => ctx.publish(status),
        },
      });
      ctx.onMessage((message) => {
        // Change snapshots (sent as plant signals change) run the rules only; the periodic ones also feed the model.
        if (message.topic === TOPIC_SNAPSHOT) core.onSnapshot(message.body, { window: (message.body as { trigger?: unknown } | null)?.trigger !== 'change' });
      });
      ctx.audit({ type: 'cognitive.started', rulesets: settings.rulesets, model: { path: modelRel, sha256: model.sha256 }, threshold: settings.threshold, inference_limit: settings.inferenceLimit });
      stopCore = async () => {
        core.close();
        await core.idle();
        await model.close();
      };
    },
    async stop() {
      const s = stopCore;
      stopCore = undefined;
      await s?.();
    },
  };
  return behaviour;
};
export default factory;
