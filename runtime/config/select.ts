/**
 * One agent per pod: in Kubernetes each Deployment runs one agent (the stacks set GLIMMER_AGENT), so the runtime
 * supervises only that agent. Without a selection the whole swarm runs (the embedded default).
 */
import { GlimmerError, quote } from '../errors';
import type { RuntimeConfig } from './types';

export function selectAgent(config: RuntimeConfig, name: string | undefined): RuntimeConfig {
  if (name === undefined || name === '') return config;
  const agent = config.agents.find((a) => a.name === name);
  if (!agent) {
    throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${config.file}: at /agents: received agent ${quote(name)} (GLIMMER_AGENT or --agent), allowed: one of ${config.agents.map((a) => a.name).join(', ')}`);
  }
  return { ...config, agents: [agent] };
}
