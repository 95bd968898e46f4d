/**
 * glimmer threat-model: ISO 13849 arithmetic, the Prolog scanner against real SWI-Prolog, interlock verification in the
 * embedded engine (present, absent, wrong), STRIDE entries and gaps, rendering, and the typed refusals.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isGlimmerError } from '../../runtime/errors';
import { achievedPL, requiredPL } from '../../runtime/review/iso13849';
import { verifyInterlocks } from '../../runtime/review/interlocks';
import { definedPredicates, scanProlog } from '../../runtime/review/prolog-scan';
import { DEFAULT_SAFETY_FUNCTIONS, loadSafetyFunctions, type SafetyFunction } from '../../runtime/review/safety-functions';
import { THREATS } from '../../runtime/review/stride';
import { buildThreatModel, parseTopology, renderMarkdown, renderThreatJson, type ThreatModel } from '../../runtime/review/threat-model';

const ROOT = path.resolve(__dirname, '..', '..');
const RULESETS = ['industrial_safety.pl', 'iso55001_asset_rules.pl', 'compliance/iso55001_checks.pl'];

describe('ISO 13849-1 arithmetic', () => {
  test('GIVEN every S/F/P combination WHEN the risk graph is read THEN PLr follows Annex A (a..e)', () => {
    const got = (['S1', 'S2'] as const).flatMap((s) => (['F1', 'F2'] as const).flatMap((f) => (['P1', 'P2'] as const).map((p) => requiredPL(s, f, p))));
    assert.deepEqual(got, ['a', 'b', 'b', 'c', 'c', 'd', 'd', 'e']);
  });
  test('GIVEN category, MTTFd and DCavg WHEN the simplified procedure is applied THEN PL follows Table 7 and forbidden cells are undefined', () => {
    assert.equal(achievedPL('B', 'low', 'none'), 'a');
    assert.equal(achievedPL('B', 'medium', 'none'), 'b');
    assert.equal(achievedPL('B', 'high', 'none'), undefined);
    assert.equal(achievedPL('1', 'high', 'none'), 'c');
    assert.equal(achievedPL('2', 'high', 'medium'), 'd');
    assert.equal(achievedPL('3', 'low', 'low'), 'b');
    assert.equal(achievedPL('3', 'high', 'medium'), 'd');
    assert.equal(achievedPL('4', 'high', 'high'), 'e');
    assert.equal(achievedPL('4', 'medium', 'high'), undefined);
    assert.equal(achievedPL('B', 'high', 'medium'), undefined);
  });
});

describe('Prolog scanner', () => {
  test('GIVEN the shipped rule files WHEN scanned THEN the defined predicates equal what SWI-Prolog 9 reports after consulting them', () => {
    for (const rel of RULESETS) {
      const file = path.join(ROOT, 'rules', rel);
      const ours = [...definedPredicates(scanProlog(fs.readFileSync(file, 'utf8'), rel))].sort();
      const goal = `consult('${file}'), findall(N/A, (predicate_property(user:H, file(F)), F == '${file}', functor(H, N, A), \\+ predicate_property(user:H, dynamic)), L), sort(L, S), forall(member(X, S), (write(X), nl)), halt.`;
      const swi = execFileSync('swipl', ['-q', '-g', goal, '-t', 'halt(1)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n').filter(Boolean).sort();
      assert.deepEqual(ours, swi, rel);
    }
  });
  test('GIVEN comments, quoted atoms with dots, floats, 0\'c and block comments WHEN scanned THEN clauses split only at end dots', () => {
    const src = "% a comment with a dot. here\n/* block. comment */\np(X) :- X = 'a. b', Y is 0.5 + 0'., q(Y).\nq(1).\nr :- \"str.\" = S, atom(S).\n:- dynamic(s/2).\n";
    const cls = scanProlog(src, 't.pl');
    assert.deepEqual(cls.map((c) => c.predicate), ['p/1', 'q/1', 'r/0', ':-/1']);
    assert.deepEqual(cls[0]?.atoms, ['a. b']);
    assert.equal(cls[1]?.line, 4);
  });
});

