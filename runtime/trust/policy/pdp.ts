/**
 * The policy decision point: Cedar (@cedar-policy/cedar-wasm) over the validated policy set of rules/policies/ and
 * the facts of the PolicyModel. Default deny: a request is allowed only when a permit policy is satisfied and no
 * forbid policy is; unknown principals, unknown resources and evaluation errors (of any policy, even when a permit is
 * satisfied) are denied. Every decision carries its reasons (the ids of the deciding policies, or why it was denied
 * without one) and is audited.
 *
 * The policy set is preparsed once per version (`preparsePolicySet`) and each request goes through
 * `statefulIsAuthorized` (about 115 µs here, more under load); the per-frame path of the gateway uses the
 * FrameDecisionCache on top. `generation` increases on every policy or model change; caches key on it.
 *
 * Decision cache (agent calls and the audit config: what A2A and the API ask per request). Why it is exact: for a
 * resource of type Agent or AuditConfig the whole Cedar request (principal entity, resource entity, action, context)
 * is a function of the policy model, the principal's SPIFFE ID, the action, the resource id and the context fields,
 * and Cedar's evaluation is deterministic (no clock, no randomness). The key holds every one of those request fields;
 * the model and the policy set can only change through setModel/setPolicies/reload, each of which drops the whole
 * cache. So a cached answer is the answer Cedar would give now. The same holds for an MCP copilot calling a read tool:
 * its entity is a function of its token principal (id, issuer, client, scope set) and the Tool entity of the tool's
 * id and kind, all in the key. Registers and assets carry caller-supplied attributes (safety, writableFrom, zone) and
 * are never cached here (the gateway has its own exact frame cache). The cache is bounded (oldest entry evicted
 * first); cached decisions are frozen. A cached decision is audited like a fresh one.
 */
import { GlimmerError, quote } from '../../errors';
import type { AuditSink } from '../../model/messages';
import type { TrustAuditRecord } from '../audit';
import { cedar, type EntityJson } from './cedar';
import { loadPolicySet, type LoadedPolicySet } from './load';
import { PolicyModel, type PolicyModelInput } from './principals';

