/**
 * Normalises the two inputs of `glimmer plan-review` into one list of resource views:
 * - a `terraform show -json PLANFILE` plan (https://developer.hashicorp.com/terraform/internals/json-format),
 *   `format_version` 1.x: `resource_changes` (actions, before/after, after_unknown), `planned_values` and the
 *   `configuration` section for references between resources;
 * - a synthesized `cdk.tf.json` (Terraform JSON configuration syntax as cdktf writes it).
 * Anything structurally wrong is a typed GLM_ERR_REVIEW_* error naming the JSON path; the rules only ever see views.
 */
import { GlimmerError, quote } from '../errors';
import { arr, get, isObj, parseUntrustedJson, readBounded, str, type Json, type JsonObject } from './json';

/** Stands in for a value Terraform will only know after apply (`after_unknown`). Counts as "set". */
export const UNKNOWN = '(known after apply)';

/** Plan JSON major versions this build reads (Terraform promises minor versions stay backward compatible). */
export const SUPPORTED_FORMAT_MAJOR = 1;

export type InputKind = 'terraform-plan' | 'cdktf-config';

export interface ResourceView {
  /** Full address, with module path and index: `module.edge.kubernetes_namespace_v1.zone["safety"]`. */
  readonly address: string;
  /** Module path plus `type.name`, without index: how the configuration refers to it. */
  readonly configAddress: string;
  readonly type: string;
  readonly name: string;
  /** Plan actions (`create`, `update`, `delete`, `no-op`, ...); `["create"]` for a synthesized configuration. */
  readonly actions: readonly string[];
  readonly actionReason?: string;
  /** Desired state: `after` with unknowns filled in, or the configuration body; `before` for a pure delete. */
  readonly values: JsonObject;
  /** Prior state in a plan (null when created, or for a configuration). */
  readonly before: JsonObject | null;
  /** configAddress of every resource this one references. */
  readonly refs: ReadonlySet<string>;
  /** JSON pointer of the resource in the input file (for SARIF regions). */
  readonly pointer: string;
  /** cdktf construct path, when the synthesized JSON carries one. */
  readonly constructPath?: string;
}

export interface ReviewInput {
  readonly kind: InputKind;
  readonly source: string;
  readonly formatVersion?: string;
  readonly terraformVersion?: string;
  readonly resources: readonly ResourceView[];
}

const TF_CONFIG_KEYS = ['resource', 'data', 'terraform', 'provider', 'variable', 'output', 'locals', 'module', '//'];
const NON_RESOURCE_REF = new Set(['var', 'local', 'module', 'data', 'each', 'count', 'path', 'self', 'terraform']);

function unrecognized(source: string, pointer: string, what: string): GlimmerError {
  return new GlimmerError('GLM_ERR_REVIEW_INPUT_UNRECOGNIZED', `${source}: at ${pointer === '' ? '/' : pointer}: ${what}`, { details: { pointer } });
}

