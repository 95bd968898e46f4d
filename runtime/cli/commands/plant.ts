/**
 * `glimmer plant map [--json]`: the simulated plant's Modbus coils/registers and OPC UA node ids.
 * `glimmer plant snapshot [--seed N] [--seconds S] [--fault ASSET:FAULT ...]`: one JSON snapshot after S simulated seconds.
 */
import { parseArgs } from 'node:util';
import { GlimmerError, quote } from '../../errors';
import type { Command } from '../command';
import { plantMap } from '../../model/plant-map';
import { FAULT_KINDS, type FaultKind } from '../../model/plant';
import { PlantSimulation } from '../../industrial/plant/simulation';

const USAGE = `Usage:
  glimmer plant map [--json]
  glimmer plant snapshot [--seed N] [--seconds S] [--fault ASSET:FAULT]...   (faults: ${FAULT_KINDS.join(', ')})`;

function mapCommand(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } }, strict: true });
  if (values.help) { process.stdout.write(`${USAGE}\n`); return 0; }
  const map = plantMap();
  if (values.json) {
    process.stdout.write(`${JSON.stringify(map, null, 2)}\n`);
    return 0;
  }
  const header = ['unit', 'table', 'addr', 'signal', 'eng.unit', 'scale', 'zone', 'safety', 'writable_from', 'opcua_node_id'];
  const rows = map.map((e) => [String(e.unit_id), e.table, String(e.address), e.id, e.unit || '-', String(e.scale), e.zone, e.safety ? 'yes' : 'no', e.writable_from.join(',') || '-', e.opcua_node_id]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  process.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
  return 0;
}

function snapshotCommand(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { seed: { type: 'string', default: '42' }, seconds: { type: 'string', default: '60' }, fault: { type: 'string', multiple: true, default: [] } }, strict: true });
  const seed = Number(values.seed);
  const seconds = Number(values.seconds);
  if (!Number.isInteger(seed)) throw new GlimmerError('GLM_ERR_USAGE', `--seed must be an integer, received ${quote(values.seed)}`);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 86_400) throw new GlimmerError('GLM_ERR_USAGE', `--seconds must be 0..86400, received ${quote(values.seconds)}`);
  const sim = new PlantSimulation({ seed });
  for (const spec of values.fault) {
    const [asset, fault] = spec.split(':');
    if (!asset || !fault || !(FAULT_KINDS as readonly string[]).includes(fault)) throw new GlimmerError('GLM_ERR_USAGE', `--fault must be ASSET:FAULT with FAULT one of ${FAULT_KINDS.join(', ')}, received ${quote(spec)}`);
    sim.injectFault(asset, fault as FaultKind);
  }
  for (let left = seconds * 1000; left > 0; left -= 3_600_000) sim.step(Math.min(left, 3_600_000));
  process.stdout.write(`${JSON.stringify(sim.snapshot(), null, 2)}\n`);
  return 0;
}

const command: Command = async (argv) => {
  const [sub, ...rest] = argv;
  if (sub === 'map') return mapCommand(rest);
  if (sub === 'snapshot') return snapshotCommand(rest);
  if (sub === '--help' || sub === '-h' || sub === 'help') { process.stdout.write(`${USAGE}\n`); return 0; }
  process.stderr.write(`glimmer plant: unknown subcommand ${quote(sub ?? '')}\n${USAGE}\n`);
  return 2;
};
export default command;
