/**
 * An agent's A2A endpoint (A2A protocol v1.0 via @a2a-js/sdk: Agent Card at /.well-known/agent-card.json, JSON-RPC
 * tasks at /a2a/jsonrpc) served only over the SPIFFE mTLS server. Every HTTP request, the card included, is first
 * authorized by the PDP: action `call`, resource this agent, context {protocol: 'a2a', skill}. The skill is the
 * message's `metadata.skill` when the caller names one, else the JSON-RPC method. Denials answer 403 with
 * GLM_ERR_POLICY_DENIED and are audited (by the PDP) like allows.
 *
 * The SDK and express load lazily (about 0.5 s), when the first A2A server is created.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Request, Response, NextFunction } from 'express';
import type { AgentCard, Message, Part, Task } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { GlimmerError } from '../../errors';
import type { AuditSink } from '../audit';
import { createMtlsHttpServer, peerIdentity, type MtlsServer } from '../mtls';
import type { PolicyDecisionPoint } from '../policy/pdp';
import type { RevocationList } from '../revocation';
import type { IdentitySource } from '../rotation';
import type { SvidIdentity } from '../svid';

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
  readonly audit: AuditSink;
  readonly revocation?: RevocationList;
  readonly name: string;
  readonly description: string;
  readonly skills: readonly A2aSkill[];
}

export interface A2aServer {
  readonly mtls: MtlsServer;
  /** https://host:port of the endpoint (after listen). */
  url: string;
  listen(port?: number, host?: string): Promise<AddressInfo>;
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

export function createA2aServer(options: A2aServerOptions): A2aServer {
  const express = require('express') as typeof import('express');
  const sdkServer = require('@a2a-js/sdk/server') as typeof import('@a2a-js/sdk/server');
  const sdkExpress = require('@a2a-js/sdk/server/express') as typeof import('@a2a-js/sdk/server/express');
  const sdk = require('@a2a-js/sdk') as typeof import('@a2a-js/sdk');

  const self = options.identity.current.spiffeId;
  const skills = new Map(options.skills.map((s) => [s.id, s]));
  let url = '';

  const card = (): AgentCard => ({
    name: options.name,
    description: options.description,
    supportedInterfaces: [{ url: `${url}${A2A_JSONRPC_PATH}`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: sdk.A2A_PROTOCOL_VERSION }],
    provider: { organization: 'Glimmer', url: 'https://glimmer.local' },
    version: '1.0.0',
    capabilities: { streaming: false, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: { mtls: { scheme: { $case: 'mtlsSecurityScheme', value: { description: `X.509-SVID of trust domain ${options.identity.trustDomain}; policy-checked per call` } } } },
    securityRequirements: [{ schemes: { mtls: { list: [] } } }],
    defaultInputModes: ['text/plain', 'application/json'],
    defaultOutputModes: ['text/plain', 'application/json'],
    skills: options.skills.map((s) => ({ id: s.id, name: s.name, description: s.description, tags: [], examples: [], inputModes: [], outputModes: [], securityRequirements: [] })),
    signatures: [],
  });

  const executor: AgentExecutor = {
    execute: async (ctx: RequestContext, bus: ExecutionEventBus) => {
      const message: Message = ctx.userMessage;
      const caller = users.get(ctx.context.user as object);
      const skillId = typeof message.metadata?.skill === 'string' ? message.metadata.skill : options.skills[0]?.id ?? '';
      const skill = skills.get(skillId);
      const task: Task = { id: ctx.taskId, contextId: ctx.contextId, status: undefined, artifacts: [], history: [message], metadata: { skill: skillId } };
      const finish = (state: number, parts: Part[], why?: string): void => {
        task.status = { state, message: why === undefined ? undefined : { messageId: randomUUID(), contextId: ctx.contextId, taskId: ctx.taskId, role: sdk.Role.ROLE_AGENT, parts: [textPart(why)], metadata: undefined, extensions: [], referenceTaskIds: [] }, timestamp: new Date().toISOString() };
        if (parts.length > 0) task.artifacts = [{ artifactId: randomUUID(), name: 'result', description: '', parts, metadata: undefined, extensions: [] }];
        bus.publish(sdkServer.AgentEvent.task(task));
        bus.finished();
      };
      if (caller === undefined || skill === undefined) {
        finish(sdk.TaskState.TASK_STATE_REJECTED, [], skill === undefined ? `unknown skill ${JSON.stringify(skillId).slice(0, 70)}` : 'unauthenticated');
        return;
      }
      const text = message.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('');
      const data = message.parts.flatMap((p) => (p.content?.$case === 'data' ? [p.content.value as unknown] : []));
      try {
        const reply = await skill.handle({ caller, skill: skillId, text, data });
        const parts: Part[] = [];
        if (reply.text !== undefined) parts.push(textPart(reply.text));
        if (reply.data !== undefined) parts.push(dataPart(reply.data));
        finish(sdk.TaskState.TASK_STATE_COMPLETED, parts);
      } catch (err) {
        finish(sdk.TaskState.TASK_STATE_FAILED, [], err instanceof GlimmerError ? `${err.code}: ${err.message}` : 'the skill failed');
      }
    },
    cancelTask: async () => undefined,
  };

  const handler = new sdkServer.DefaultRequestHandler(card(), new sdkServer.InMemoryTaskStore(), executor);
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '256kb' }));
  app.use((req: Request, res: Response, next: NextFunction) => {
    const caller = peerIdentity(req);
    if (caller === undefined) {
      res.status(401).json(new GlimmerError('GLM_ERR_API_UNAUTHENTICATED', 'no verified client certificate').toJSON());
      return;
    }
    const decision = options.pdp.authorize(caller.spiffeId, 'call', { type: 'Agent', id: self }, { protocol: 'a2a', skill: req.method === 'GET' ? 'agent-card' : skillOf(req.body) });
    if (!decision.allow) {
      res.status(403).json(new GlimmerError('GLM_ERR_POLICY_DENIED', `call to ${self} denied: ${decision.reasons.join(', ')}`).toJSON());
      return;
    }
    next();
  });
  app.use(`/${sdk.AGENT_CARD_PATH}`, sdkExpress.agentCardHandler({ agentCardProvider: async () => card() }));
  app.use(A2A_JSONRPC_PATH, sdkExpress.jsonRpcHandler({
    requestHandler: handler,
    userBuilder: async (req) => {
      const caller = peerIdentity(req);
      const user = { get isAuthenticated() { return caller !== undefined; }, get userName() { return caller?.spiffeId ?? ''; } };
      if (caller) users.set(user, caller);
      return user;
    },
  }));

  const mtls = createMtlsHttpServer({ source: options.identity, revocation: options.revocation, audit: options.audit }, app);
  return {
    mtls,
    get url() {
      return url;
    },
    listen: async (port = 0, host = '127.0.0.1') => {
      const addr = await mtls.listen(port, host);
      url = `https://${host}:${addr.port}`;
      return addr;
    },
    close: () => mtls.close(),
  };
}
