/**
 * An agent's A2A endpoint (A2A protocol v1.0 via @a2a-js/sdk: Agent Card at /.well-known/agent-card.json, JSON-RPC
 * tasks at /a2a/jsonrpc) served only over the SPIFFE mTLS server. Every HTTP request, the card included, is first
 * authorized by the PDP: action `call`, resource this agent, context {protocol: 'a2a', skill}. The skill is the
 * message's `metadata.skill` when the caller names one, else the JSON-RPC method (`agent-card` for a GET). Denials
 * answer 403 with GLM_ERR_POLICY_DENIED and are audited (by the PDP) like allows.
 *
 * The protocol layer is the SDK's own (DefaultRequestHandler for tasks, JsonRpcTransportHandler for JSON-RPC,
 * version negotiation, extensions, SSE), served from a plain node:http request listener instead of the SDK's express
 * router: the same wire behaviour (same JSON-RPC errors, card with ETag and Cache-Control, SSE framing) at a fraction
 * of the CPU per call. Tasks live in a bounded in-memory store (oldest evicted first), scoped per caller.
 *
 * The SDK loads lazily (about 0.3 s), when the first A2A server is created.
 */
import { createHash, randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentCard, Message, Part, SendMessageRequest, Task } from '@a2a-js/sdk';
import type { A2ARequestHandler, AgentExecutor, ExecutionEventBus, RequestContext, ServerCallContext } from '@a2a-js/sdk/server';
import { GlimmerError, quote } from '../../errors';
import { decisionIdOf, type AuditSink } from '../../model/messages';
import type { TrustAuditRecord } from '../audit';
import { createMtlsHttpServer, peerIdentity, type MtlsOptions, type MtlsServer } from '../mtls';
import type { PolicyDecisionPoint } from '../policy/pdp';
import type { RevocationList } from '../revocation';
import type { IdentitySource } from '../rotation';
import type { SvidIdentity } from '../svid';
import { signAgentCard } from './card';
import { BoundedTaskStore } from './tasks';

export const A2A_JSONRPC_PATH = '/a2a/jsonrpc';

/** One skill of the agent: what the card advertises and the code that answers it. */
export interface A2aSkill {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly handle: (call: A2aCall) => Promise<A2aReply>;
}

export interface A2aCall {
  /** The verified caller. */
  readonly caller: SvidIdentity;
  readonly skill: string;
  readonly text: string;
  /** Structured parts of the message (`data` parts), in order. */
  readonly data: readonly unknown[];
}

export interface A2aReply {
  readonly text?: string;
  readonly data?: unknown;
}

export interface A2aServerOptions {
  readonly identity: IdentitySource;
  readonly pdp: PolicyDecisionPoint;
  readonly audit: AuditSink<TrustAuditRecord>;
  readonly revocation?: RevocationList;
  readonly name: string;
  readonly description: string;
  readonly skills: readonly A2aSkill[];
  /** Post-quantum TLS mode and handshake callback of the link (MtlsOptions). */
  readonly pqMode?: MtlsOptions['pqMode'];
  readonly onHandshake?: MtlsOptions['onHandshake'];
  /** Finished tasks kept for GetTask/ListTasks (oldest evicted first). @default 10000 */
  readonly maxTasks?: number;
}

