/**
 * The MCP server behind the runtime's identity, policy, interlocks and audit. Stateless streamable HTTP: each POST gets
 * a fresh SDK Server and transport (./transport.ts), so no session state exists to hijack. Every tool call runs the same pipeline: rate limit per client -> arguments against the tool's JSON Schema
 * (and a size bound) -> one Cedar decision for the client's token principal -> the tool -> an audit record with the
 * client identity, tool, SHA-256 of the arguments and outcome. Refusals are tool errors naming the code and reason.
 */
import crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import Ajv, { type ValidateFunction } from 'ajv';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import {
  CallToolRequestSchema, ErrorCode, ListResourcesRequestSchema, ListToolsRequestSchema, McpError, ReadResourceRequestSchema,
  type CallToolResult, type ReadResourceResult,
} from '@modelcontextprotocol/sdk/types.js';
import type { McpConfig } from '../../config/types';
import { GlimmerError, asGlimmerError, quote } from '../../errors';
import type { AuditRecordInput } from '../../model/messages';
import type { PlantSnapshot } from '../../model/plant';
import type { AuditLog } from '../../audit/log';
import type { CopilotPrincipal, PolicyDecision, PolicyAction, PolicyResource, RequestContext } from '../../trust/policy/pdp';
import { TOOLS, type ToolSpec } from './tools';
import { checkWrite, planWrite, type WriteChecks } from './write-check';
import { PendingWrites } from './approvals';
import { findResource, mcpResources, type McpResource } from './resources';
import { handleJsonPost, type JsonPostReply } from './transport';

/** How far back explain_decision looks for a decision record (newest first). */
const EXPLAIN_SCAN_ENTRIES = 20_000;

/** Largest serialised arguments object a tool accepts. */
export const MAX_ARGUMENT_BYTES = 4096;

export interface McpPdp {
  authorize(principal: CopilotPrincipal, action: PolicyAction, resource: PolicyResource, context: RequestContext): PolicyDecision;
  decide(principal: CopilotPrincipal, action: PolicyAction, resource: PolicyResource, context: RequestContext): PolicyDecision;
}

export interface McpServiceOptions {
  readonly config: McpConfig;
  readonly pdp: McpPdp;
  /** Durable append (awaited for write tools). */
  readonly append: (record: AuditRecordInput) => Promise<unknown>;
  readonly image: () => PlantSnapshot | undefined;
  readonly writes: Omit<WriteChecks, 'zone'>;
  /** Active alerts and recent gateway decisions (the console's view). */
  readonly alarms: (limit: number) => { alerts: readonly unknown[]; decisions: readonly unknown[] };
  readonly auditLog: Pick<AuditLog, 'algorithm' | 'size' | 'entries' | 'checkpoint' | 'latestCheckpoint' | 'inclusionProof' | 'root' | 'leafHash'>;
  /** Executes an approved write through the gateway listener of the write zone (rejects with the refusal). */
  readonly execute: (request: import('../../industrial/write-decision').WriteRequest) => Promise<void>;
  readonly version?: string;
  readonly now?: () => number;
  /** @default the plant map and the runbooks of docs/response/ */
  readonly resources?: readonly McpResource[];
}

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_BUCKETS = 10_000;

export class McpService {
  readonly pending: PendingWrites;
  readonly #o: McpServiceOptions;
  readonly #validators = new Map<string, ValidateFunction>();
  /** Handed to every per-request Server: without it each one builds (and compiles the meta-schema into) its own Ajv. */
  readonly #jsonSchemaValidator: AjvJsonSchemaValidator;
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;
  readonly #resources: readonly McpResource[];

