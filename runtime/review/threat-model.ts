/**
 * `glimmer threat-model` as a library: STRIDE over the components, zones and conduits of a topology, with each threat's
 * mitigation in this repository (files checked to exist) or a gap, and the zone-specific checks of zones at SL >= 3:
 * ISO 13849-1 required vs achieved performance level of each safety function, and the PLC safety interlocks verified
 * against the rule files. Output is deterministic (no timestamps), so the generated document diffs cleanly.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GlimmerError, quote } from '../errors';
import { DEFAULT_CONFIG_FILE, loadConfig, REPO_ROOT } from '../config/load';
import { safetyLevelShortfalls, shortfallMessage } from '../model/zones';
import type { Conduit, RuntimeConfig, Zone } from '../config/types';
import { achievedPL, plAtLeast, requiredPL, type PL } from './iso13849';
import { verifyInterlocks, type RuleCheck, type RuleFileInventory } from './interlocks';
import { DEFAULT_SAFETY_FUNCTIONS, type SafetyFunction } from './safety-functions';
import { COMPONENTS, STRIDE_NAMES, THREATS, type ComponentId, type Stride, type TopologyName } from './stride';
import { reviewFile, TOOL_VERSION } from './plan-review';
import type { RuleId } from './rules';

export const TOPOLOGIES: readonly TopologyName[] = ['edge', 'cloud'];
export const SAFETY_ZONE_MIN_SL = 3;

export type ThreatStatus = 'mitigated' | 'partial' | 'gap';

export interface ThreatEntry {
  readonly id: string;
  readonly scope: 'component' | 'conduit' | 'zone' | 'plan';
  /** Component id, or `conduit:<from>-><to>`, `zone:<name>`, `plan:<file>`. */
  readonly subject: string;
  readonly stride: Stride;
  readonly threat: string;
  readonly mitigation?: { readonly summary: string; readonly files: readonly string[] };
  readonly missingFiles: readonly string[];
  readonly residual?: string;
  readonly status: ThreatStatus;
}

export interface SafetyFunctionCheck {
  readonly id: string;
  readonly name: string;
  readonly zone: string;
  readonly hazard: string;
  readonly risk?: SafetyFunction['risk'];
  readonly plr?: PL;
  readonly srpcs?: SafetyFunction['srpcs'];
  readonly plAchieved?: PL;
  /** meets: PL >= PLr on the declared SRP/CS data; below: PL < PLr; invalid: a combination ISO 13849 does not allow. */
  readonly plVerdict: 'meets' | 'below' | 'invalid' | 'not-assessed';
  readonly rule?: RuleCheck;
  readonly status: 'ok' | 'gap';
  readonly notes: readonly string[];
}

export interface ZoneCheck {
  readonly zone: string;
  readonly isa95Level: number;
  readonly securityLevel: number;
  readonly agents: readonly string[];
  readonly conduitsIn: readonly string[];
  readonly safetyFunctions: readonly SafetyFunctionCheck[];
}

export interface ThreatModel {
  readonly tool: { readonly name: string; readonly version: string };
  readonly topology: TopologyName;
  readonly deploymentModel: string;
  readonly trustDomain: string;
  readonly inputs: readonly { readonly file: string; readonly sha256: string }[];
  /** The plans or synthesized stacks whose plan-review findings are part of the model (also among the inputs). */
  readonly plans: readonly string[];
  readonly zones: readonly Zone[];
  readonly conduits: readonly Required<Conduit>[];
  readonly agents: readonly { readonly name: string; readonly kind: string; readonly zone: string; readonly requiredSafetyLevel: number }[];
  readonly components: readonly { readonly id: ComponentId; readonly name: string; readonly description: string }[];
  readonly threats: readonly ThreatEntry[];
  readonly zoneChecks: readonly ZoneCheck[];
  readonly rules: readonly RuleFileInventory[];
  readonly summary: {
    readonly threats: number; readonly mitigated: number; readonly partial: number; readonly gaps: number;
    readonly safetyFunctions: number; readonly safetyFunctionGaps: number;
  };
  readonly mermaid: string;
}

