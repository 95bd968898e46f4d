/**
 * Loads the Cedar policy set of `rules/policies/`: the schema (`schema.cedarschema`) and every `*.cedar` file, in
 * file-name order. Each policy must carry an `@id("...")` annotation, unique across files; that id is what decisions
 * cite as their reason. The whole set is validated against the schema (Cedar's strict validator); any parse error,
 * missing or duplicate id, validation error or validation warning (e.g. an impossible policy) refuses the set with GLM_ERR_POLICY_INVALID naming file, line and id.
 */
import { REPO_ROOT } from '../../config/load';
import { rulesDir } from '../../config/rules-dir';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { GlimmerError, quote } from '../../errors';
import { cedar, type DetailedError } from './cedar';

export interface PolicySource {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

export interface LoadedPolicySet {
  readonly dir: string;
  readonly schema: string;
  /** Policy text by id. */
  readonly policies: Readonly<Record<string, string>>;
  /** Where each policy came from. */
  readonly sources: ReadonlyMap<string, PolicySource>;
  /** SHA-256 over the schema and every policy (audited on load). */
  readonly digest: string;
}

export const SCHEMA_FILE = 'schema.cedarschema';
/** The policy directory of the repository (rules/policies). */
export const DEFAULT_POLICY_DIR = path.join(REPO_ROOT, 'rules', 'policies');

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

function describe(errors: readonly DetailedError[]): string {
  return errors.map((e) => e.message + (e.help ? ` (${e.help})` : '')).join('; ');
}

function invalid(message: string, details: Record<string, unknown> = {}): GlimmerError {
  return new GlimmerError('GLM_ERR_POLICY_INVALID', message, { details });
}

export interface LoadOptions {
  /**
   * A directory (in the state dir) holding one empty file per policy set that passed Cedar's strict validation, named
   * by the SHA-256 of the Cedar version, the schema and the parsed policies. A set found there is not validated again:
   * validation costs most of an Industrial or Cognitive Agent's start, and every agent re-validates the set its
   * supervisor validated already. The policies enforced are always the ones parsed from the files (which measured
   * boot checks); a planted marker can only skip the schema check of a set, never change what is enforced.
   * @default - validate on every load
   */
  readonly validatedDir?: string;
}

export async function loadPolicySet(dir: string = path.join(rulesDir(), 'policies'), options: LoadOptions = {}): Promise<LoadedPolicySet> {
  let names: string[];
  let schema: string;
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.cedar')).sort();
    schema = await readFile(path.join(dir, SCHEMA_FILE), 'utf8');
  } catch (err) {
    throw new GlimmerError('GLM_ERR_POLICY_INVALID', `policy directory ${quote(dir)} or its ${SCHEMA_FILE} cannot be read`, { cause: err });
  }
  const files = await Promise.all(names.map(async (name) => ({ name, text: await readFile(path.join(dir, name), 'utf8') })));
  return compilePolicySet(dir, schema, files, options);
}