function ptr(...parts: (string | number)[]): string {
  return parts.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** Fills `after` with UNKNOWN where `after_unknown` marks a value as computed. Depth is bounded by the parser. */
function withUnknowns(after: Json | undefined, unknown: Json | undefined): Json | undefined {
  if (unknown === true) return after === undefined || after === null ? UNKNOWN : after;
  if (Array.isArray(unknown)) {
    const base = Array.isArray(after) ? after : [];
    const n = Math.max(base.length, unknown.length);
    const out: Json[] = [];
    for (let i = 0; i < n; i++) out.push(withUnknowns(base[i], unknown[i]) ?? null);
    return out;
  }
  if (isObj(unknown)) {
    if (after !== undefined && after !== null && !isObj(after)) return after;
    const out = Object.create(null) as JsonObject;
    if (isObj(after)) for (const [k, v] of Object.entries(after)) out[k] = v;
    for (const [k, u] of Object.entries(unknown)) {
      const merged = withUnknowns(get(after, k), u);
      if (merged !== undefined) out[k] = merged;
    }
    return out;
  }
  return after;
}

function resourceRef(ref: string, modulePath: string): string | undefined {
  const parts = ref.split('.');
  const [type, name] = parts;
  if (type === undefined || name === undefined || NON_RESOURCE_REF.has(type)) return undefined;
  const bare = name.replace(/\[.*$/, '');
  return `${modulePath}${type}.${bare}`;
}

/** Collects the `references` of a configuration block's expressions, iteratively. */
function collectReferences(expressions: Json | undefined, modulePath: string, into: Set<string>): void {
  const stack: Json[] = expressions === undefined ? [] : [expressions];
  let budget = 100_000;
  while (stack.length > 0 && budget-- > 0) {
    const v = stack.pop() as Json;
    if (Array.isArray(v)) stack.push(...v);
    else if (isObj(v)) {
      for (const [k, child] of Object.entries(v)) {
        if (k === 'references') for (const r of arr(child)) {
          const a = typeof r === 'string' ? resourceRef(r, modulePath) : undefined;
          if (a !== undefined) into.add(a);
        } else stack.push(child);
      }
    }
  }
}

/** configAddress -> referenced configAddresses, from a plan's `configuration` section. */
function planReferences(configuration: Json | undefined): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const modules: [Json | undefined, string][] = [[get(configuration, 'root_module'), '']];
  let budget = 10_000;
  while (modules.length > 0 && budget-- > 0) {
    const [mod, prefix] = modules.pop() as [Json | undefined, string];
    for (const r of arr(get(mod, 'resources'))) {
      const addr = str(get(r, 'address'));
      if (addr === undefined) continue;
      const refs = new Set<string>();
      collectReferences(get(r, 'expressions'), prefix, refs);
      out.set(`${prefix}${addr}`, refs);
    }
    const calls = get(mod, 'module_calls');
    if (isObj(calls)) for (const [name, call] of Object.entries(calls)) modules.push([get(call, 'module'), `${prefix}module.${name}.`]);
  }
  return out;
}

function parseFormatVersion(source: string, v: Json | undefined): string {
  if (typeof v !== 'string') {
    throw new GlimmerError('GLM_ERR_REVIEW_FORMAT_VERSION', `${source}: format_version is ${v === undefined ? 'missing' : `not a string (${quote(v)})`}; expected a plan written by \`terraform show -json PLANFILE\``);
  }
  const m = /^(\d{1,4})\.(\d{1,4})$/.exec(v);
  if (!m) throw new GlimmerError('GLM_ERR_REVIEW_FORMAT_VERSION', `${source}: format_version ${quote(v)} is not MAJOR.MINOR`);
  if (Number(m[1]) !== SUPPORTED_FORMAT_MAJOR) {
    throw new GlimmerError('GLM_ERR_REVIEW_FORMAT_VERSION', `${source}: format_version ${quote(v)} is not supported; this build reads ${SUPPORTED_FORMAT_MAJOR}.x`, {
      details: { formatVersion: v },
    });
  }
  return v;
}

function expectString(source: string, v: Json | undefined, pointer: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 1024) throw unrecognized(source, pointer, `expected a non-empty string, received ${quote(v)}`);
  return v;
}

function objOrNull(source: string, v: Json | undefined, pointer: string): JsonObject | null {
  if (v === undefined || v === null) return null;
  if (!isObj(v)) throw unrecognized(source, pointer, `expected an object or null, received ${quote(v)}`);
  return v;
}