export interface ThreatModelOptions {
  readonly topology: string;
  /** @default config/glimmer.yml */
  readonly configFile?: string;
  /** @default DEFAULT_SAFETY_FUNCTIONS (the simulated plant) */
  readonly safetyFunctions?: readonly SafetyFunction[];
  /** Checkout whose files mitigations name. @default the repository root */
  readonly root?: string;
  /** Plans or synthesized cdk.tf.json of the topology's stacks: their plan-review findings join the model. @default none */
  readonly plans?: readonly string[];
}

export function parseTopology(value: string): TopologyName {
  if (!(TOPOLOGIES as readonly string[]).includes(value)) {
    throw new GlimmerError('GLM_ERR_THREAT_UNKNOWN_TOPOLOGY', `--topology ${quote(value)} does not exist; allowed: ${TOPOLOGIES.join(', ')}`, { details: { topology: value } });
  }
  return value as TopologyName;
}

/** Path relative to the checkout; a file outside it shows its last three segments. */
const rel = (root: string, file: string) => {
  const r = path.relative(root, path.resolve(file)).split(path.sep).join('/') || '.';
  return r.startsWith('../') ? path.resolve(file).split(path.sep).slice(-3).join('/') : r;
};

function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function entry(root: string, spec: { id: string; scope: ThreatEntry['scope']; subject: string; stride: Stride; threat: string; mitigation?: ThreatEntry['mitigation']; residual?: string }): ThreatEntry {
  const missing = (spec.mitigation?.files ?? []).filter((f) => !fs.existsSync(path.join(root, f)));
  const status: ThreatStatus = spec.mitigation === undefined || missing.length > 0 ? 'gap' : spec.residual ? 'partial' : 'mitigated';
  return { ...spec, missingFiles: missing, status };
}

/** Per conduit threats. A conduit that bypasses the DMZ never gets here: loadConfig refuses it (runtime/model/zones.ts). */
function conduitThreats(root: string, cfg: RuntimeConfig): ThreatEntry[] {
  const byName = new Map(cfg.zones.map((z) => [z.name, z]));
  const out: ThreatEntry[] = [];
  cfg.conduits.forEach((c) => {
    const from = byName.get(c.from) as Zone;
    const to = byName.get(c.to) as Zone;
    const subject = `conduit:${c.from}->${c.to}`;
    const base = `TM-CD-${c.from}-${c.to}`.toUpperCase();
    const web = c.protocols.filter((p) => p === 'https' || p === 'a2a');
    if (web.length > 0) {
      out.push(entry(root, {
        id: `${base}-S`, scope: 'conduit', subject, stride: 'S',
        threat: `A workload outside ${c.from} calls ${c.to} over ${web.join('/')}, or one in ${c.from} impersonates another agent.`,
        mitigation: { summary: 'Mesh STRICT mTLS and an ALLOW AuthorizationPolicy naming the source zone\'s identities and the conduit ports; runtime TLS 1.3 mTLS with SPIFFE checks; NetworkPolicies open only this conduit.', files: ['modules/mesh-policies.ts', 'modules/zone-network-policies.ts', 'runtime/trust/mtls.ts'] },
      }));
    }
    if (c.protocols.includes('opcua')) {
      const high = Math.max(from.security_level, to.security_level);
      out.push(entry(root, {
        id: `${base}-T-OPCUA`, scope: 'conduit', subject, stride: 'T',
        threat: `OPC UA traffic ${c.from} -> ${c.to} is read or changed on the way${c.allow_insecure_opcua ? ' (the conduit sets allow_insecure_opcua: SecurityPolicy None is allowed)' : ''}.`,
        ...(c.allow_insecure_opcua && high >= SAFETY_ZONE_MIN_SL
          ? {}
          : { mitigation: { summary: 'OPC UA SignAndEncrypt (Basic256Sha256 or Aes256_Sha256_RsaPss) with trusted certificates only, inside the mesh\'s mTLS.', files: ['runtime/industrial/opcua/security.ts', 'modules/mesh-policies.ts'] } }),
        ...(c.allow_insecure_opcua && high < SAFETY_ZONE_MIN_SL ? { residual: 'allow_insecure_opcua is set on this conduit: sessions with SecurityPolicy None are accepted. Remove it once the PLCs support SignAndEncrypt.' } : {}),
      }));
    }
    if (c.protocols.includes('modbus')) {
      out.push(entry(root, {
        id: `${base}-T-MODBUS`, scope: 'conduit', subject, stride: 'T',
        threat: `Modbus/TCP from ${c.from} reaches the PLCs in ${c.to}: the protocol has no authentication or integrity.`,
        mitigation: { summary: 'Modbus crosses this conduit only through the security gateway (deny by default, per-zone function and address allow-lists, writable_from for safety addresses, policy decision, audit); NetworkPolicies let only the gateway reach the PLCs.', files: ['runtime/industrial/modbus/gateway.ts', 'runtime/industrial/modbus/inspector.ts', 'modules/zone-network-policies.ts'] },
        residual: 'The leg from the gateway to the PLC is plaintext Modbus/TCP inside the zone (see TM-GW-I1).',
      }));
    }
  });
  return out;
}

