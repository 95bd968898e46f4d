/**
 * The safety functions the threat model checks in zones at SL 3 and above (ISO 13849-1), and the rule-file interlocks
 * it verifies. The default catalogue describes the simulated plant (runtime/industrial/plant/map.ts); a site replaces
 * it with `glimmer threat-model --safety-functions FILE.yml` carrying its own risk assessment and the category, MTTFd
 * and DCavg of each SRP/CS from its validation report (e.g. SISTEMA).
 */
import fs from 'node:fs';
import Ajv from 'ajv';
import YAML from 'yaml';
import { GlimmerError, quote } from '../errors';
import type { Avoidance, Category, DcAvg, Frequency, Mttfd, Severity } from './iso13849';

export interface InterlockScenario {
  /** Ground facts of the rule files' vocabulary: `{ pred, args }`. */
  readonly facts: readonly { readonly pred: string; readonly args: readonly (string | number)[] }[];
}

export interface RuleExpectation {
  /** Predicate expected in the rule files, `name/arity`. */
  readonly predicate: string;
  /** Violation code the rule logs when it fires. */
  readonly code: string;
  /** Asset the code is logged for in the hazard scenario. */
  readonly asset: string;
  /** True when the rule must also command a shutdown of `asset`. @default false */
  readonly shutdown?: boolean;
  /** A hazardous state: the rule must fire. */
  readonly hazard: InterlockScenario;
  /** The same plant in a safe state: the rule must not fire. */
  readonly safe: InterlockScenario;
}

export interface SafetyFunction {
  readonly id: string;
  readonly name: string;
  /** Zone of the equipment the function protects (a zone of config/glimmer.yml). */
  readonly zone: string;
  readonly hazard: string;
  /** ISO 13849-1 Annex A risk parameters. Absent for supplementary functions that are not credited. */
  readonly risk?: { readonly S: Severity; readonly F: Frequency; readonly P: Avoidance };
  /** The SRP/CS performing it and its declared architecture. */
  readonly srpcs?: { readonly performedBy: string; readonly category: Category; readonly mttfd: Mttfd; readonly dcavg: DcAvg; readonly source: string };
  /** The interlock or trip the rule files must implement for it (the runtime's layer). */
  readonly rule?: RuleExpectation;
}

const f = (pred: string, ...args: (string | number)[]) => ({ pred, args });
const DECLARED = 'declared for the simulated plant; replace with the validated SRP/CS data of the site';

export const DEFAULT_SAFETY_FUNCTIONS: readonly SafetyFunction[] = [
  {
    id: 'SF-01', name: 'Emergency stop', zone: 'safety',
    hazard: 'Any hazardous motion or flow that an operator must stop at once (ISO 13850).',
    risk: { S: 'S2', F: 'F1', P: 'P2' },
    srpcs: { performedBy: 'safety PLC (unit 2), latched E-stop coil safety_1.emergency_stop, hardwired stop of P-1 and P-2', category: '3', mttfd: 'high', dcavg: 'medium', source: DECLARED },
  },
  {
    id: 'SF-02', name: 'Dry-run protection of P-2 (T-2 low-low trip)', zone: 'safety',
    hazard: 'P-2 runs dry: seal failure, overheating and release of process fluid near operators.',
    risk: { S: 'S2', F: 'F2', P: 'P1' },
    srpcs: { performedBy: 'safety PLC (unit 2), T-2 low-low trip set point safety_1.tank_2_level_low_low_m stops P-2', category: '3', mttfd: 'high', dcavg: 'medium', source: DECLARED },
    rule: {
      predicate: 'dry_run_protection/1', code: 'SIF-01-DRY-RUN', asset: 'p_2', shutdown: true,
      hazard: { facts: [f('pump_running', 'p_2'), f('pump_suction', 'p_2', 't_2'), f('tank_level', 't_2', 4), f('tank_low_limit', 't_2', 10)] },
      safe: { facts: [f('pump_running', 'p_2'), f('pump_suction', 'p_2', 't_2'), f('tank_level', 't_2', 55), f('tank_low_limit', 't_2', 10)] },
    },
  },
  {
    id: 'SF-03', name: 'Overflow protection of T-1 (high-high trip stops P-1)', zone: 'safety',
    hazard: 'T-1 overflows: spill of process fluid, slip and exposure hazard.',
    risk: { S: 'S2', F: 'F1', P: 'P1' },
    srpcs: { performedBy: 'safety PLC (unit 2), T-1 high-high trip set point safety_1.tank_1_level_high_high_m stops P-1', category: '3', mttfd: 'high', dcavg: 'low', source: DECLARED },
  },
  {
    id: 'SF-04', name: 'Overpressure protection of P-1', zone: 'control',
    hazard: 'P-1 discharge above its pressure limit: line or seal rupture with release under pressure.',
    risk: { S: 'S2', F: 'F1', P: 'P1' },
    srpcs: { performedBy: 'Cognitive Agent rule overpressure_protection/1 commanding a stop through the process PLC (no pressure trip in the safety PLC)', category: 'B', mttfd: 'medium', dcavg: 'none', source: 'the runtime\'s software path: standard (non-safety) PLC and a general-purpose computer' },
    rule: {
      predicate: 'overpressure_protection/1', code: 'SIF-02-OVERPRESSURE', asset: 'p_1', shutdown: true,
      hazard: { facts: [f('pump_running', 'p_1'), f('discharge_pressure', 'p_1', 910), f('pressure_limit', 'p_1', 800)] },
      safe: { facts: [f('pump_running', 'p_1'), f('discharge_pressure', 'p_1', 620), f('pressure_limit', 'p_1', 800)] },
    },
  },
  {
    id: 'IL-01', name: 'No pump start while its suction tank is low', zone: 'control',
    hazard: 'Starting P-1 on a low T-1 cavitates and damages the pump (equipment damage, minor injury at most).',
    risk: { S: 'S1', F: 'F2', P: 'P1' },
    srpcs: { performedBy: 'Cognitive Agent interlock refusing the start command at the policy/gateway layer, process PLC', category: 'B', mttfd: 'medium', dcavg: 'none', source: 'the runtime\'s software path' },
    rule: {
      predicate: 'interlock/2', code: 'IL-01-PUMP-START-LOW-TANK', asset: 'p_1',
      hazard: { facts: [f('command_requested', 'p_1', 'start'), f('pump_suction', 'p_1', 't_1'), f('tank_level', 't_1', 5), f('tank_low_limit', 't_1', 10)] },
      safe: { facts: [f('command_requested', 'p_1', 'start'), f('pump_suction', 'p_1', 't_1'), f('tank_level', 't_1', 60), f('tank_low_limit', 't_1', 10)] },
    },
  },
  {
    id: 'IL-02', name: 'No valve close against a running pump', zone: 'control',
    hazard: 'Closing V-1 on the discharge of a running P-1 dead-heads the pump: pressure surge and overheating.',
    risk: { S: 'S1', F: 'F2', P: 'P1' },
    srpcs: { performedBy: 'Cognitive Agent interlock refusing the close command, process PLC', category: 'B', mttfd: 'medium', dcavg: 'none', source: 'the runtime\'s software path' },
    rule: {
      predicate: 'interlock/2', code: 'IL-02-VALVE-CLOSE-RUNNING-PUMP', asset: 'v_1',
      hazard: { facts: [f('command_requested', 'v_1', 'close'), f('pump_discharge', 'p_1', 'v_1'), f('pump_running', 'p_1')] },
      safe: { facts: [f('command_requested', 'v_1', 'close'), f('pump_discharge', 'p_1', 'v_1')] },
    },
  },
];

