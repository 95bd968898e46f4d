/**
 * The control catalogues under rules/compliance/catalogue/: one YAML file per standard, data rather than prose, so
 * the matrix, the live checks and the OSCAL export are all generated from the same rows. Each row maps one
 * requirement to the product controls (files), the tests that prove them, the live checks a running system can
 * answer, and an honest status. The loader refuses a malformed catalogue with a typed error naming the row.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import YAML from 'yaml';
import { GlimmerError, quote } from '../errors';

/** `not-met`: in scope for software and not built; said plainly rather than hidden under partly-met. */
export const STATUSES = ['met', 'partly-met', 'not-met', 'out-of-scope'] as const;
export type Status = (typeof STATUSES)[number];

export const STANDARD_IDS = ['iec62443-3-3', 'nist-csf-2.0', 'iso27001-2022', 'eu-machinery-2023-1230', 'eu-cra-2024-2847'] as const;
export type StandardId = (typeof STANDARD_IDS)[number];

export interface Enhancement {
  readonly id: string;
  readonly title: string;
  /** Lowest security level that selects this enhancement. */
  readonly sl: number;
}

export interface Requirement {
  readonly id: string;
  readonly title: string;
  /** Lowest security level that selects the requirement (IEC 62443 only). */
  readonly sl?: number;
  readonly enhancements?: readonly Enhancement[];
  readonly status: Status;
  /** How the product meets it, in one or two sentences. */
  readonly how?: string;
  /** Repository files that implement the control. */
  readonly controls?: readonly string[];
  /** `test/file.test.ts: <text inside the test's title>`. */
  readonly tests?: readonly string[];
  /** Ids of live checks (runtime/compliance/checks.ts). */
  readonly live?: readonly string[];
  /** For partly-met and not-met: what is missing. */
  readonly missing?: string;
  /** For out-of-scope: why the asset owner's process (not software) answers it. */
  readonly reason?: string;
}

export interface Catalogue {
  readonly standard: StandardId;
  readonly title: string;
  readonly version: string;
  /** When the mapping was last reviewed (YYYY-MM-DD): the OSCAL last-modified of generated documents. */
  readonly updated: string;
  /** Where the requirement identifiers come from. */
  readonly source: string;
  readonly requirements: readonly Requirement[];
}

const text = { type: 'string', minLength: 1, maxLength: 2000 } as const;
const list = { type: 'array', items: text, uniqueItems: true } as const;
const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['standard', 'title', 'version', 'updated', 'source', 'requirements'],
  properties: {
    standard: { enum: [...STANDARD_IDS] },
    title: text,
    version: text,
    updated: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
    source: text,
    requirements: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'title', 'status'],
        properties: {
          id: text,
          title: text,
          sl: { type: 'integer', minimum: 1, maximum: 4 },
          enhancements: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['id', 'title', 'sl'],
              properties: { id: text, title: text, sl: { type: 'integer', minimum: 1, maximum: 4 } },
            },
          },
          status: { enum: [...STATUSES] },
          how: text,
          controls: list,
          tests: list,
          live: list,
          missing: text,
          reason: text,
        },
      },
    },
  },
} as const;

const validate = new Ajv({ strict: true, allErrors: false }).compile<Catalogue>(schema);

export function catalogueDir(root: string): string {
  return path.join(root, 'rules', 'compliance', 'catalogue');
}

/** Parses one catalogue document; `source` names it in errors. Row-level rules beyond the schema are checked here too. */
export function parseCatalogue(textIn: string, source: string): Catalogue {
  let doc: unknown;
  try {
    doc = YAML.parse(textIn);
  } catch (err) {
    throw new GlimmerError('GLM_ERR_COMPLIANCE_CATALOGUE_INVALID', `${source}: not YAML (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
  if (!validate(doc)) {
    const e = validate.errors?.[0];
    throw new GlimmerError('GLM_ERR_COMPLIANCE_CATALOGUE_INVALID', `${source}: at ${e?.instancePath || '/'}: ${e?.message ?? 'invalid'}`);
  }
  const seen = new Set<string>();
  for (const r of doc.requirements) {
    const where = `${source}: requirement ${quote(r.id)}`;
    if (seen.has(r.id)) throw new GlimmerError('GLM_ERR_COMPLIANCE_CATALOGUE_INVALID', `${where} appears twice`);
    seen.add(r.id);
    if (r.status === 'met' && !r.tests?.length) throw new GlimmerError('GLM_ERR_COMPLIANCE_CATALOGUE_INVALID', `${where} is marked met but names no test`);
    if ((r.status === 'met' || r.status === 'partly-met') && !r.controls?.length) throw new GlimmerError('GLM_ERR_COMPLIANCE_CATALOGUE_INVALID', `${where} is marked ${r.status} but names no control`);
    if ((r.status === 'partly-met' || r.status === 'not-met') && !r.missing) throw new GlimmerError('GLM_ERR_COMPLIANCE_CATALOGUE_INVALID', `${where} is ${r.status} but does not say what is missing`);
    if (r.status === 'out-of-scope' && !r.reason) throw new GlimmerError('GLM_ERR_COMPLIANCE_CATALOGUE_INVALID', `${where} is out of scope without a reason`);
  }
  return doc;
}

export function loadCatalogue(root: string, standard: StandardId): Catalogue {
  const file = path.join(catalogueDir(root), `${standard}.yml`);
  let content: string;
  try {
    content = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new GlimmerError('GLM_ERR_COMPLIANCE_CATALOGUE_INVALID', `catalogue ${quote(path.relative(root, file))} cannot be read`, { cause: err });
  }
  const catalogue = parseCatalogue(content, path.relative(root, file));
  if (catalogue.standard !== standard) {
    throw new GlimmerError('GLM_ERR_COMPLIANCE_CATALOGUE_INVALID', `${path.relative(root, file)}: declares standard ${quote(catalogue.standard)}, expected ${quote(standard)}`);
  }
  return catalogue;
}

export function isStandardId(value: string): value is StandardId {
  return (STANDARD_IDS as readonly string[]).includes(value);
}

/** The requirements a target level selects (IEC 62443: every SR whose lowest level is at or below it). */
export function selectedAt(catalogue: Catalogue, sl: number | undefined): Requirement[] {
  if (sl === undefined) return [...catalogue.requirements];
  return catalogue.requirements.filter((r) => (r.sl ?? 1) <= sl);
}

/** A test reference `test/x.test.ts: text` split into its file and the text its title must contain. */
export function parseTestRef(ref: string): { file: string; title: string } {
  const at = ref.indexOf(': ');
  if (at <= 0) throw new GlimmerError('GLM_ERR_COMPLIANCE_CATALOGUE_INVALID', `test reference ${quote(ref)} is not "<file>: <title text>"`);
  return { file: ref.slice(0, at), title: ref.slice(at + 2) };
}