/**
 * The same verdict as `glimmer run` and `make synth` (runtime/model/zones.ts): the agent would operate with
 * less protection than it requires (elevation), which the runtime mitigates by holding it; what remains is that it
 * provides no function until the levels agree.
 */
function agentPlacementThreats(root: string, cfg: RuntimeConfig): ThreatEntry[] {
  return safetyLevelShortfalls(cfg).map((s) => entry(root, {
    id: `TM-ZONE-${s.agent.toUpperCase()}`, scope: 'zone', subject: `zone:${s.zone}`, stride: 'E',
    threat: `Agent ${s.agent} would operate in zone ${s.zone} at SL ${s.zoneLevel} with less protection than the SL ${s.required} it requires.`,
    mitigation: { summary: `${shortfallMessage(s)}; the Cognitive agent's safety_integrity_check orders the same hold at every evaluation.`, files: ['runtime/model/zones.ts', 'runtime/lifecycle/supervisor.ts', 'rules/compliance/iso55001_checks.pl'] },
    residual: `${s.agent} provides no function while held: raise zone ${s.zone}'s security level or lower the agent's required_safety_level, or place the agent in a zone that meets it.`,
  }));
}

const RULE_STRIDE: Record<string, Stride> = { ENC: 'I', KMS: 'I', NET: 'E', MESH: 'S', NETPOL: 'E', S3: 'T', LIFE: 'D', POD: 'E' };

/** plan-review findings of the topology's stacks: blocking ones are gaps, warnings are residual risks. */
function planThreats(root: string, plans: readonly string[], zoneLevels: ReadonlyMap<string, number>): ThreatEntry[] {
  return plans.flatMap((file) => {
    const report = reviewFile(file, { zoneLevels });
    const subject = `plan:${rel(root, file)}`;
    return report.findings.map((f, i) => {
      const family = (f.ruleId as RuleId).split('-')[1] as string;
      const where = f.constructPath ?? f.address;
      const threat = `${f.ruleId} in ${where}: ${f.message}.`;
      return f.severity === 'blocking'
        ? entry(root, { id: `TM-PLAN-${f.ruleId.slice(4)}-${i + 1}`, scope: 'plan', subject, stride: RULE_STRIDE[family] ?? 'T', threat, residual: f.fix })
        : entry(root, { id: `TM-PLAN-${f.ruleId.slice(4)}-${i + 1}`, scope: 'plan', subject, stride: RULE_STRIDE[family] ?? 'T', threat, mitigation: { summary: 'reported as a warning by plan-review', files: ['runtime/review/rules.ts'] }, residual: f.fix });
    });
  });
}