/** Validates a schema and policy files given as text (what loadPolicySet does after reading the directory). */
export function compilePolicySet(dir: string, schema: string, files: readonly { name: string; text: string }[], options: LoadOptions = {}): LoadedPolicySet {
  const c = cedar();
  // validate() below parses the schema too; checkParseSchema runs only to locate a schema error (it costs about a
  // third of an agent's policy load, which every Industrial and Cognitive Agent start pays).
  const schemaError = (): GlimmerError | undefined => {
    const schemaCheck = c.checkParseSchema(schema);
    if (schemaCheck.type !== 'failure') return undefined;
    const at = schemaCheck.errors[0]?.sourceLocations?.[0];
    const where = at ? `${SCHEMA_FILE}:${lineOf(schema, at.start)}` : SCHEMA_FILE;
    return invalid(`${where}: the schema does not parse: ${describe(schemaCheck.errors)}`, { file: SCHEMA_FILE });
  };
  if (files.length === 0) throw invalid(`policy directory ${quote(dir)} holds no .cedar file: nothing would ever be allowed`);

  const policies: Record<string, string> = {};
  const sources = new Map<string, PolicySource>();
  for (const { name, text } of files) {
    const parts = c.policySetTextToParts(text);
    if (parts.type === 'failure') {
      const at = parts.errors[0]?.sourceLocations?.[0];
      throw invalid(`${name}:${at ? lineOf(text, at.start) : 1}: does not parse: ${describe(parts.errors)}`, { file: name });
    }
    if (parts.policy_templates.length > 0) throw invalid(`${name}: templates are not used in Glimmer policies`, { file: name });
    let searchFrom = 0;
    for (const policy of parts.policies) {
      // policySetTextToParts re-prints each policy; find its line through its first distinctive token in the file.
      // The re-print puts annotations first, one per line: read @id there, and ask Cedar's JSON form only otherwise.
      const printed = /^\s*@id\("([a-z0-9][a-z0-9-]{0,80})"\)\s*$/m.exec(policy.slice(0, policy.search(/\b(permit|forbid)\s*\(/) >>> 0));
      let id: string | undefined = printed?.[1];
      if (id === undefined) {
        const json = c.policyToJson(policy);
        id = json.type === 'success' ? json.json.annotations?.id : undefined;
      }
      const marker = id === undefined ? -1 : text.indexOf(`"${id}"`, searchFrom);
      const line = marker >= 0 ? lineOf(text, marker) : lineOf(text, searchFrom);
      if (marker >= 0) searchFrom = marker + 1;
      if (id === undefined || !/^[a-z0-9][a-z0-9-]{0,80}$/.test(id)) {
        throw invalid(`${name}:${line}: every policy needs an @id("lowercase-words") annotation, found ${quote(id ?? 'none')}`, { file: name, line });
      }
      const seen = sources.get(id);
      if (seen) throw invalid(`${name}:${line}: policy id ${quote(id)} is already used in ${seen.file}:${seen.line}`, { file: name, line, id });
      policies[id] = policy;
      sources.set(id, { file: name, line, text: policy });
    }
  }

  const hash = createHash('sha256').update(schema);
  for (const id of Object.keys(policies).sort()) hash.update(`\0${id}\0${policies[id] as string}`);
  const digest = hash.digest('hex');
  const marker = options.validatedDir === undefined ? undefined : path.join(options.validatedDir, `${createHash('sha256').update(`${c.getCedarVersion()}\0${digest}`).digest('hex')}`);
  if (marker !== undefined && existsSync(marker)) return { dir, schema, policies, sources, digest };

  const result = c.validate({ schema, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } });
  if (result.type === 'failure') throw schemaError() ?? invalid(`the policy set does not validate: ${describe(result.errors)}`);
  // Warnings refuse too: they flag policies that can never apply (a scope the schema rules out) or confusable text.
  const problems = [...result.validationErrors, ...result.validationWarnings];
  const first = problems[0];
  if (first !== undefined) {
    const src = sources.get(first.policyId);
    const at = first.error.sourceLocations?.[0];
    // Cedar reports offsets inside the re-printed policy; map them to a line relative to the policy's first line.
    const line = src ? src.line + (at ? lineOf(src.text, at.start) - 1 : 0) : 0;
    const where = src ? `${src.file}:${line}` : quote(dir);
    throw invalid(`${where}: policy ${quote(first.policyId)} does not validate against the schema: ${first.error.message}` +
      (first.error.help ? ` (${first.error.help})` : '') +
      (problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''), { file: src?.file, line, id: first.policyId });
  }

  if (marker !== undefined) {
    try {
      mkdirSync(path.dirname(marker), { recursive: true, mode: 0o700 });
      writeFileSync(marker, '', { mode: 0o600 });
    } catch { /* a read-only cache only costs the next load a validation */ }
  }
  return { dir, schema, policies, sources, digest };
}
