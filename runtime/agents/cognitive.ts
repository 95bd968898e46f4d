/**
 * The Cognitive Agent: Prolog safety and asset rules fused with the int8 anomaly model (runtime/reasoning).
 * It receives plant snapshots from the Industrial agent (topic `plant.snapshot`), decides per snapshot with the rules
 * and per window with the model, audits every changed decision with its explanation, publishes its scores, and routes
 * a safety order when enforce_safety_shutdown/1 fires (safety-orders.ts: plant units to the Industrial agent,
 * agents to their own endpoint and so to their supervisor, itself to its own supervisor), and a release when it stops
 * firing for an agent. An order goes once and is acknowledged (topic `safety.ack` from the Industrial agent, or its
 * delivery for an agent); the core re-sends it only on an acknowledgement timeout or a state change. A configuration reload's new safety levels become facts at once. Heavy modules load in `start`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GlimmerError, asGlimmerError, quote } from '../errors';
import { REPO_ROOT } from '../config/load';
import { reasoningSettings } from '../reasoning/config';
import { ruleArtifact } from '../config/rules-dir';
import type { AgentBehaviour, BehaviourFactory } from './behaviour';
import { policyArtifacts, startAgentMessenger, TOPIC_ACK, TOPIC_SHUTDOWN, TOPIC_SNAPSHOT } from '../trust/a2a/messenger';
import { parseSafetyAck, SafetyOrderRouter } from './safety-orders';
import type { SafetyAck } from '../model/messages';


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
  const industrial = config.agents.find((a) => a.kind === 'industrial')?.name;
  const agentNames = new Set(config.agents.map((a) => a.name));
  let stopCore: (() => Promise<void>) | undefined;
  let onLevels: AgentBehaviour['levels'];

  const behaviour: AgentBehaviour = {
    artifacts: [...settings.rulesets.map((r) => ruleArtifact(r)), modelRel, ...policyArtifacts()],
    messaging: {
      start: startAgentMessenger,
      accepts: [
        { topic: TOPIC_SNAPSHOT, description: 'Evaluates a plant snapshot with the safety rules and the anomaly model' },
        { topic: TOPIC_ACK, description: 'Takes the acknowledgement of a safety order it sent (the write seen in the PLC)' },
        { topic: TOPIC_SHUTDOWN, action: 'shutdown', description: 'Holds or releases this agent (its supervisor pauses it) on a safety order' },
      ],
    },
    async start(ctx) {
      const { RuleEngine } = await import('../reasoning/engine');
      const { loadAnomalyModel } = await import('../reasoning/anomaly-model');
      const { CognitiveCore } = await import('../reasoning/cognitive-core');
      const [{ SIMULATED_PLANT_PROFILE }, { staticFacts }] = await Promise.all([import('../model/plant'), import('../reasoning/plant-facts')]);
      const { plantMap } = await import('../model/plant-map');
      const plantUnits = new Set(['plant', ...plantMap().map((e) => e.asset)]);
      let onAck: (ack: SafetyAck) => void = () => undefined;
      const orders = new SafetyOrderRouter({
        self: spec.name,
        agents: agentNames,
        industrial,
        isPlantUnit: (t) => plantUnits.has(t),
        send: (to, topic, body, done) => ctx.send(to, topic, body, done),
        order: (o) => ctx.order(o),
        audit: (r) => ctx.audit(r),
        logger: ctx.logger,
        delivered: (ack) => onAck(ack),
      });
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
          shutdown: (command) => orders.hold(command),
          clear: (command) => orders.release(command),
          audit: (record) => ctx.audit(record),
          publish: (status) => ctx.publish(status),
        },
      });
      onAck = (ack) => core.onAck(ack);
      onLevels = (zones, agents) => {
        core.setStaticFacts(staticFacts(SIMULATED_PLANT_PROFILE, agents, zones));
        ctx.audit({ type: 'cognitive.levels', zones: zones.map((z) => ({ name: z.name, security_level: z.security_level })), agents: agents.map((a) => ({ name: a.name, required_safety_level: a.required_safety_level })) });
      };
      ctx.onMessage((message) => {
        // Change snapshots (sent as plant signals change) run the rules only; the periodic ones also feed the model.
        if (message.topic === TOPIC_SNAPSHOT) core.onSnapshot(message.body, { window: (message.body as { trigger?: unknown } | null)?.trigger !== 'change' });
        else if (message.topic === TOPIC_ACK) {
          try {
            core.onAck(parseSafetyAck(message.body));
          } catch (err) {
            const e = asGlimmerError(err);
            ctx.audit({ type: 'safety.ack_invalid', from: message.from, code: e.code, message: e.message.slice(0, 200) });
          }
        }
      });
      ctx.audit({ type: 'cognitive.started', rulesets: settings.rulesets, model: { path: modelRel, sha256: model.sha256 }, threshold: settings.threshold, inference_limit: settings.inferenceLimit });
      stopCore = async () => {
        core.close();
        await core.idle();
        await model.close();
      };
    },
    levels(zones, agents) {
      onLevels?.(zones, agents);
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