function assessFunction(fn: SafetyFunction, rule: RuleCheck | undefined): SafetyFunctionCheck {
  const notes: string[] = [];
  const plr = fn.risk ? requiredPL(fn.risk.S, fn.risk.F, fn.risk.P) : undefined;
  const plAchieved = fn.srpcs ? achievedPL(fn.srpcs.category, fn.srpcs.mttfd, fn.srpcs.dcavg) : undefined;
  let plVerdict: SafetyFunctionCheck['plVerdict'] = 'not-assessed';
  if (plr !== undefined && fn.srpcs !== undefined) {
    if (plAchieved === undefined) {
      plVerdict = 'invalid';
      notes.push(`category ${fn.srpcs.category} with MTTFd ${fn.srpcs.mttfd} and DCavg ${fn.srpcs.dcavg} is not a combination ISO 13849-1 allows`);
    } else if (plAtLeast(plAchieved, plr)) {
      plVerdict = 'meets';
      notes.push(`PL ${plAchieved} >= PLr ${plr} on the declared SRP/CS data (${fn.srpcs.source})`);
    } else {
      plVerdict = 'below';
      notes.push(`PL ${plAchieved} < PLr ${plr}: ${fn.srpcs.performedBy} cannot carry this function; add a hardwired trip in the safety PLC (category 3, MTTFd high, DCavg >= medium gives PL d)`);
    }
  } else if (plr !== undefined) notes.push(`PLr ${plr}, but no SRP/CS is declared for it`);
  if (rule) notes.push(`${rule.status === 'verified' ? 'rule verified' : 'rule gap'}: ${rule.predicate} ${rule.code}: ${rule.detail}`);
  const status = plVerdict === 'below' || plVerdict === 'invalid' || (plr !== undefined && fn.srpcs === undefined) || rule?.status === 'gap' ? 'gap' : 'ok';
  return {
    id: fn.id, name: fn.name, zone: fn.zone, hazard: fn.hazard, plVerdict, status, notes,
    ...(fn.risk ? { risk: fn.risk } : {}), ...(plr ? { plr } : {}), ...(fn.srpcs ? { srpcs: fn.srpcs } : {}),
    ...(plAchieved ? { plAchieved } : {}), ...(rule ? { rule } : {}),
  };
}

/** Builds the threat model of a topology from the zone model, the rule files and the safety function catalogue. */
export async function buildThreatModel(opts: ThreatModelOptions): Promise<ThreatModel> {
  const topology = parseTopology(opts.topology);
  const root = opts.root ?? REPO_ROOT;
  const configFile = opts.configFile ?? DEFAULT_CONFIG_FILE;
  const cfg = loadConfig(configFile);
  const functions = opts.safetyFunctions ?? DEFAULT_SAFETY_FUNCTIONS;
  const rulesDir = path.join(root, 'rules');
  const rulesets = [...new Set(cfg.cognitive.hybrid_reasoning.symbolic_components.flatMap((s) => s.rulesets))];
  const { inventory, checks } = await verifyInterlocks(functions, { root, rulesDir, rulesets });

  const threats: ThreatEntry[] = [
    ...THREATS.filter((t) => t.topologies === undefined || t.topologies.includes(topology)).map((t) => entry(root, {
      id: t.id, scope: 'component', subject: t.component, stride: t.stride, threat: t.threat,
      ...(t.mitigation ? { mitigation: t.mitigation } : {}), ...(t.residual ? { residual: t.residual } : {}),
    })),
    ...conduitThreats(root, cfg),
    ...agentPlacementThreats(root, cfg),
    ...planThreats(root, opts.plans ?? [], new Map(cfg.zones.map((z) => [z.name, z.security_level]))),
  ];

  const zoneChecks: ZoneCheck[] = cfg.zones.filter((z) => z.security_level >= SAFETY_ZONE_MIN_SL).map((z) => ({
    zone: z.name, isa95Level: z.isa95_level, securityLevel: z.security_level,
    agents: cfg.agents.filter((a) => a.zone === z.name).map((a) => a.name),
    conduitsIn: cfg.conduits.filter((c) => c.to === z.name || c.from === z.name).map((c) => `${c.from} -> ${c.to} (${c.protocols.join(', ')})`),
    safetyFunctions: functions.filter((f) => f.zone === z.name).map((f) => assessFunction(f, checks.find((c) => c.functionId === f.id))),
  }));
  const sfs = zoneChecks.flatMap((z) => z.safetyFunctions);

  const inputs = [configFile, cfg.cognitive.file, ...inventory.map((r) => path.join(root, r.file)), ...(opts.plans ?? [])].map((f) => ({ file: rel(root, f), sha256: sha256File(f) }));
  const model: Omit<ThreatModel, 'mermaid'> = {
    tool: { name: 'glimmer threat-model', version: TOOL_VERSION },
    topology, deploymentModel: topology === 'edge' ? 'ISA95_ZONED' : 'HYPERSCALE', trustDomain: cfg.topology.trust_domain,
    inputs, plans: (opts.plans ?? []).map((f) => rel(root, f)), zones: cfg.zones, conduits: cfg.conduits,
    agents: cfg.agents.map((a) => ({ name: a.name, kind: a.kind, zone: a.zone, requiredSafetyLevel: a.required_safety_level })),
    components: COMPONENTS.map((c) => ({ ...c })), threats, zoneChecks, rules: inventory,
    summary: {
      threats: threats.length, mitigated: threats.filter((t) => t.status === 'mitigated').length, partial: threats.filter((t) => t.status === 'partial').length,
      gaps: threats.filter((t) => t.status === 'gap').length, safetyFunctions: sfs.length, safetyFunctionGaps: sfs.filter((s) => s.status === 'gap').length,
    },
  };
  return { ...model, mermaid: mermaid(model) };
}