describe('interlocks verified against the rule files', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-rules-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('GIVEN the shipped rules WHEN the default interlocks and trips are verified THEN each fires on its hazard and not on its safe state', async () => {
    const { checks, inventory } = await verifyInterlocks(DEFAULT_SAFETY_FUNCTIONS, { root: ROOT, rulesDir: path.join(ROOT, 'rules'), rulesets: RULESETS });
    assert.deepEqual(checks.map((c) => [c.functionId, c.status]), [['SF-02', 'verified'], ['SF-04', 'verified'], ['IL-01', 'verified'], ['IL-02', 'verified']]);
    assert.ok(checks.every((c) => c.firesOnHazard && c.quietWhenSafe));
    assert.ok(inventory.some((r) => r.file === 'rules/industrial_safety.pl' && r.codes.includes('IL-01-PUMP-START-LOW-TANK')));
  });

  test('GIVEN rule files without the IL-02 interlock WHEN verified THEN IL-02 is a gap saying the expected interlock is absent', async () => {
    const src = fs.readFileSync(path.join(ROOT, 'rules', 'industrial_safety.pl'), 'utf8');
    const start = src.indexOf('% Interlock IL-02');
    assert.ok(start > 0, 'the IL-02 clause is where this test expects it');
    const end = src.indexOf('\n\n', start);
    fs.writeFileSync(path.join(tmp, 'industrial_safety.pl'), src.slice(0, start) + src.slice(end));
    const { checks } = await verifyInterlocks(DEFAULT_SAFETY_FUNCTIONS, { root: tmp, rulesDir: tmp, rulesets: ['industrial_safety.pl'] });
    const il2 = checks.find((c) => c.functionId === 'IL-02');
    assert.equal(il2?.status, 'gap');
    assert.match(il2?.detail ?? '', /no clause of it logs IL-02-VALVE-CLOSE-RUNNING-PUMP: the expected interlock is absent/);
    assert.equal(checks.find((c) => c.functionId === 'IL-01')?.status, 'verified');
  });

  test('GIVEN an interlock whose condition is inverted WHEN verified THEN it is a gap: silent on the hazard, spurious on the safe state', async () => {
    const src = fs.readFileSync(path.join(ROOT, 'rules', 'industrial_safety.pl'), 'utf8');
    const broken = src.replace(/tank_low\(Tank\) :-\s*\n\s*tank_level\(Tank, Level\),\s*\n\s*tank_low_limit\(Tank, Limit\),\s*\n\s*Level < Limit\./, 'tank_low(Tank) :-\n    tank_level(Tank, Level),\n    tank_low_limit(Tank, Limit),\n    Level > Limit.');
    assert.notEqual(broken, src, 'the tank_low/1 clause is where this test expects it');
    fs.writeFileSync(path.join(tmp, 'industrial_safety.pl'), broken);
    const { checks } = await verifyInterlocks(DEFAULT_SAFETY_FUNCTIONS, { root: tmp, rulesDir: tmp, rulesets: ['industrial_safety.pl'] });
    const il1 = checks.find((c) => c.functionId === 'IL-01');
    assert.equal(il1?.status, 'gap');
    assert.match(il1?.detail ?? '', /does not log IL-01-PUMP-START-LOW-TANK for p_1 on its hazard scenario; fires on the safe scenario/);
  });
});