export const POLICY_ACTIONS = ['read', 'write', 'shutdown', 'configure', 'call', 'readPlant', 'readAlarms', 'readResource', 'readAudit', 'dryRunWrite', 'requestWrite', 'writeWithoutApproval', 'publish', 'acknowledge'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

export type PolicyResource =
  | {
      readonly type: 'Register';
      readonly unitId: number;
      readonly table: 'coil' | 'discrete' | 'input' | 'holding';
      readonly address: number;
      readonly quantity: number;
      /** Zone of the PLC holding the range. */
      readonly zone: string;
      /** Any signal in the range is a safety function. */
      readonly safety: boolean;
      /** Zones allowed to write every signal in the range. */
      readonly writableFrom: readonly string[];
      /** Every address in the range is in the plant map. */
      readonly mapped: boolean;
    }
  | { readonly type: 'Asset'; readonly id: string; readonly zone: string; readonly safety: boolean }
  /** Another agent, by SPIFFE ID. */
  | { readonly type: 'Agent'; readonly id: string }
  | { readonly type: 'AuditConfig' }
  /** An MCP tool that reads; kind: plant | alarms | audit. */
  | { readonly type: 'Tool'; readonly id: string; readonly kind: string }
  /**
   * A northbound topic a Data Agent would publish (a Sparkplug device's births and data). `zone`: the broker's zone;
   * `conduit`: a data conduit joins the publisher's zone to it (the caller reads it from the zone model).
   */
  | { readonly type: 'Topic'; readonly id: string; readonly namespace: string; readonly zone: string; readonly asset: string; readonly safety: boolean; readonly conduit: boolean };

/**
 * A principal the configuration does not list: an AI copilot known only by its validated OAuth access token. Its
 * attributes are the token's (issuer, client, scopes), set by the resource server after validation, never by the
 * request body.
 */
export interface CopilotPrincipal {
  readonly type: 'Copilot';
  /** `<issuer>#<subject>`: unique across the configured issuers. */
  readonly id: string;
  readonly issuer: string;
  readonly client: string;
  readonly scopes: readonly string[];
}

export interface RequestContext {
  /** Also the enforcement point label in metrics and audit. */
  readonly protocol: 'modbus' | 'opcua' | 'https' | 'a2a' | 'mcp' | 'mqtt';
  readonly functionCode?: number;
  readonly skill?: string;
  /** MCP tool name. */
  readonly tool?: string;
  /** The OPC UA client application's URI (OPC UA writes). */
  readonly applicationUri?: string;
}

export interface PolicyDecision {
  readonly allow: boolean;
  /** Ids of the policies that decided; on a deny without one: 'default-deny', 'unknown-principal', ... */
  readonly reasons: readonly string[];
  /** Policy evaluation errors (the request is denied when a needed policy errors). */
  readonly errors: readonly string[];
}

export interface PdpOptions {
  readonly model: PolicyModel | PolicyModelInput;
  /** Every decision goes here. */
  readonly audit: AuditSink<TrustAuditRecord>;
  /** @default rules/policies of the repository */
  readonly policyDir?: string;
  /** Called after each decision (e.g. to count it in metrics). */
  readonly onDecision?: (decision: PolicyDecision, action: PolicyAction, protocol: RequestContext['protocol']) => void;
  /** Entries of the decision cache for Agent, AuditConfig and (copilots') Tool resources; 0 turns it off. @default 4096 */
  readonly decisionCacheSize?: number;
  /** Where validated policy sets are remembered (loadPolicySet's validatedDir). @default - validate every load */
  readonly validatedDir?: string;
}

/** Counters of the decision cache (since the PDP was created; `size` is the current entry count). */
export interface DecisionCacheStats {
  readonly size: number;
  readonly hits: number;
  readonly misses: number;
}

export type ChangeListener = (generation: number) => void;

let instances = 0;

export class PolicyDecisionPoint {
  #policies: LoadedPolicySet;
  #model: PolicyModel;
  #generation = 0;
  #setId = '';
  readonly #instance = ++instances;
  readonly #audit: AuditSink<TrustAuditRecord>;
  readonly #onDecision: PdpOptions['onDecision'];
  readonly #listeners = new Set<ChangeListener>();
  readonly #cache = new Map<string, PolicyDecision>();
  readonly #cacheSize: number;
  #hits = 0;
  #misses = 0;

  private constructor(policies: LoadedPolicySet, model: PolicyModel, options: PdpOptions) {
    this.#policies = policies;
    this.#model = model;
    this.#audit = options.audit;
    this.#onDecision = options.onDecision;
    this.#cacheSize = Math.max(0, Math.floor(options.decisionCacheSize ?? 4096));
    this.#install(policies);
  }

  /** Loads and validates the policy set (GLM_ERR_POLICY_INVALID on any error) and builds the PDP. */
  static async create(options: PdpOptions): Promise<PolicyDecisionPoint> {
    const policies = await loadPolicySet(options.policyDir, { validatedDir: options.validatedDir });
    const model = options.model instanceof PolicyModel ? options.model : new PolicyModel(options.model);
    return new PolicyDecisionPoint(policies, model, options);
  }

  /** Increases on every policy or model change. */
  get generation(): number {
    return this.#generation;
  }

  get policies(): LoadedPolicySet {
    return this.#policies;
  }

  get model(): PolicyModel {
    return this.#model;
  }

  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Replaces the policy set. A set that does not validate never gets here (loadPolicySet throws). */
  setPolicies(policies: LoadedPolicySet): void {
    this.#install(policies);
    this.#policies = policies;
    this.#changed();
  }

  /** Re-reads the policy directory; on GLM_ERR_POLICY_INVALID the current set stays in force and the error is thrown. */
  async reload(dir: string = this.#policies.dir): Promise<void> {
    this.setPolicies(await loadPolicySet(dir));
  }

  /** Replaces the facts (zones, agents, operators): on a configuration, identity or zone change. */
  setModel(model: PolicyModel | PolicyModelInput): void {
    this.#model = model instanceof PolicyModel ? model : new PolicyModel(model);
    this.#changed();
  }

  /** Decides and audits; `correlation` (a safety chain's decision id) goes into the audit record as is. */
  authorize(principal: string | CopilotPrincipal, action: PolicyAction, resource: PolicyResource, context: RequestContext, correlation: { readonly decision_id?: string } = {}): PolicyDecision {
    const decision = this.decide(principal, action, resource, context);
    this.#audit({
      type: 'policy.decision', at: new Date().toISOString(), decision: decision.allow ? 'allow' : 'deny', subject: typeof principal === 'string' ? principal : `copilot:${principal.id}`,
      action, resource: resourceLabel(resource), reasons: decision.reasons, errors: decision.errors, enforcement: context.protocol,
      ...(correlation.decision_id !== undefined ? { decision_id: correlation.decision_id } : {}),
    });
    this.#onDecision?.(decision, action, context.protocol);
    return decision;
  }

  get decisionCache(): DecisionCacheStats {
    return { size: this.#cache.size, hits: this.#hits, misses: this.#misses };
  }

  /** Decides without auditing (the frame cache audits its own answers). Never throws: failures are denials. */
  decide(principal: string | CopilotPrincipal, action: PolicyAction, resource: PolicyResource, context: RequestContext): PolicyDecision {
    const key = this.#cacheKey(principal, action, resource, context);
    if (key === undefined) return this.#evaluate(principal, action, resource, context);
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#hits += 1;
      return cached;
    }
    this.#misses += 1;
    const decision = this.#evaluate(principal, action, resource, context);
    Object.freeze(decision.reasons);
    Object.freeze(decision.errors);
    Object.freeze(decision);
    if (this.#cache.size >= this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(key, decision);
    return decision;
  }

  /** Every field the Cedar request is built from, or undefined for requests that are not cached (see the header). */
  #cacheKey(principal: string | CopilotPrincipal, action: PolicyAction, resource: PolicyResource, context: RequestContext): string | undefined {
    if (this.#cacheSize === 0) return undefined;
    if (typeof principal === 'string') {
      if (resource.type !== 'Agent' && resource.type !== 'AuditConfig') return undefined;
      return JSON.stringify([principal, action, resourceLabel(resource), context.protocol, context.functionCode ?? null, context.skill ?? null, context.applicationUri ?? null]);
    }
    if (resource.type !== 'Tool') return undefined;
    return JSON.stringify([
      'copilot', principal.id, principal.issuer, principal.client, [...new Set(principal.scopes)].sort(), action, resource.id, resource.kind,
      context.protocol, context.functionCode ?? null, context.skill ?? null, context.tool ?? null, context.applicationUri ?? null,
    ]);
  }

  #evaluate(principal: string | CopilotPrincipal, action: PolicyAction, resource: PolicyResource, context: RequestContext): PolicyDecision {
    if (!(POLICY_ACTIONS as readonly string[]).includes(action)) return deny('invalid-action');
    const who = typeof principal === 'string' ? this.#model.principal(principal) : copilotEntity(principal);
    if (who === undefined) return deny('unknown-principal');
    const target = this.#resourceEntity(resource);
    if (typeof target === 'string') return deny(target);
    const ctx: Record<string, string | number> = { protocol: context.protocol };
    if (context.functionCode !== undefined) ctx.functionCode = context.functionCode;
    if (context.skill !== undefined) ctx.skill = context.skill;
    if (context.tool !== undefined) ctx.tool = context.tool;
    if (context.applicationUri !== undefined) ctx.applicationUri = context.applicationUri;
    const entities: EntityJson[] = target.entity ? [who.entity, target.entity] : [who.entity];
    let answer;
    try {
      answer = cedar().statefulIsAuthorized({
        principal: who.uid,
        action: { type: 'Glimmer::Action', id: action },
        resource: target.uid,
        context: ctx,
        entities,
        preparsedPolicySetId: this.#setId,
      });
    } catch (err) {
      return { allow: false, reasons: ['evaluation-failed'], errors: [String((err as Error).message ?? err).slice(0, 200)] };
    }
    if (answer.type === 'failure') {
      return { allow: false, reasons: ['evaluation-failed'], errors: answer.errors.map((e) => e.message.slice(0, 200)) };
    }
    const { decision, diagnostics } = answer.response;
    const errors = diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`.slice(0, 200));
    // Cedar skips a policy whose condition errors, so an erroring forbid would let a permit through: any error denies.
    if (errors.length > 0) return { allow: false, reasons: ['evaluation-failed'], errors };
    const reasons = diagnostics.reason.length > 0 ? [...diagnostics.reason].sort() : ['default-deny'];
    return { allow: decision === 'allow', reasons, errors };
  }

  #resourceEntity(resource: PolicyResource): { uid: { type: string; id: string }; entity?: EntityJson } | string {
    switch (resource.type) {
      case 'AuditConfig':
        return { uid: { type: 'Glimmer::AuditConfig', id: 'audit' } };
      case 'Agent': {
        const facts = this.#model.principal(resource.id);
        if (facts === undefined || facts.uid.type !== 'Glimmer::Agent') return 'unknown-resource';
        return { uid: facts.uid, entity: facts.entity };
      }
      case 'Tool': {
        const uid = { type: 'Glimmer::Tool', id: resource.id };
        return { uid, entity: { uid, attrs: { kind: resource.kind }, parents: [] } };
      }
      case 'Topic': {
        const uid = { type: 'Glimmer::Topic', id: resource.id };
        return { uid, entity: { uid, attrs: { namespace: resource.namespace, zone: resource.zone, asset: resource.asset, safety: resource.safety, conduit: resource.conduit }, parents: [] } };
      }
      case 'Asset': {
        const zone = this.#model.zone(resource.zone);
        if (zone === undefined) return 'unknown-zone';
        const uid = { type: 'Glimmer::Asset', id: resource.id };
        return { uid, entity: { uid, attrs: { zone: zone.name, securityLevel: zone.securityLevel, safety: resource.safety }, parents: [{ type: 'Glimmer::Zone', id: zone.name }] } };
      }
      case 'Register': {
        const zone = this.#model.zone(resource.zone);
        if (zone === undefined) return 'unknown-zone';
        const uid = { type: 'Glimmer::Register', id: `${resource.unitId}/${resource.table}/${resource.address}+${resource.quantity}` };
        return {
          uid,
          entity: {
            uid,
            attrs: {
              zone: zone.name, securityLevel: zone.securityLevel, unitId: resource.unitId, table: resource.table,
              address: resource.address, quantity: resource.quantity, safety: resource.safety, writableFrom: [...resource.writableFrom], mapped: resource.mapped,
            },
            parents: [{ type: 'Glimmer::Zone', id: zone.name }],
          },
        };
      }
      default:
        return 'invalid-resource';
    }
  }

  #install(policies: LoadedPolicySet): void {
    const id = `glimmer-${this.#instance}-${this.#generation + 1}`;
    const result = cedar().preparsePolicySet(id, { staticPolicies: { ...policies.policies } });
    if (result.type === 'failure') {
      throw new GlimmerError('GLM_ERR_POLICY_INVALID', `the policy set from ${quote(policies.dir)} cannot be prepared: ${result.errors.map((e) => e.message).join('; ')}`);
    }
    this.#setId = id;
    this.#audit({ type: 'policy.loaded', at: new Date().toISOString(), policy_ids: [...policies.sources.keys()].sort(), digest: policies.digest });
  }

  #changed(): void {
    this.#cache.clear();
    this.#generation += 1;
    for (const listener of this.#listeners) listener(this.#generation);
  }
}

function copilotEntity(p: CopilotPrincipal): { uid: { type: string; id: string }; entity: EntityJson } {
  const uid = { type: 'Glimmer::Copilot', id: p.id };
  return { uid, entity: { uid, attrs: { client: p.client, issuer: p.issuer, scopes: [...new Set(p.scopes)].sort() }, parents: [] } };
}

function deny(reason: string): PolicyDecision {
  return { allow: false, reasons: [reason], errors: [] };
}

export function resourceLabel(resource: PolicyResource): string {
  switch (resource.type) {
    case 'Register':
      return `Register::${resource.unitId}/${resource.table}/${resource.address}+${resource.quantity}`;
    case 'Asset':
      return `Asset::${resource.id}`;
    case 'Agent':
      return `Agent::${resource.id}`;
    case 'Tool':
      return `Tool::${resource.id}`;
    case 'Topic':
      return `Topic::${resource.id}`;
    default:
      return 'AuditConfig::audit';
  }
}