// --- rendering --------------------------------------------------------------------------------------------------------

const mid = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');
const mlabel = (s: string) => s.replace(/"/g, '#quot;');

/** A Mermaid flowchart: one subgraph per zone (its trust boundary), the conduits between them, the runtime's trust services. */
export function mermaid(m: Omit<ThreatModel, 'mermaid'>): string {
  const lines = ['flowchart TB'];
  const zones = [...m.zones].sort((a, b) => b.isa95_level - a.isa95_level);
  const industrialZone = m.agents.find((a) => a.kind === 'industrial')?.zone;
  const lowest = zones[zones.length - 1]?.name;
  const safetyZone = zones.find((z) => z.name === 'safety')?.name ?? lowest;
  const consoleZone = zones.find((z) => z.isa95_level === 3)?.name ?? zones[0]?.name;
  for (const z of zones) {
    lines.push(`  subgraph ${mid(`z_${z.name}`)}["${mlabel(`${z.name} · ISA-95 L${z.isa95_level} · SL ${z.security_level}`)}"]`);
    for (const a of m.agents.filter((x) => x.zone === z.name)) lines.push(`    ${mid(`a_${a.name}`)}(["${mlabel(`${a.name} (${a.kind} agent)`)}"])`);
    if (z.name === industrialZone) {
      lines.push('    gw[/"Modbus/TCP security gateway"/]', '    ua[["OPC UA client + server"]]', '    plc_process[("Process PLC")]');
    }
    if (z.name === safetyZone) lines.push('    plc_safety[("Safety PLC (E-stop, trips)")]');
    if (z.name === consoleZone) lines.push('    api[["API + operator console"]]');
    if (lines[lines.length - 1]?.startsWith('  subgraph')) lines.push(`    ${mid(`n_${z.name}`)}["(no Glimmer component: zone clients only)"]`);
    lines.push('  end');
  }
  lines.push('  subgraph trust["Runtime trust services"]');
  lines.push('    pdp{{"Policy decision point (Cedar, default deny)"}}', '    audit[("Audit log (RFC 9162 Merkle, signed checkpoints)")]');
  lines.push(m.topology === 'cloud' ? '    keys[("CloudHSM-backed KMS key store + KMS signing key")]' : '    keys[("HSM via PKCS#11")]');
  if (m.topology === 'cloud') lines.push('    worm[("S3 Object Lock (COMPLIANCE) sealed segments")]');
  lines.push('  end');
  lines.push('  mesh{{"Istio STRICT mTLS + default-deny NetworkPolicies"}}');
  for (const c of m.conduits) lines.push(`  ${mid(`z_${c.from}`)} -- "${mlabel(c.protocols.join(', '))}" --> ${mid(`z_${c.to}`)}`);
  for (const a of m.agents) lines.push(`  ${mid(`a_${a.name}`)} -. decide .-> pdp`, `  ${mid(`a_${a.name}`)} -. append .-> audit`);
  if (industrialZone !== undefined) {
    const ind = m.agents.find((a) => a.kind === 'industrial');
    if (ind) lines.push(`  ${mid(`a_${ind.name}`)} -- "OPC UA SignAndEncrypt" --> ua`, `  ${mid(`a_${ind.name}`)} -- "Modbus/TCP" --> gw`);
    lines.push('  gw -- "Modbus/TCP (plaintext, in zone)" --> plc_process', '  gw -- "writable_from + interlocks" --> plc_safety', '  gw -. decide .-> pdp');
  }
  lines.push('  audit -- "sign checkpoint" --> keys');
  if (m.topology === 'cloud') lines.push('  audit -- "sealed segments" --> worm');
  if (consoleZone !== undefined) lines.push('  api -. "proofs, checkpoints" .-> audit');
  lines.push('  mesh -. "carries every conduit" .- trust');
  return lines.join('\n');
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const STATUS_MARK: Record<ThreatStatus, string> = { mitigated: 'mitigated', partial: 'partial (residual risk)', gap: '**GAP**' };

function mitigationCell(t: ThreatEntry): string {
  if (t.mitigation === undefined) return `*none in this repository*${t.residual ? `. **Fix:** ${t.residual}` : ''}`;
  const files = t.mitigation.files.map((f) => (t.missingFiles.includes(f) ? `~~\`${f}\`~~ (missing)` : `\`${f}\``)).join(', ');
  return `${t.mitigation.summary} (${files})${t.residual ? ` **Residual:** ${t.residual}` : ''}`;
}

export function renderMarkdown(m: ThreatModel): string {
  const L: string[] = [];
  const title = m.topology === 'edge' ? 'edge topology (ISA-95 zoned, existing on-prem Kubernetes)' : 'cloud topology (AWS hyperscale: EKS, CloudHSM, KMS, S3 Object Lock)';
  L.push(`# Threat model: Glimmer, ${title}`, '');
  L.push(`<!-- Generated by \`glimmer threat-model --topology ${m.topology} --format md\`; do not edit by hand. Regenerate after changing the zone model, the rule files or a mitigation. -->`, '');
  L.push('| | |', '|---|---|');
  L.push(`| System | Glimmer ${m.tool.version}: agent runtime (Industrial, Cognitive, Data agents) and its infrastructure, ${m.deploymentModel} |`);
  L.push('| Method | STRIDE per component and per conduit; zones and conduits after IEC 62443-3-2; ISO 13849-1 performance levels and rule-file interlock verification for zones at SL >= 3 |');
  L.push(`| Trust domain | \`spiffe://${m.trustDomain}\` |`);
  L.push(`| Inputs | ${m.inputs.map((i) => `\`${i.file}\` (sha256 \`${i.sha256.slice(0, 12)}\`)`).join(', ')} |`);
  L.push(`| Result | ${m.summary.threats} threats: ${m.summary.mitigated} mitigated, ${m.summary.partial} partially mitigated, ${m.summary.gaps} gaps; ${m.summary.safetyFunctions} safety functions in zones at SL >= 3, ${m.summary.safetyFunctionGaps} with a gap |`, '');

  L.push('## 1. Scope and assumptions', '');
  L.push(`- In scope: the components below, the ${m.zones.length} zones and ${m.conduits.length} conduits of \`${m.inputs[0]?.file ?? 'config/glimmer.yml'}\`, and the safety functions of the plant catalogue.`);
  if (m.topology === 'edge') {
    L.push('- The site\'s Kubernetes cluster, its nodes and its CNI enforce NetworkPolicies; nodes are labelled per zone and hardened by the site.');
    L.push('- The PLCs, their safety logic and the hardwired safety chain are the plant\'s; Glimmer protects the paths to them and adds software interlocks, it does not replace the safety PLC.');
  } else {
    L.push('- The AWS account, its IAM administrators and CloudTrail are trusted; the CloudHSM cluster initialisation ceremony was performed as documented.');
    L.push('- The agents reach the plant through the same zone model; the PLCs and their safety logic are the plant\'s.');
  }
  L.push('- Out of scope: physical attacks on the plant, the browser and workstation of operators, denial of service from inside the site\'s own network core.');
  L.push('- Status: *mitigated* means the control exists in this repository (the files are listed and were present when this document was generated); *partial* names the residual risk that stays open; *GAP* means no control exists here.', '');

  L.push('## 2. System overview', '', '```mermaid', m.mermaid, '```', '');
  L.push('## 3. Zones and conduits', '');
  L.push('| Zone | ISA-95 level | IEC 62443 SL | Agents |', '|---|---|---|---|');
  for (const z of [...m.zones].sort((a, b) => b.isa95_level - a.isa95_level)) {
    L.push(`| ${z.name} | ${z.isa95_level} | ${z.security_level} | ${m.agents.filter((a) => a.zone === z.name).map((a) => `${a.name} (${a.kind}, requires SL ${a.requiredSafetyLevel})`).join(', ') || '-'} |`);
  }
  L.push('', '| Conduit | Protocols | Insecure OPC UA allowed |', '|---|---|---|');
  for (const c of m.conduits) L.push(`| ${c.from} -> ${c.to} | ${c.protocols.join(', ')} | ${c.allow_insecure_opcua ? '**yes**' : 'no'} |`);
  L.push('');

  L.push('## 4. Threats by component (STRIDE)', '');
  for (const c of m.components) {
    const ts = m.threats.filter((t) => t.scope === 'component' && t.subject === c.id);
    if (ts.length === 0) continue;
    L.push(`### ${c.name}`, '', c.description, '', '| ID | STRIDE | Threat | Mitigation (where) | Status |', '|---|---|---|---|---|');
    for (const t of ts) L.push(`| ${t.id} | ${STRIDE_NAMES[t.stride]} | ${cell(t.threat)} | ${cell(mitigationCell(t))} | ${STATUS_MARK[t.status]} |`);
    L.push('');
  }
  L.push('## 5. Threats on conduits, zone placement and the stacks\' plans', '');
  const findings = m.threats.filter((t) => t.scope === 'plan').length;
  L.push(m.plans.length === 0
    ? 'No plan or synthesized stack was reviewed for this model (`--plan FILE`).'
    : `\`glimmer plan-review\` of ${m.plans.map((p) => `\`${p}\``).join(', ')} (rules in docs/ci.md) found ${findings === 0 ? 'nothing' : `${findings} finding${findings === 1 ? '' : 's'}, listed below`}.`, '');
  L.push('| ID | Subject | STRIDE | Threat | Mitigation (where) | Status |', '|---|---|---|---|---|---|');
  for (const t of m.threats.filter((x) => x.scope !== 'component')) {
    L.push(`| ${t.id} | ${t.subject.replace(/^(conduit|zone|plan):/, '')} | ${STRIDE_NAMES[t.stride]} | ${cell(t.threat)} | ${cell(mitigationCell(t))} | ${STATUS_MARK[t.status]} |`);
  }
  L.push('');

  L.push(`## 6. Zones at SL >= ${SAFETY_ZONE_MIN_SL}: ISO 13849 and PLC safety interlocks`, '');
  L.push('Required performance level (PLr) from the ISO 13849-1 risk graph (S severity, F frequency/exposure, P possibility of avoidance); achieved PL from the declared category, MTTFd and DCavg with the simplified procedure (ISO 13849-1 Table 7). Interlocks and trips are verified against the rule files twice: the predicate and its code must be present, and the embedded rule engine must fire them on a hazardous plant state (with the shutdown where one is due) and stay quiet on the safe state.', '');
  for (const z of m.zoneChecks) {
    L.push(`### Zone ${z.zone} (ISA-95 L${z.isa95Level}, SL ${z.securityLevel})`, '');
    L.push(`- Agents: ${z.agents.join(', ') || 'none'}`, `- Conduits: ${z.conduitsIn.join('; ') || 'none'}`, '');
    if (z.safetyFunctions.length === 0) { L.push('No safety function of the catalogue is allocated to this zone.', ''); continue; }
    L.push('| ID | Safety function | S/F/P | PLr | SRP/CS (category, MTTFd, DCavg) | PL | Rule-file interlock | Status |', '|---|---|---|---|---|---|---|---|');
    for (const s of z.safetyFunctions) {
      const sfp = s.risk ? `${s.risk.S}/${s.risk.F}/${s.risk.P}` : '-';
      const srp = s.srpcs ? `${s.srpcs.performedBy} (cat. ${s.srpcs.category}, ${s.srpcs.mttfd}, ${s.srpcs.dcavg})` : '-';
      const rule = s.rule ? `\`${s.rule.predicate}\` ${s.rule.code}${s.rule.where ? ` (${s.rule.where})` : ''}: ${s.rule.status === 'verified' ? 'verified' : '**gap**'}` : 'hardwired only (none expected)';
      L.push(`| ${s.id} | ${cell(s.name)} | ${sfp} | ${s.plr ?? '-'} | ${cell(srp)} | ${s.plAchieved ?? '-'} | ${cell(rule)} | ${s.status === 'ok' ? 'ok' : '**GAP**'} |`);
    }
    L.push('');
    for (const s of z.safetyFunctions) L.push(`- **${s.id}** ${s.hazard} ${s.notes.join('. ')}.`);
    L.push('');
  }
  L.push('Rule files read:', '');
  for (const r of m.rules) L.push(`- \`${r.file}\`: ${r.predicates.length} predicates; codes ${r.codes.map((c) => `\`${c}\``).join(', ') || 'none'}`);
  L.push('');

  L.push('## 7. Gaps and residual risks', '');
  const open = m.threats.filter((t) => t.status !== 'mitigated');
  const sfGaps = m.zoneChecks.flatMap((z) => z.safetyFunctions).filter((s) => s.status === 'gap');
  if (open.length + sfGaps.length === 0) L.push('None.');
  let n = 1;
  for (const t of open.filter((x) => x.status === 'gap')) {
    const why = t.scope === 'plan' ? 'blocking plan-review finding in the stack' : t.mitigation === undefined ? 'no control in this repository' : `control files missing: ${t.missingFiles.join(', ')}`;
    L.push(`${n++}. **${t.id}** (gap): ${t.threat} Why open: ${why}.`);
  }
  for (const s of sfGaps) L.push(`${n++}. **${s.id}** (safety function gap): ${s.name}. ${s.notes.join('. ')}.`);
  for (const t of open.filter((x) => x.status === 'partial')) L.push(`${n++}. **${t.id}** (residual, accept or treat): ${t.residual ?? ''}`);
  L.push('');

  L.push('## 8. Review and sign-off', '');
  L.push('The reviewer confirms that the zone model matches the site, that the declared SRP/CS data come from the plant\'s validation report, and accepts or assigns each item of section 7.', '');
  L.push('| Role | Name | Decision | Date | Signature |', '|---|---|---|---|---|', '| Security reviewer (IEC 62443) | | | | |', '| Functional safety engineer (ISO 13849 / IEC 61508) | | | | |', '| Plant owner | | | | |', '');
  return `${L.join('\n')}\n`;
}

export function renderThreatJson(m: ThreatModel): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}
