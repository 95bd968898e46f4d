/**
 * The one DMZ rule (runtime/model/zones.ts) gives the same verdict through every door that reads a zone model:
 * the runtime loader (`glimmer run`), the stacks (`make synth`, stacks/main.ts), the threat model, and the constructs'
 * own check for zone models handed to them directly.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfig, DEFAULT_CONFIG_FILE } from '../../runtime/config/load';
import { buildThreatModel } from '../../runtime/review/threat-model';
import { GlimmerError } from '../../runtime/errors';
import { bypassesDmz, gatewayListenerZones } from '../../runtime/model/zones';
import { checkZoneModel, type Protocol, type ZoneModel } from '../../modules/zone-model';
import { main as synth } from '../../stacks/main';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-zones-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Doc = { zones: { name: string; isa95_level: number; security_level: number }[]; conduits: { from: string; to: string; protocols: string[] }[] };
const shipped = YAML.parse(fs.readFileSync(DEFAULT_CONFIG_FILE, 'utf8')) as Doc;

/** Writes glimmer.yml (the shipped one with `conduits` replaced) and its cognitive.yml into a fresh folder. */
function configWith(name: string, conduits: Doc['conduits']): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(path.dirname(DEFAULT_CONFIG_FILE), 'cognitive.yml'), path.join(dir, 'cognitive.yml'));
  const file = path.join(dir, 'glimmer.yml');
  fs.writeFileSync(file, YAML.stringify({ ...shipped, conduits }));
  return file;
}

interface Verdict { readonly accepted: boolean; readonly detail: string }

function viaLoader(file: string): Verdict {
  try { loadConfig(file); return { accepted: true, detail: '' }; } catch (e) { assert.ok(e instanceof GlimmerError); return { accepted: false, detail: `${e.code} ${e.message}` }; }
}
function viaSynth(file: string): Verdict {
  const write = process.stderr.write.bind(process.stderr);
  let err = '';
  process.stderr.write = ((chunk: string | Uint8Array) => { err += String(chunk); return true; }) as typeof process.stderr.write;
  try {
    const code = synth(['--config', file, '--topology', 'edge', '--outdir', path.join(path.dirname(file), 'out')], {});
    return { accepted: code === 0, detail: err };
  } finally { process.stderr.write = write; }
}
async function viaThreatModel(file: string): Promise<Verdict> {
  try { await buildThreatModel({ topology: 'edge', configFile: file }); return { accepted: true, detail: '' }; } catch (e) { assert.ok(e instanceof GlimmerError); return { accepted: false, detail: `${e.code} ${e.message}` }; }
}
/** The constructs' check, on the zone model as written (no loader in between). */
function viaConstructs(conduits: Doc['conduits']): Verdict {
  const model: ZoneModel = {
    zones: shipped.zones.map((z) => ({ name: z.name, isa95Level: z.isa95_level, securityLevel: z.security_level })),
    conduits: conduits.map((c) => ({ from: c.from, to: c.to, protocols: c.protocols as Protocol[] })),
    agents: [],
    trustDomain: 'glimmer.local',
  };
  try { checkZoneModel(model); return { accepted: true, detail: '' }; } catch (e) { assert.ok(e instanceof GlimmerError); return { accepted: false, detail: `${e.code} ${e.message}` }; }
}

const BASE = shipped.conduits;
const cases: { name: string; conduits: Doc['conduits']; accepted: boolean }[] = [
  { name: 'shipped', conduits: BASE, accepted: true },
  { name: 'enterprise-dmz-only', conduits: [...BASE, { from: 'dmz', to: 'enterprise', protocols: ['https'] }], accepted: true },
  // Level 4 to level 3: the case the stacks used to accept and the threat model flagged.
  { name: 'enterprise-operations', conduits: [...BASE, { from: 'enterprise', to: 'operations', protocols: ['https'] }], accepted: false },
  { name: 'enterprise-control', conduits: [...BASE, { from: 'enterprise', to: 'control', protocols: ['modbus'] }], accepted: false },
  { name: 'safety-enterprise', conduits: [...BASE, { from: 'safety', to: 'enterprise', protocols: ['opcua'] }], accepted: false },
];

describe('DMZ rule: one verdict through every door', { timeout: 240_000 }, () => {
  for (const c of cases) {
    test(`GIVEN the ${c.name} conduits WHEN loaded by glimmer run, synthesized by make synth, modelled by the threat model and checked by the constructs THEN all four ${c.accepted ? 'accept' : 'refuse, naming the conduit'}`, async () => {
      const file = configWith(c.name, c.conduits);
      const verdicts = { loader: viaLoader(file), synth: viaSynth(file), threatModel: await viaThreatModel(file), constructs: viaConstructs(c.conduits) };
      for (const [door, v] of Object.entries(verdicts)) assert.equal(v.accepted, c.accepted, `${door}: ${v.detail}`);
      if (!c.accepted) {
        const bad = c.conduits[c.conduits.length - 1] as Doc['conduits'][number];
        for (const door of ['loader', 'synth', 'threatModel'] as const) {
          assert.match(verdicts[door].detail, /GLM_ERR_CONFIG_INVALID/, door);
          assert.match(verdicts[door].detail, new RegExp(`at /conduits/${c.conduits.length - 1}: conduit ${bad.from} .* bypasses the DMZ`), door);
        }
        assert.match(verdicts.constructs.detail, /GLM_ERR_INFRA_ZONE_MODEL_INVALID .*bypasses the DMZ/);
      }
    });
  }
});

test('GIVEN ISA-95 levels WHEN bypassesDmz is asked THEN only level 4 and above against levels 0-3 bypass, in either direction', () => {
  const levels = [0, 1, 2, 3, 3.5, 4, 5];
  for (const a of levels) for (const b of levels) {
    const expected = (a >= 4 && b <= 3) || (b >= 4 && a <= 3);
    assert.equal(bypassesDmz(a, b), expected, `${a} <-> ${b}`);
  }
});

test('GIVEN the shipped zone model WHEN the gateway listener zones are derived THEN operations comes first and only zones reaching a PLC listen', () => {
  assert.deepEqual(gatewayListenerZones(shipped), ['operations', 'control', 'safety']);
  assert.deepEqual(gatewayListenerZones({ zones: shipped.zones, conduits: [] }), ['control', 'safety']);
});