describe('threat model of the edge and cloud topologies', () => {
  let edge: ThreatModel;
  let cloud: ThreatModel;
  before(async () => {
    edge = await buildThreatModel({ topology: 'edge' });
    cloud = await buildThreatModel({ topology: 'cloud' });
  });

  test('GIVEN the edge topology WHEN modelled THEN every component has threats in all six STRIDE categories across the model and each threat has a mitigation or is a gap', () => {
    const strides = new Set(edge.threats.map((t) => t.stride));
    assert.deepEqual([...strides].sort(), ['D', 'E', 'I', 'R', 'S', 'T']);
    for (const c of edge.components) assert.ok(edge.threats.some((t) => t.subject === c.id), `component ${c.id} has threats`);
    for (const t of edge.threats) assert.ok(t.mitigation !== undefined || t.status === 'gap', t.id);
    assert.equal(new Set(edge.threats.map((t) => t.id)).size, edge.threats.length, 'threat ids are unique');
  });

  test('GIVEN the catalogue WHEN every named mitigation file is checked THEN a missing file turns the threat into a gap naming it', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-tmroot-'));
    try {
      fs.cpSync(path.join(ROOT, 'rules'), path.join(tmp, 'rules'), { recursive: true });
      const m = await buildThreatModel({ topology: 'edge', root: tmp });
      const t = m.threats.find((x) => x.id === 'TM-GW-T1');
      assert.equal(t?.status, 'gap');
      assert.deepEqual(t?.missingFiles, ['runtime/industrial/modbus/frame.ts', 'runtime/industrial/modbus/inspector.ts']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('GIVEN the edge zone model WHEN modelled THEN zones at SL >= 3 get ISO 13849 checks and the software-only overpressure trip is a gap (PL b < PLr c)', () => {
    assert.deepEqual(edge.zoneChecks.map((z) => z.zone), ['control', 'safety']);
    const all = edge.zoneChecks.flatMap((z) => z.safetyFunctions);
    const sf4 = all.find((s) => s.id === 'SF-04');
    assert.equal(sf4?.plr, 'c');
    assert.equal(sf4?.plAchieved, 'b');
    assert.equal(sf4?.plVerdict, 'below');
    assert.equal(sf4?.status, 'gap');
    const sf1 = all.find((s) => s.id === 'SF-01');
    assert.deepEqual([sf1?.plr, sf1?.plAchieved, sf1?.status], ['d', 'd', 'ok']);
  });

  test('GIVEN edge vs cloud WHEN modelled THEN topology-specific threats appear only where they apply', () => {
    const ids = (m: ThreatModel) => new Set(m.threats.map((t) => t.id));
    assert.ok(ids(edge).has('TM-AU-T3') && !ids(edge).has('TM-AU-T2') && !ids(edge).has('TM-KEY-T1'));
    assert.ok(ids(cloud).has('TM-AU-T2') && ids(cloud).has('TM-KEY-T1') && !ids(cloud).has('TM-AU-T3'));
    assert.equal(cloud.deploymentModel, 'HYPERSCALE');
    assert.match(cloud.mermaid, /S3 Object Lock/);
  });

  test('GIVEN a zone model with insecure OPC UA into SL 3 and an agent above its zone level WHEN modelled THEN the OPC UA conduit is a gap and the agent is mitigated by its hold with a residual (a DMZ bypass is refused at load: test/model/zones.test.ts)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-cfg-'));
    try {
      fs.copyFileSync(path.join(ROOT, 'config', 'cognitive.yml'), path.join(dir, 'cognitive.yml'));
      const cfg = fs.readFileSync(path.join(ROOT, 'config', 'glimmer.yml'), 'utf8')
        .replace('  - { from: control, to: safety, protocols: [opcua, modbus] }', '  - { from: control, to: safety, protocols: [opcua, modbus], allow_insecure_opcua: true }')
        .replace('{ name: data-1, kind: data, zone: dmz, required_safety_level: 2 }', '{ name: data-1, kind: data, zone: dmz, required_safety_level: 4 }');
      fs.writeFileSync(path.join(dir, 'glimmer.yml'), cfg);
      const m = await buildThreatModel({ topology: 'edge', configFile: path.join(dir, 'glimmer.yml') });
      const status = (id: string) => m.threats.find((t) => t.id === id)?.status;
      assert.equal(status('TM-CD-CONTROL-SAFETY-T-OPCUA'), 'gap');
      assert.equal(status('TM-ZONE-DATA-1'), 'partial');
      assert.equal(status('TM-CD-OPERATIONS-CONTROL-T-OPCUA'), 'mitigated');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('GIVEN the edge model WHEN rendered as Markdown THEN it has the sections, a Mermaid diagram with balanced subgraphs, the gap list and a sign-off table', () => {
    const md = renderMarkdown(edge);
    for (const h of ['## 1. Scope and assumptions', '## 2. System overview', '## 3. Zones and conduits', '## 4. Threats by component (STRIDE)', '## 5. Threats on conduits', '## 6. Zones at SL >= 3', '## 7. Gaps and residual risks', '## 8. Review and sign-off']) {
      assert.ok(md.includes(h), h);
    }
    const diagram = md.slice(md.indexOf('```mermaid') + 10, md.indexOf('```', md.indexOf('```mermaid') + 10));
    assert.equal((diagram.match(/^\s*subgraph /gm) ?? []).length, (diagram.match(/^\s*end$/gm) ?? []).length);
    assert.match(diagram, /subgraph z_safety\["safety · ISA-95 L1 · SL 3"\]/);
    assert.match(md, /\*\*SF-04\*\* \(safety function gap\)/);
    assert.match(md, /\| Security reviewer \(IEC 62443\) \|/);
    assert.equal(md, renderMarkdown(edge), 'deterministic');
  });

  test('GIVEN the edge model WHEN rendered as JSON THEN it round-trips with the summary counts', () => {
    const back = JSON.parse(renderThreatJson(edge));
    assert.equal(back.summary.threats, edge.threats.length);
    assert.equal(back.summary.mitigated + back.summary.partial + back.summary.gaps, back.summary.threats);
    assert.equal(back.topology, 'edge');
  });

  test('GIVEN the threat catalogue WHEN read THEN every mitigation names at least one file and ids are unique', () => {
    assert.equal(new Set(THREATS.map((t) => t.id)).size, THREATS.length);
    for (const t of THREATS) if (t.mitigation) assert.ok(t.mitigation.files.length > 0, t.id);
  });
});

describe('threat-model refusals', () => {
  test('GIVEN an unknown topology WHEN parsed THEN GLM_ERR_THREAT_UNKNOWN_TOPOLOGY names it', () => {
    assert.throws(() => parseTopology('mars'), (e: unknown) => isGlimmerError(e, 'GLM_ERR_THREAT_UNKNOWN_TOPOLOGY') && /"mars".*edge, cloud/.test(e.message));
  });
  test('GIVEN an unknown topology WHEN the CLI runs THEN exit 2 with the typed error', () => {
    const p = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'runtime/cli/entry.ts'), 'threat-model', '--topology', 'mars'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(p.status, 2);
    assert.match(p.stderr, /GLM_ERR_THREAT_UNKNOWN_TOPOLOGY/);
  });
  test('GIVEN a safety function file with an unknown category WHEN loaded THEN GLM_ERR_THREAT_SAFETY_FUNCTIONS_INVALID', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-sf-'));
    try {
      const bad: SafetyFunction[] = [{ ...(DEFAULT_SAFETY_FUNCTIONS[0] as SafetyFunction), srpcs: { performedBy: 'x', category: '5' as never, mttfd: 'high', dcavg: 'high', source: 'x' } }];
      fs.writeFileSync(path.join(dir, 'sf.json'), JSON.stringify(bad));
      assert.throws(() => loadSafetyFunctions(path.join(dir, 'sf.json')), (e: unknown) => isGlimmerError(e, 'GLM_ERR_THREAT_SAFETY_FUNCTIONS_INVALID') && /srpcs\/category/.test(e.message));
      fs.writeFileSync(path.join(dir, 'ok.yml'), JSON.stringify(DEFAULT_SAFETY_FUNCTIONS));
      assert.equal(loadSafetyFunctions(path.join(dir, 'ok.yml')).length, DEFAULT_SAFETY_FUNCTIONS.length);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('threat model with the stacks\' plans', () => {
  test('GIVEN --plan with a synthesized configuration WHEN modelled THEN its blocking plan-review findings are gaps with their fix, and the file is an input', async () => {
    const plan = path.join(ROOT, 'test', 'fixtures', 'plans', 'edge-insecure.cdk.tf.json');
    const m = await buildThreatModel({ topology: 'edge', plans: [plan] });
    const fromPlan = m.threats.filter((t) => t.scope === 'plan');
    assert.equal(fromPlan.length, 5);
    assert.ok(fromPlan.every((t) => t.status === 'gap' && t.subject === 'plan:test/fixtures/plans/edge-insecure.cdk.tf.json'));
    assert.ok(fromPlan.some((t) => t.id.startsWith('TM-PLAN-MESH-001-') && t.stride === 'S'));
    assert.ok(m.inputs.some((i) => i.file === 'test/fixtures/plans/edge-insecure.cdk.tf.json'));
    assert.match(renderMarkdown(m), /\*\*Fix:\*\* Set spec\.mtls\.mode: STRICT/);
    assert.match(renderMarkdown(m), /`glimmer plan-review` of `test\/fixtures\/plans\/edge-insecure\.cdk\.tf\.json` \(rules in docs\/ci\.md\) found 5 findings, listed below\./);
  });

  test('GIVEN --plan with a clean plan WHEN modelled THEN the document says the plan was reviewed and found nothing, and without --plan that none was reviewed', async () => {
    const plan = path.join(ROOT, 'test', 'fixtures', 'plans', 'edge-clean.plan.json');
    const m = await buildThreatModel({ topology: 'edge', plans: [plan] });
    assert.equal(m.threats.filter((t) => t.scope === 'plan').length, 0);
    assert.deepEqual(m.plans, ['test/fixtures/plans/edge-clean.plan.json']);
    assert.match(renderMarkdown(m), /`glimmer plan-review` of `test\/fixtures\/plans\/edge-clean\.plan\.json` \(rules in docs\/ci\.md\) found nothing\./);
    assert.match(renderMarkdown(await buildThreatModel({ topology: 'edge' })), /No plan or synthesized stack was reviewed for this model/);
  });
});
