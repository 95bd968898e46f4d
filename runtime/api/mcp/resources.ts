/**
 * MCP resources: the plant map (what every signal is, its zone, whether it is a safety function and who may write
 * it) and the runbooks of docs/response/, read-only context a copilot grounds its answers in.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../config/load';
import { GlimmerError, quote } from '../../errors';
import { plantMap } from '../../model/plant-map';

export interface McpResource {
  readonly uri: string;
  readonly name: string;
  readonly description: string;
  readonly mimeType: string;
  read(): string;
}

export const PLANT_MAP_URI = 'glimmer://plant/map';

/** The resources this runtime offers (runbooks: the Markdown files of `runbookDir`, when it exists). */
export function mcpResources(runbookDir = path.join(REPO_ROOT, 'docs', 'response')): McpResource[] {
  const out: McpResource[] = [{
    uri: PLANT_MAP_URI, name: 'plant map', mimeType: 'application/json',
    description: 'Every Modbus coil and register and OPC UA node of the plant: asset, signal, zone, safety flag, the zones that may write it, units and scale.',
    read: () => JSON.stringify(plantMap()),
  }];
  const files = fs.existsSync(runbookDir) ? fs.readdirSync(runbookDir).filter((f) => /^[a-z0-9-]+\.md$/.test(f)).sort() : [];
  for (const f of files) {
    const file = path.join(runbookDir, f);
    out.push({ uri: `glimmer://runbooks/${f.slice(0, -3)}`, name: `runbook ${f.slice(0, -3)}`, mimeType: 'text/markdown', description: `Incident response runbook ${f}`, read: () => fs.readFileSync(file, 'utf8') });
  }
  return out;
}

export function findResource(resources: readonly McpResource[], uri: unknown): McpResource {
  const found = typeof uri === 'string' && uri.length <= 256 ? resources.find((r) => r.uri === uri) : undefined;
  if (found === undefined) throw new GlimmerError('GLM_ERR_MCP_ARGUMENTS_INVALID', `at /uri: received ${quote(uri)}, allowed: one of ${resources.map((r) => r.uri).join(', ')}`);
  return found;
}