export interface A2aServer {
  readonly mtls: MtlsServer;
  /** https://host:port of the endpoint (after listen). */
  url: string;
  /**
   * `advertise`: the base URL other hosts reach this endpoint at (in a cluster, its Service), put in the Agent Card;
   * a card naming the listen address (0.0.0.0) would send callers to their own host. @default https://host:port
   */
  listen(port?: number, host?: string, advertise?: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

const users = new WeakMap<object, SvidIdentity>();

function textPart(value: string): Part {
  return { content: { $case: 'text', value }, metadata: undefined, filename: '', mediaType: 'text/plain' };
}

function dataPart(value: unknown): Part {
  return { content: { $case: 'data', value }, metadata: undefined, filename: '', mediaType: 'application/json' };
}

/** The skill a JSON-RPC body asks for (message metadata `skill`, else the method); bounded and never trusted further. */
function skillOf(body: unknown): string {
  if (typeof body !== 'object' || body === null) return 'unknown';
  const b = body as { method?: unknown; params?: { message?: { metadata?: { skill?: unknown } } } };
  const skill = b.params?.message?.metadata?.skill;
  const name = typeof skill === 'string' ? skill : typeof b.method === 'string' ? b.method : 'unknown';
  return name.slice(0, 64);
}

/** The decision id a safety message carries in its metadata (audited with the call's decision). */
function metadataDecisionId(body: unknown): { decision_id?: string } {
  if (typeof body !== 'object' || body === null) return {};
  return decisionIdOf((body as { params?: { message?: { metadata?: unknown } } }).params?.message?.metadata);
}

/** Largest JSON-RPC request body read (a bigger one is refused with 413 before it is parsed). */
export const A2A_MAX_BODY_BYTES = 256 * 1024;


const JSON_TYPE = 'application/json';

function send(res: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendError(res: http.ServerResponse, err: GlimmerError): void {
  send(res, err.status, JSON.stringify(err.toJSON()));
}

/** Reads the request body up to `limit` bytes: 'too-large' past it (the rest is not read), 'closed' if the peer left. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'closed'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks)));
    req.once('error', () => resolve('closed'));
    req.once('close', () => resolve('closed'));
  });
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return (Array.isArray(value) ? value[0] : value) || undefined;
}

type RunTask = (message: Message, taskId: string, contextId: string, user: unknown) => Promise<Task>;
/** Runs a one-shot SendMessage's skill and stores its finished task; returns the task and its stored JSON. */
type RunOneShot = (params: SendMessageRequest, context: ServerCallContext) => Promise<{ task: Task; json: string }>;
type RequestHandlerClass = new (card: AgentCard, store: BoundedTaskStore, executor: AgentExecutor, runOneShot: RunOneShot) => A2ARequestHandler;
let requestHandler: RequestHandlerClass | undefined;

/**
 * A one-shot SendMessage: a blocking message that starts a new task (no task id, no reference tasks, no push config,
 * no extensions). Its skill runs directly and its finished task is stored once. The SDK's path for it (request
 * context, event bus, result manager, about eight structuredClone calls) produces the same task
 * (test/trust/a2a-server.test.ts compares both); everything else goes to the SDK unchanged.
 */
function isOneShot(params: SendMessageRequest, context: ServerCallContext): boolean {
  const m = params.message;
  const config = params.configuration;
  return m !== undefined && m.messageId !== '' && !m.taskId && (m.referenceTaskIds?.length ?? 0) === 0
    && config?.returnImmediately !== true && config?.taskPushNotificationConfig === undefined && (context.requestedExtensions?.length ?? 0) === 0;
}

/** The SDK's request handler with the one-shot shortcut. One class for every server (defined when the SDK loads). */
function requestHandlerClass(): RequestHandlerClass {
  const sdkServer = require('@a2a-js/sdk/server') as typeof import('@a2a-js/sdk/server');
  requestHandler ??= class GlimmerRequestHandler extends sdkServer.DefaultRequestHandler {
    readonly #runOneShot: RunOneShot;

    constructor(card: AgentCard, store: BoundedTaskStore, executor: AgentExecutor, runOneShot: RunOneShot) {
      super(card, store, executor);
      this.#runOneShot = runOneShot;
    }

    override async sendMessage(params: SendMessageRequest, context: ServerCallContext): Promise<Message | Task> {
      if (!isOneShot(params, context)) return super.sendMessage(params, context);
      const { task } = await this.#runOneShot(params, context);
      const historyLength = params.configuration?.historyLength;
      if (historyLength !== undefined) task.history = historyLength <= 0 ? [] : task.history.slice(-historyLength);
      return task;
    }
  };
  return requestHandler;
}

/**
 * The SendMessage request of a JSON-RPC body that the SDK's transport would accept (JSON-RPC 2.0, an integer, string
 * or null id, object params without an empty key) and that asks for no tenant; undefined for anything else.
 */
function sendMessageParams(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as { jsonrpc?: unknown; method?: unknown; id?: unknown; params?: unknown };
  if (b.jsonrpc !== '2.0' || b.method !== 'SendMessage') return undefined;
  if ('id' in b && !(typeof b.id === 'string' || b.id === null || (typeof b.id === 'number' && Number.isInteger(b.id)))) return undefined;
  const params = b.params;
  if (typeof params !== 'object' || params === null || Array.isArray(params) || Object.keys(params).includes('')) return undefined;
  return (params as { tenant?: unknown }).tenant ? undefined : params as Record<string, unknown>;
}

/** The parsed SendMessage request; undefined when the SDK's codec refuses the params (the transport answers those). */
function oneShotRequest(sdk: typeof import('@a2a-js/sdk'), params: Record<string, unknown> | undefined): SendMessageRequest | undefined {
  if (params === undefined) return undefined;
  try {
    return sdk.SendMessageRequest.fromJSON(params);
  } catch {
    return undefined;
  }
}

type Sdk = typeof import('@a2a-js/sdk');
type SdkServer = typeof import('@a2a-js/sdk/server');
type SdkErrors = typeof import('@a2a-js/sdk/errors');

/**
 * The Agent Card and its served form: ProtoJSON signed with the agent's SVID key (./card.ts), signed again when the
 * URL is set and whenever the SVID rotates; a weak ETag and an hour's caching, as the SDK's agentCardHandler sends.
 */
class ServedCard {
  readonly card: AgentCard;
  #body = '';
  #etag = '';
  #generation = 0;
  readonly #sdk: Sdk;
  readonly #identity: IdentitySource;

  constructor(options: A2aServerOptions, sdk: Sdk) {
    this.#sdk = sdk;
    this.#identity = options.identity;
    this.card = {
      name: options.name,
      description: options.description,
      supportedInterfaces: [{ url: A2A_JSONRPC_PATH, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: sdk.A2A_PROTOCOL_VERSION }],
      provider: { organization: 'Glimmer', url: 'https://glimmer.local' },
      version: '1.0.0',
      capabilities: { streaming: false, pushNotifications: false, extensions: [], extendedAgentCard: false },
      securitySchemes: { mtls: { scheme: { $case: 'mtlsSecurityScheme', value: { description: `X.509-SVID of trust domain ${options.identity.trustDomain}; policy-checked per call` } } } },
      securityRequirements: [{ schemes: { mtls: { list: [] } } }],
      defaultInputModes: ['text/plain', 'application/json'],
      defaultOutputModes: ['text/plain', 'application/json'],
      skills: options.skills.map((s) => ({ id: s.id, name: s.name, description: s.description, tags: [], examples: [], inputModes: [], outputModes: [], securityRequirements: [] })),
      signatures: [],
    };
    // A failed re-signature keeps the previous card, signed by the previous SVID, until the next rotation.
    options.identity.onRotate(() => void this.#sign().catch(() => undefined));
  }

  /** The endpoint's base URL, known once listening; the card names it. */
  async setUrl(base: string): Promise<void> {
    (this.card.supportedInterfaces[0] as { url: string }).url = `${base}${A2A_JSONRPC_PATH}`;
    await this.#sign();
  }

  async #sign(): Promise<void> {
    const generation = ++this.#generation;
    const body = JSON.stringify(await signAgentCard(this.#sdk, this.card, this.#identity.current));
    // A slower signature of an older card or SVID must not replace a newer one.
    if (generation !== this.#generation) return;
    this.#body = body;
    this.#etag = `W/"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
  }

  /** GET or HEAD of the card: 304 when the caller's ETag matches. */
  answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.#body === '') {
      sendError(res, new GlimmerError('GLM_ERR_A2A_CARD_UNSIGNED', 'the Agent Card is not signed yet'));
      return;
    }
    const cache = { etag: this.#etag, 'cache-control': 'public, max-age=3600' };
    if (header(req, 'if-none-match')?.split(',').some((t) => t.trim() === this.#etag)) {
      res.writeHead(304, cache);
      res.end();
    } else send(res, 200, this.#body, cache);
  }
}

/** Runs the skill a message names and returns its finished task (completed, failed or rejected). */
function skillRunner(options: A2aServerOptions, sdk: Sdk): RunTask {
  const skills = new Map(options.skills.map((s) => [s.id, s]));
  return async (message, taskId, contextId, user) => {
    const caller = users.get(user as object);
    const skillId = typeof message.metadata?.skill === 'string' ? message.metadata.skill : options.skills[0]?.id ?? '';
    const skill = skills.get(skillId);
    const task: Task = { id: taskId, contextId, status: undefined, artifacts: [], history: [message], metadata: { skill: skillId } };
    const finish = (state: number, parts: Part[], why?: string): Task => {
      task.status = { state, message: why === undefined ? undefined : { messageId: randomUUID(), contextId, taskId, role: sdk.Role.ROLE_AGENT, parts: [textPart(why)], metadata: undefined, extensions: [], referenceTaskIds: [] }, timestamp: new Date().toISOString() };
      if (parts.length > 0) task.artifacts = [{ artifactId: randomUUID(), name: 'result', description: '', parts, metadata: undefined, extensions: [] }];
      return task;
    };
    if (caller === undefined || skill === undefined) {
      return finish(sdk.TaskState.TASK_STATE_REJECTED, [], skill === undefined ? `unknown skill ${JSON.stringify(skillId).slice(0, 70)}` : 'unauthenticated');
    }
    const text = message.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('');
    const data = message.parts.flatMap((p) => (p.content?.$case === 'data' ? [p.content.value as unknown] : []));
    try {
      const reply = await skill.handle({ caller, skill: skillId, text, data });
      const parts: Part[] = [];
      if (reply.text !== undefined) parts.push(textPart(reply.text));
      if (reply.data !== undefined) parts.push(dataPart(reply.data));
      return finish(sdk.TaskState.TASK_STATE_COMPLETED, parts);
    } catch (err) {
      return finish(sdk.TaskState.TASK_STATE_FAILED, [], err instanceof GlimmerError ? `${err.code}: ${err.message}` : 'the skill failed');
    }
  };
}

type JsonRpcEndpoint = (req: http.IncomingMessage, res: http.ServerResponse, caller: SvidIdentity, body: unknown) => Promise<void>;

/** One JSON-RPC request, as the SDK's express jsonRpcHandler answers it (tasks through the SDK's request handler). */
function jsonRpcEndpoint(deps: { sdk: Sdk; sdkServer: SdkServer; sdkErrors: SdkErrors; card: AgentCard; runTask: RunTask; maxTasks: number }): JsonRpcEndpoint {
  const { sdk, sdkServer, sdkErrors, card, runTask } = deps;
  const executor: AgentExecutor = {
    execute: async (ctx: RequestContext, bus: ExecutionEventBus) => {
      bus.publish(sdkServer.AgentEvent.task(await runTask(ctx.userMessage, ctx.taskId, ctx.contextId, ctx.context.user)));
      bus.finished();
    },
    cancelTask: async () => undefined,
  };
  const store = new BoundedTaskStore(deps.maxTasks);
  const runOneShot: RunOneShot = async (params, context) => {
    const m = params.message as Message;
    const contextId = m.contextId || randomUUID();
    const taskId = randomUUID();
    const task = await runTask({ ...m, contextId, taskId }, taskId, contextId, context.user);
    return { task, json: store.put(task, context) };
  };
  const handler = new (requestHandlerClass())(card, store, executor, runOneShot);
  const transport = new sdkServer.JsonRpcTransportHandler(handler);
  const rpcError = (id: unknown, err: unknown) => rpcErrorOf(sdkServer, id, err);

  return async (req, res, caller, body) => {
    const id = (body as { id?: unknown } | undefined)?.id;
    try {
      const user = { isAuthenticated: true, userName: caller.spiffeId };
      users.set(user, caller);
      const context = sdkServer.defaultServerCallContextBuilder({
        extensions: sdk.Extensions.parseServiceParameter(header(req, sdk.HTTP_EXTENSION_HEADER)),
        user,
        headers: req.headers,
        requestedVersion: header(req, sdk.A2A_VERSION_HEADER),
      });
      sdkServer.validateVersion(context.requestedVersion, card, 'JSONRPC');
      // A one-shot SendMessage answered in full is sent as the JSON the store just made: what the transport would
      // build ({jsonrpc, id, result: {task: Task.toJSON(task)}}) without serializing the task a second time.
      const oneShot = oneShotRequest(sdk, sendMessageParams(body));
      if (oneShot !== undefined && oneShot.configuration?.historyLength === undefined && isOneShot(oneShot, context)) {
        let answer: string;
        try {
          answer = `{"jsonrpc":"2.0","id":${JSON.stringify(id ?? null)},"result":{"task":${(await runOneShot(oneShot, context)).json}}}`;
        } catch (err) {
          answer = JSON.stringify(rpcError(id, err));
        }
        send(res, 200, answer);
        return;
      }
      const result = await transport.handle(body as Record<string, unknown>, context);
      const extensionHeaders: http.OutgoingHttpHeaders = context.activatedExtensions ? { [sdk.HTTP_EXTENSION_HEADER]: [...context.activatedExtensions] } : {};
      if (!(Symbol.asyncIterator in result)) {
        send(res, 200, JSON.stringify(result), extensionHeaders);
        return;
      }
      const stream = result[Symbol.asyncIterator]();
      let first: IteratorResult<unknown>;
      try {
        first = await stream.next();
      } catch (err) {
        send(res, 200, JSON.stringify(rpcError(id, err)));
        return;
      }
      res.writeHead(200, { ...sdk.SSE_HEADERS, ...extensionHeaders });
      try {
        for (let r = first; !r.done; r = await stream.next()) res.write(sdk.formatSSEEvent(r.value));
      } catch (err) {
        if (!res.writableEnded) res.write(sdk.formatSSEErrorEvent(rpcError(id, err)));
      } finally {
        if (!res.writableEnded) res.end();
      }
    } catch (err) {
      const answer = rpcError(id, err);
      if (!res.headersSent) send(res, answer.error.code === sdkErrors.A2A_ERROR_CODE.INTERNAL_ERROR ? 500 : 200, JSON.stringify(answer));
      else if (!res.writableEnded) res.end();
    }
  };
}

function rpcErrorOf(sdkServer: SdkServer, id: unknown, err: unknown) {
  return { jsonrpc: '2.0', id: id ?? null, error: sdkServer.JsonRpcTransportHandler.mapToJSONRPCError(err) };
}

/** A POST's JSON body: parsed only with a JSON content type, as express.json() does; 'closed' if the peer left. */
async function readRpcBody(req: http.IncomingMessage): Promise<{ body: unknown; malformed?: 'parse' | 'content-type' } | 'closed' | 'too-large'> {
  const raw = await readBody(req, A2A_MAX_BODY_BYTES);
  if (raw === 'closed' || raw === 'too-large') return raw;
  const type = header(req, 'content-type');
  if (type !== undefined && (type.split(';', 1)[0] as string).trim().toLowerCase() !== JSON_TYPE) return { body: undefined, malformed: 'content-type' };
  if (type === undefined || raw.length === 0) return { body: undefined };
  try {
    return { body: JSON.parse(raw.toString('utf8')) };
  } catch {
    return { body: undefined, malformed: 'parse' };
  }
}

export function createA2aServer(options: A2aServerOptions): A2aServer {
  const sdkServer = require('@a2a-js/sdk/server') as SdkServer;
  const sdk = require('@a2a-js/sdk') as Sdk;
  const sdkErrors = require('@a2a-js/sdk/errors') as SdkErrors;

  const self = options.identity.current.spiffeId;
  const resource = { type: 'Agent', id: self } as const;
  let url = '';
  const served = new ServedCard(options, sdk);
  const jsonRpc = jsonRpcEndpoint({ sdk, sdkServer, sdkErrors, card: served.card, runTask: skillRunner(options, sdk), maxTasks: options.maxTasks ?? 10_000 });

  const onRequest = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const caller = peerIdentity(req);
    if (caller === undefined) {
      sendError(res, new GlimmerError('GLM_ERR_API_UNAUTHENTICATED', 'no verified client certificate'));
      return;
    }
    const path = (req.url ?? '/').split('?', 1)[0] as string;
    const post = req.method === 'POST';
    let read: { body: unknown; malformed?: 'parse' | 'content-type' } = { body: undefined };
    if (post) {
      const r = await readRpcBody(req);
      if (r === 'closed') return;
      if (r === 'too-large') {
        res.shouldKeepAlive = false;
        sendError(res, new GlimmerError('GLM_ERR_API_BODY_TOO_LARGE', `the request body exceeds ${A2A_MAX_BODY_BYTES} bytes`));
        return;
      }
      read = r;
    }
    const { body, malformed } = read;
    const decision = options.pdp.authorize(caller.spiffeId, 'call', resource, { protocol: 'a2a', skill: req.method === 'GET' ? 'agent-card' : skillOf(body) }, metadataDecisionId(body));
    if (!decision.allow) {
      sendError(res, new GlimmerError('GLM_ERR_POLICY_DENIED', `call to ${self} denied: ${decision.reasons.join(', ')}`));
      return;
    }
    if (path === A2A_JSONRPC_PATH && post) {
      if (malformed === 'content-type') {
        send(res, 200, JSON.stringify(rpcErrorOf(sdkServer, null, new sdkErrors.ContentTypeNotSupportedError(`Unsupported Content-Type ${quote(header(req, 'content-type'))}; expected application/json.`))));
      } else if (malformed === 'parse') {
        send(res, 200, JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: sdkErrors.A2A_ERROR_CODE.PARSE_ERROR, message: 'Invalid JSON payload.' } }));
      } else {
        await jsonRpc(req, res, caller, body);
      }
    } else if (path === `/${sdk.AGENT_CARD_PATH}` && (req.method === 'GET' || req.method === 'HEAD')) {
      served.answer(req, res);
    } else if (path === A2A_JSONRPC_PATH || path === `/${sdk.AGENT_CARD_PATH}`) {
      sendError(res, new GlimmerError('GLM_ERR_API_METHOD_NOT_ALLOWED', `${quote(req.method)} is not allowed on ${path}`));
    } else {
      sendError(res, new GlimmerError('GLM_ERR_API_NOT_FOUND', `no A2A route ${quote(path)}`));
    }
  };

  const mtls = createMtlsHttpServer({ source: options.identity, revocation: options.revocation, audit: options.audit, pqMode: options.pqMode, onHandshake: options.onHandshake }, (req, res) => {
    onRequest(req, res).catch(() => {
      if (!res.headersSent) sendError(res, new GlimmerError('GLM_ERR_INTERNAL', 'the A2A request failed'));
      else res.destroy();
    });
  });
  return {
    mtls,
    get url() {
      return url;
    },
    listen: async (port = 0, host = '127.0.0.1', advertise?: string) => {
      const addr = await mtls.listen(port, host);
      url = advertise?.replace(/\/+$/, '') ?? `https://${host}:${addr.port}`;
      await served.setUrl(url);
      return addr;
    },
    close: () => mtls.close(),
  };
}
