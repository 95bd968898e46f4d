/**
 * The synth-time topology choice: `--topology` (make synth TOPOLOGY=...), else GLIMMER_TOPOLOGY, else the `topology`
 * context of cdktf.json (or CDKTF_CONTEXT_JSON, as the cdktf CLI passes it), else `all`. Validated here, before any
 * construct is built.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GlimmerError, quote } from '../runtime/errors';

export const TOPOLOGIES = ['edge', 'cloud', 'all'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

export function parseTopology(value: unknown, source: string): Topology {
  if (typeof value === 'string' && (TOPOLOGIES as readonly string[]).includes(value)) return value as Topology;
  throw new GlimmerError('GLM_ERR_INFRA_TOPOLOGY_INVALID', `${source}: topology must be one of ${TOPOLOGIES.join(', ')}, received ${quote(value)}`, {
    details: { source },
  });
}

function contextTopology(env: NodeJS.ProcessEnv, cdktfJson: string): { value: unknown; source: string } | undefined {
  if (env.CDKTF_CONTEXT_JSON) {
    try {
      const ctx = JSON.parse(env.CDKTF_CONTEXT_JSON) as Record<string, unknown>;
      if (ctx.topology !== undefined) return { value: ctx.topology, source: 'CDKTF_CONTEXT_JSON' };
    } catch {
      throw new GlimmerError('GLM_ERR_INFRA_TOPOLOGY_INVALID', 'CDKTF_CONTEXT_JSON: not valid JSON');
    }
  }
  if (!fs.existsSync(cdktfJson)) return undefined;
  let doc: { context?: Record<string, unknown> };
  try {
    doc = JSON.parse(fs.readFileSync(cdktfJson, 'utf8')) as typeof doc;
  } catch {
    throw new GlimmerError('GLM_ERR_INFRA_TOPOLOGY_INVALID', `${path.basename(cdktfJson)}: not valid JSON`);
  }
  return doc.context?.topology === undefined ? undefined : { value: doc.context.topology, source: `${path.basename(cdktfJson)} context.topology` };
}

export function resolveTopology(options: { flag?: string; env?: NodeJS.ProcessEnv; cdktfJson: string }): Topology {
  const env = options.env ?? process.env;
  if (options.flag !== undefined) return parseTopology(options.flag, '--topology');
  if (env.GLIMMER_TOPOLOGY !== undefined) return parseTopology(env.GLIMMER_TOPOLOGY, 'GLIMMER_TOPOLOGY');
  const ctx = contextTopology(env, options.cdktfJson);
  return ctx ? parseTopology(ctx.value, ctx.source) : 'all';
}