function fromPlan(doc: JsonObject, source: string): ReviewInput {
  const formatVersion = parseFormatVersion(source, get(doc, 'format_version'));
  const refsByConfig = planReferences(get(doc, 'configuration'));
  const resources: ResourceView[] = [];
  const seen = new Set<string>();
  const changes = get(doc, 'resource_changes');
  if (changes !== undefined && !Array.isArray(changes)) throw unrecognized(source, '/resource_changes', 'expected an array');
  arr(changes).forEach((rc, i) => {
    const p = ptr('resource_changes', i);
    if (!isObj(rc)) throw unrecognized(source, p, 'expected an object');
    const address = expectString(source, get(rc, 'address'), `${p}/address`);
    const type = expectString(source, get(rc, 'type'), `${p}/type`);
    const name = expectString(source, get(rc, 'name'), `${p}/name`);
    const change = get(rc, 'change');
    if (!isObj(change)) throw unrecognized(source, `${p}/change`, 'expected an object');
    const actionsJson = get(change, 'actions');
    if (!Array.isArray(actionsJson) || actionsJson.length === 0 || !actionsJson.every((a) => typeof a === 'string')) {
      throw unrecognized(source, `${p}/change/actions`, `expected a non-empty array of action names, received ${quote(actionsJson)}`);
    }
    const actions = actionsJson as string[];
    if (get(rc, 'mode') === 'data') return;
    const before = objOrNull(source, get(change, 'before'), `${p}/change/before`);
    const after = objOrNull(source, get(change, 'after'), `${p}/change/after`);
    const merged = withUnknowns(after ?? undefined, get(change, 'after_unknown'));
    const values = isObj(merged) ? merged : after ?? before ?? (Object.create(null) as JsonObject);
    const modulePath = str(get(rc, 'module_address'));
    const configAddress = `${modulePath ? `${modulePath}.` : ''}${type}.${name}`;
    seen.add(address);
    const reason = str(get(rc, 'action_reason'));
    resources.push({
      address, configAddress, type, name, actions, before, pointer: p,
      values: actions.length === 1 && actions[0] === 'delete' && before !== null ? before : values,
      refs: refsByConfig.get(configAddress) ?? new Set(),
      ...(reason === undefined ? {} : { actionReason: reason }),
    });
  });
  // Resources only in planned_values (older writers omit no-op changes).
  const modules: [Json | undefined, string][] = [[get(get(doc, 'planned_values'), 'root_module'), '/planned_values/root_module']];
  let budget = 10_000;
  while (modules.length > 0 && budget-- > 0) {
    const [mod, p] = modules.pop() as [Json | undefined, string];
    arr(get(mod, 'resources')).forEach((r, i) => {
      const address = str(get(r, 'address'));
      const type = str(get(r, 'type'));
      const name = str(get(r, 'name'));
      if (address === undefined || type === undefined || name === undefined || seen.has(address) || get(r, 'mode') === 'data') return;
      const values = get(r, 'values');
      const modulePath = address.includes('.') && address.startsWith('module.') ? address.slice(0, address.lastIndexOf(`${type}.`) - 1) : '';
      const configAddress = `${modulePath ? `${modulePath}.` : ''}${type}.${name}`;
      seen.add(address);
      resources.push({
        address, configAddress, type, name, actions: ['no-op'], before: null, pointer: `${p}${ptr('resources', i)}`,
        values: isObj(values) ? values : (Object.create(null) as JsonObject), refs: refsByConfig.get(configAddress) ?? new Set(),
      });
    });
    arr(get(mod, 'child_modules')).forEach((c, i) => modules.push([c, `${p}${ptr('child_modules', i)}`]));
  }
  const tv = str(get(doc, 'terraform_version'));
  return { kind: 'terraform-plan', source, formatVersion, resources, ...(tv === undefined ? {} : { terraformVersion: tv.slice(0, 64) }) };
}