  constructor(options: McpServiceOptions) {
    this.#o = options;
    this.#resources = options.resources ?? mcpResources();
    this.#now = options.now ?? Date.now;
    const ajv = new Ajv({ strict: true, allErrors: false, allowUnionTypes: true });
    for (const t of TOOLS) this.#validators.set(t.name, ajv.compile(t.inputSchema));
    this.#jsonSchemaValidator = new AjvJsonSchemaValidator(ajv);
    this.pending = new PendingWrites({ max: options.config.maxPendingWrites, now: this.#now });
  }

  /**
   * Serves one authenticated streamable-HTTP POST (body already parsed, bounded by the API server); `onGone` registers
   * what to do when the client leaves before the answer.
   */
  handle(headers: IncomingHttpHeaders, body: unknown, principal: CopilotPrincipal, onGone?: (listener: () => void) => void): Promise<JsonPostReply> {
    return handleJsonPost(headers, body, async (transport) => {
      const server = this.#server(principal);
      await server.connect(transport);
      return server;
    }, onGone);
  }

  /** A fresh SDK Server for one POST, its handlers bound to the caller's validated principal. */
  #server(principal: CopilotPrincipal): Server {
    const server = new Server({ name: 'glimmer', version: this.#o.version ?? '0.1.0' }, { capabilities: { tools: {}, resources: {} }, jsonSchemaValidator: this.#jsonSchemaValidator });
    server.setRequestHandler(ListResourcesRequestSchema, () => ({
      resources: this.#resources.map((r) => ({ uri: r.uri, name: r.name, description: r.description, mimeType: r.mimeType })),
    }));
    server.setRequestHandler(ReadResourceRequestSchema, (request) => this.readResource(principal, request.params.uri));
    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: TOOLS.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema, annotations: t.annotations })),
    }));
    server.setRequestHandler(CallToolRequestSchema, (request) => this.call(principal, request.params.name, request.params.arguments));
    return server;
  }

  /** One tool call through the whole pipeline; never throws (refusals are tool errors). */
  async call(principal: CopilotPrincipal, name: string, args: unknown): Promise<CallToolResult> {
    const argsJson = JSON.stringify(args ?? {}) ?? '{}';
    const digest = crypto.hash('sha256', argsJson, 'hex');
    const tool = TOOLS.find((t) => t.name === name);
    const base = { type: 'mcp.call', client: principal.client, principal: principal.id, tool: tool ? name : quote(name, 64), args_sha256: digest };
    const write = tool?.action === 'requestWrite';
    try {
      if (!this.#take(principal.id)) throw new GlimmerError('GLM_ERR_MCP_RATE_LIMITED', `client ${quote(principal.client)} exceeded ${this.#o.config.maxCallsPerMinute} tool calls per minute`);
      if (!tool) throw new GlimmerError('GLM_ERR_MCP_ARGUMENTS_INVALID', `unknown tool ${quote(name)}; tools: ${TOOLS.map((t) => t.name).join(', ')}`);
      if (Buffer.byteLength(argsJson) > MAX_ARGUMENT_BYTES) throw new GlimmerError('GLM_ERR_MCP_ARGUMENTS_INVALID', `arguments of ${name} exceed ${MAX_ARGUMENT_BYTES} bytes`);
      const validate = this.#validators.get(tool.name) as ValidateFunction;
      const a = (args ?? {}) as Record<string, unknown>;
      if (!validate(a)) {
        const e = validate.errors?.[0];
        throw new GlimmerError('GLM_ERR_MCP_ARGUMENTS_INVALID', `at ${e?.instancePath || '/'}: ${e?.message ?? 'invalid'}${e?.instancePath ? `, received ${quote(valueAt(a, e.instancePath))}` : ''}`);
      }
      const result = await this.#run(tool, principal, a);
      const record = { ...base, outcome: result.outcome, ...(result.detail ?? {}) };
      if (write) {
        try {
          await this.#o.append(record);
        } catch (err) {
          // No queued request without its durable record: an operator must never approve what the log does not hold.
          const id = result.detail?.request_id;
          if (typeof id === 'string') this.pending.take(id);
          throw err;
        }
      } else this.#o.append(record).catch(() => undefined);
      return { content: [{ type: 'text', text: JSON.stringify(result.body) }], structuredContent: result.body as Record<string, unknown> };
    } catch (err) {
      const e = asGlimmerError(err);
      const outcome = e.code === 'GLM_ERR_MCP_RATE_LIMITED' ? 'rate_limited' : e.code === 'GLM_ERR_MCP_ARGUMENTS_INVALID' ? 'invalid'
        : e.code === 'GLM_ERR_MCP_TOOL_DENIED' ? 'denied' : e.code === 'GLM_ERR_MCP_WRITE_REFUSED' ? 'refused' : 'error';
      const record = { ...base, outcome, code: e.code, reason: e.message.slice(0, 300) };
      // A refused write's record is durable before the client hears of it; other refusals are not worth a wait.
      if (write) await this.#o.append(record).catch(() => undefined);
      else this.#o.append(record).catch(() => undefined);
      const message = e.code === 'GLM_ERR_INTERNAL' ? 'internal error' : e.message;
      return { isError: true, content: [{ type: 'text', text: `${e.code}: ${message}` }], structuredContent: { error: { code: e.code, message } } };
    }
  }

  /**
   * resources/read through the same pipeline as a tool call (rate limit, the URI against the list, one Cedar decision
   * `readResource`, an `mcp.call` record); a refusal is a JSON-RPC error whose message starts with the GLM_ERR code.
   */
  async readResource(principal: CopilotPrincipal, uri: unknown): Promise<ReadResourceResult> {
    const base = { type: 'mcp.call', client: principal.client, principal: principal.id, tool: 'resources/read', args_sha256: crypto.hash('sha256', JSON.stringify(uri ?? null), 'hex') };
    try {
      if (!this.#take(principal.id)) throw new GlimmerError('GLM_ERR_MCP_RATE_LIMITED', `client ${quote(principal.client)} exceeded ${this.#o.config.maxCallsPerMinute} calls per minute`);
      const resource = findResource(this.#resources, uri);
      const decision = this.#o.pdp.authorize(principal, 'readResource', { type: 'Tool', id: resource.uri, kind: 'resource' }, { protocol: 'mcp', tool: 'resources/read' });
      if (!decision.allow) throw new GlimmerError('GLM_ERR_MCP_TOOL_DENIED', `reading ${resource.uri} denied by policy: ${decision.reasons.join(', ')}`);
      const text = resource.read();
      this.#o.append({ ...base, outcome: 'ok', uri: resource.uri }).catch(() => undefined);
      return { contents: [{ uri: resource.uri, mimeType: resource.mimeType, text }] };
    } catch (err) {
      const e = asGlimmerError(err);
      this.#o.append({ ...base, outcome: 'refused', code: e.code, reason: e.message.slice(0, 300) }).catch(() => undefined);
      throw new McpError(e.code === 'GLM_ERR_MCP_ARGUMENTS_INVALID' ? ErrorCode.InvalidParams : ErrorCode.InvalidRequest, `${e.code}: ${e.code === 'GLM_ERR_INTERNAL' ? 'internal error' : e.message}`);
    }
  }

  async #run(tool: ToolSpec, principal: CopilotPrincipal, a: Record<string, unknown>): Promise<{ outcome: string; body: unknown; detail?: Record<string, unknown> }> {
    const ctx: RequestContext = { protocol: 'mcp', tool: tool.name };
    const zone = this.#o.config.writeZone;
    const planned = tool.target === 'register' ? planWrite(a.signal as string, a.value as number | boolean, zone) : undefined;
    const resource: PolicyResource = planned ? planned.resource : { type: 'Tool', id: tool.name, kind: tool.action };
    const decision = this.#o.pdp.authorize(principal, tool.action, resource, ctx);
    if (!decision.allow) throw new GlimmerError('GLM_ERR_MCP_TOOL_DENIED', `${tool.name} denied by policy: ${decision.reasons.join(', ')}`);
    switch (tool.name) {
      case 'read_plant': {
        const image = this.#o.image();
        if (image === undefined) throw new GlimmerError('GLM_ERR_MCP_WRITE_REFUSED', 'no fresh process image');
        const wanted = a.assets as string[] | undefined;
        const assets = Object.fromEntries(Object.entries(image.assets).filter(([id]) => wanted === undefined || wanted.includes(id)));
        return { outcome: 'ok', body: { time_ms: image.time_ms, assets } };
      }
      case 'read_alarms':
        return { outcome: 'ok', body: this.#o.alarms((a.limit as number | undefined) ?? 20) };
      case 'query_audit':
        return { outcome: 'ok', body: await this.#auditEntry(a.index as number | undefined) };
      case 'explain_decision':
        return { outcome: 'ok', body: await this.#auditEntry(this.#findDecision(a.decision_id as string | undefined)) };
      case 'dry_run_write': {
        const p = planned as NonNullable<typeof planned>;
        const copilot = this.#o.pdp.decide(principal, 'requestWrite', p.resource, ctx);
        const { steps, decision: d } = checkWrite({ ...this.#o.writes, zone }, p, a.value as number | boolean);
        const outright = this.#o.pdp.decide(principal, 'writeWithoutApproval', p.resource, ctx).allow;
        return {
          outcome: 'ok',
          body: {
            signal: p.entry.id, value: a.value, raw: p.request.values[0], zone,
            copilot_policy: { pass: copilot.allow, reason: copilot.reasons.join(', ') },
            checks: steps,
            decision: { allow: d.allow, ...(d.reason ? { reason: d.reason } : {}), ...(d.by ? { by: d.by } : {}) },
            would_write: copilot.allow && d.allow,
            approval_required: !outright,
          },
        };
      }
      default: {
        // request_write: the policy allowed the request; the write decision must allow it now too.
        const p = planned as NonNullable<typeof planned>;
        const { decision: d } = checkWrite({ ...this.#o.writes, zone }, p, a.value as number | boolean);
        if (!d.allow) throw new GlimmerError('GLM_ERR_MCP_WRITE_REFUSED', `write of ${p.entry.id}=${quote(a.value)} refused by the write decision (${d.by ?? 'policy'}): ${d.reason ?? 'denied'}`);
        const outright = this.#o.pdp.decide(principal, 'writeWithoutApproval', p.resource, ctx).allow;
        if (outright) {
          await this.#execute(p.request, p.entry.id);
          return { outcome: 'executed', body: { status: 'executed', signal: p.entry.id, value: a.value }, detail: { signal: p.entry.id } };
        }
        const queued = this.pending.add({ client: principal.client, principal: principal.id, signal: p.entry.id, value: a.value as number | boolean, reason: a.reason as string, request: p.request });
        return { outcome: 'queued', body: { status: 'pending_approval', request_id: queued.id, signal: p.entry.id, value: a.value }, detail: { signal: p.entry.id, request_id: queued.id } };
      }
    }
  }

  /** An operator's verdict on a pending request: executed through the gateway (rechecked there), or rejected. */
  async decidePending(id: string, approve: boolean, by: string): Promise<{ status: 'executed' | 'rejected'; signal: string }> {
    const item = this.pending.take(id);
    if (!approve) {
      await this.#o.append({ type: 'mcp.write.rejected', request_id: id, signal: item.signal, client: item.client, by });
      return { status: 'rejected', signal: item.signal };
    }
    await this.#o.append({ type: 'mcp.write.approved', request_id: id, signal: item.signal, value: item.value, client: item.client, by });
    await this.#execute(item.request, item.signal);
    return { status: 'executed', signal: item.signal };
  }

  async #execute(request: import('../../industrial/write-decision').WriteRequest, signal: string): Promise<void> {
    try {
      await this.#o.execute(request);
    } catch (err) {
      // The plant may have moved since the request: the gateway's decision at execution time is the one that counts.
      const decision = this.#o.writes.decide(request);
      const why = decision.allow ? asGlimmerError(err).message : `${decision.by ?? 'policy'}: ${decision.reason ?? 'denied'}`;
      await this.#o.append({ type: 'mcp.write.refused', signal, reason: why.slice(0, 300) }).catch(() => undefined);
      throw new GlimmerError('GLM_ERR_MCP_WRITE_REFUSED', `the gateway refused the write of ${signal}: ${why}`, { cause: err });
    }
    await this.#o.append({ type: 'mcp.write.executed', signal, value: request.values[0] });
  }

  /** The audit index of a cognitive.decision record (the latest, or the one with this id), among the newest entries. */
  #findDecision(id: string | undefined): number {
    const log = this.#o.auditLog;
    const end = log.size();
    const start = Math.max(0, end - EXPLAIN_SCAN_ENTRIES);
    for (let hi = end - 1; hi >= start; hi -= 256) {
      const lo = Math.max(start, hi - 255);
      const batch = log.entries(lo, hi);
      for (let i = batch.length - 1; i >= 0; i--) {
        const e = batch[i] as (typeof batch)[number];
        const r = (JSON.parse(e.leaf.toString('utf8')) as { record?: { type?: unknown; decision_id?: unknown } }).record;
        if (r?.type === 'cognitive.decision' && (id === undefined || r.decision_id === id)) return e.index;
      }
    }
    throw new GlimmerError('GLM_ERR_MCP_ARGUMENTS_INVALID', id === undefined
      ? `no cognitive decision among the last ${EXPLAIN_SCAN_ENTRIES} audit entries`
      : `at /decision_id: received ${quote(id)}, no such cognitive decision among the last ${EXPLAIN_SCAN_ENTRIES} audit entries`);
  }

  async #auditEntry(index: number | undefined): Promise<unknown> {
    const log = this.#o.auditLog;
    const note = await log.checkpoint();
    const size = log.latestCheckpoint()?.size ?? log.size();
    if (size === 0) throw new GlimmerError('GLM_ERR_MCP_ARGUMENTS_INVALID', 'the audit log is empty');
    const i = index ?? size - 1;
    if (i >= size) throw new GlimmerError('GLM_ERR_MCP_ARGUMENTS_INVALID', `at /index: received ${i}, allowed: 0..${size - 1} (the checkpoint's size)`);
    const entry = log.entries(i, i)[0];
    if (entry === undefined) throw new GlimmerError('GLM_ERR_MCP_ARGUMENTS_INVALID', `at /index: no entry ${i}`);
    const decoded = JSON.parse(entry.leaf.toString('utf8')) as { record: unknown; ts: string };
    return {
      index: i, ts: decoded.ts, record: decoded.record, algorithm: log.algorithm,
      leaf_hash: log.leafHash(entry.leaf).toString('hex'),
      tree_size: size, root_hash: log.root(size).toString('hex'),
      inclusion_proof: log.inclusionProof(i, size).map((h) => h.toString('hex')),
      checkpoint: note,
    };
  }

  /** Token bucket per client: max_calls_per_minute, refilled continuously. */
  #take(client: string): boolean {
    const now = this.#now();
    const capacity = this.#o.config.maxCallsPerMinute;
    let b = this.#buckets.get(client);
    if (b === undefined) {
      if (this.#buckets.size >= MAX_BUCKETS) this.#buckets.delete(this.#buckets.keys().next().value as string);
      b = { tokens: capacity, at: now };
      this.#buckets.set(client, b);
    }
    b.tokens = Math.min(capacity, b.tokens + ((now - b.at) * capacity) / 60_000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

function valueAt(obj: Record<string, unknown>, pointer: string): unknown {
  let v: unknown = obj;
  for (const part of pointer.split('/').slice(1)) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}