const scenario = {
  type: 'object', additionalProperties: false, required: ['facts'],
  properties: {
    facts: {
      type: 'array', maxItems: 1000,
      items: {
        type: 'object', additionalProperties: false, required: ['pred', 'args'],
        properties: { pred: { type: 'string', pattern: '^[a-z][A-Za-z0-9_]{0,63}$' }, args: { type: 'array', maxItems: 16, items: { type: ['string', 'number'] } } },
      },
    },
  },
} as const;

export const safetyFunctionsSchema = {
  type: 'array', minItems: 1, maxItems: 500,
  items: {
    type: 'object', additionalProperties: false, required: ['id', 'name', 'zone', 'hazard'],
    properties: {
      id: { type: 'string', pattern: '^[A-Z0-9][A-Z0-9-]{0,31}$' },
      name: { type: 'string', minLength: 1, maxLength: 200 },
      zone: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,30}$' },
      hazard: { type: 'string', minLength: 1, maxLength: 1000 },
      risk: { type: 'object', additionalProperties: false, required: ['S', 'F', 'P'], properties: { S: { enum: ['S1', 'S2'] }, F: { enum: ['F1', 'F2'] }, P: { enum: ['P1', 'P2'] } } },
      srpcs: {
        type: 'object', additionalProperties: false, required: ['performedBy', 'category', 'mttfd', 'dcavg', 'source'],
        properties: {
          performedBy: { type: 'string', minLength: 1, maxLength: 500 }, category: { enum: ['B', '1', '2', '3', '4'] },
          mttfd: { enum: ['low', 'medium', 'high'] }, dcavg: { enum: ['none', 'low', 'medium', 'high'] }, source: { type: 'string', minLength: 1, maxLength: 500 },
        },
      },
      rule: {
        type: 'object', additionalProperties: false, required: ['predicate', 'code', 'asset', 'hazard', 'safe'],
        properties: {
          predicate: { type: 'string', pattern: '^[a-z][A-Za-z0-9_]*/[0-9]{1,2}$' }, code: { type: 'string', minLength: 1, maxLength: 64 },
          asset: { type: 'string', pattern: '^[a-z][A-Za-z0-9_]{0,63}$' }, shutdown: { type: 'boolean' }, hazard: scenario, safe: scenario,
        },
      },
    },
  },
} as const;

/** Loads a site's safety function catalogue (YAML or JSON), validated against the schema above. */
export function loadSafetyFunctions(file: string): SafetyFunction[] {
  let doc: unknown;
  try {
    doc = YAML.parse(fs.readFileSync(file, 'utf8'), { maxAliasCount: 100 });
  } catch (err) {
    throw new GlimmerError('GLM_ERR_THREAT_SAFETY_FUNCTIONS_INVALID', `${quote(file)}: cannot be read as YAML/JSON (${(err as NodeJS.ErrnoException).code ?? (err as Error).message.split('\n')[0]})`, { cause: err });
  }
  const validate = new Ajv({ strict: true, allowUnionTypes: true }).compile(safetyFunctionsSchema);
  if (!validate(doc)) {
    const e = validate.errors?.[0];
    throw new GlimmerError('GLM_ERR_THREAT_SAFETY_FUNCTIONS_INVALID', `${quote(file)}: at ${e?.instancePath || '/'}: ${e?.message ?? 'invalid'}`);
  }
  return doc as SafetyFunction[];
}