const VAR_ONLY = /^\$\{var\.([A-Za-z_][\w-]*)\}$/;
const REF_IN_STRING = /\$\{([^}]{1,512})\}/g;
const REF_TOKEN = /(?:^|[^\w.])([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)/g;

/** Replaces `"${var.x}"` by the variable's default, so zone labels set from topology variables are visible. */
function substituteVars(v: Json, vars: Map<string, Json>): Json {
  if (typeof v === 'string') {
    const m = VAR_ONLY.exec(v);
    return m && vars.has(m[1] as string) ? (vars.get(m[1] as string) as Json) : v;
  }
  if (Array.isArray(v)) return v.map((x) => substituteVars(x, vars));
  if (isObj(v)) {
    const out = Object.create(null) as JsonObject;
    for (const [k, x] of Object.entries(v)) out[k] = substituteVars(x, vars);
    return out;
  }
  return v;
}

function cdkReferences(body: Json, into: Set<string>): void {
  const stack: Json[] = [body];
  let budget = 100_000;
  while (stack.length > 0 && budget-- > 0) {
    const v = stack.pop() as Json;
    if (typeof v === 'string') {
      for (const m of v.matchAll(REF_IN_STRING)) {
        for (const t of (m[1] as string).matchAll(REF_TOKEN)) {
          const a = resourceRef(`${t[1]}.${t[2]}`, '');
          if (a !== undefined) into.add(a);
        }
      }
    } else if (Array.isArray(v)) stack.push(...v);
    else if (isObj(v)) stack.push(...Object.values(v));
  }
}

function fromCdktf(doc: JsonObject, source: string): ReviewInput {
  const vars = new Map<string, Json>();
  const variables = get(doc, 'variable');
  if (isObj(variables)) for (const [k, v] of Object.entries(variables)) {
    const d = get(v, 'default');
    if (d !== undefined) vars.set(k, d);
  }
  const resources: ResourceView[] = [];
  const res = get(doc, 'resource');
  if (res !== undefined && !isObj(res)) throw unrecognized(source, '/resource', 'expected an object of resource types');
  for (const [type, byName] of Object.entries(isObj(res) ? res : {})) {
    if (!isObj(byName)) throw unrecognized(source, ptr('resource', type), 'expected an object of resource names');
    for (const [name, body] of Object.entries(byName)) {
      const p = ptr('resource', type, name);
      if (!isObj(body)) throw unrecognized(source, p, 'expected a resource body object');
      const refs = new Set<string>();
      cdkReferences(body, refs);
      const values = substituteVars(body, vars) as JsonObject;
      const cpath = str(get(get(get(body, '//'), 'metadata'), 'path'));
      resources.push({
        address: `${type}.${name}`, configAddress: `${type}.${name}`, type, name, actions: ['create'], before: null, values, refs, pointer: p,
        ...(cpath === undefined ? {} : { constructPath: cpath.slice(0, 512) }),
      });
    }
  }
  return { kind: 'cdktf-config', source, resources };
}

/** Recognises and normalises a parsed document. */
export function toReviewInput(doc: Json, source: string): ReviewInput {
  if (!isObj(doc)) throw unrecognized(source, '', `expected a JSON object, received ${Array.isArray(doc) ? 'an array' : quote(doc)}`);
  const isPlan = ['format_version', 'resource_changes', 'planned_values'].some((k) => Object.hasOwn(doc, k));
  if (isPlan) {
    if (Object.hasOwn(doc, 'values') && !Object.hasOwn(doc, 'resource_changes') && !Object.hasOwn(doc, 'planned_values')) {
      throw unrecognized(source, '', 'this is a state (`terraform show -json` without a plan file); save a plan with `terraform plan -out=tfplan` and run `terraform show -json tfplan`');
    }
    return fromPlan(doc, source);
  }
  if (TF_CONFIG_KEYS.some((k) => Object.hasOwn(doc, k))) return fromCdktf(doc, source);
  throw unrecognized(source, '', 'neither a `terraform show -json` plan (no format_version) nor a Terraform JSON configuration such as cdk.tf.json (no resource/terraform key)');
}

/** Reads, parses and normalises a plan or configuration file. */
export function loadReviewInput(file: string): ReviewInput {
  return toReviewInput(parseUntrustedJson(readBounded(file), quote(file)), quote(file));
}
