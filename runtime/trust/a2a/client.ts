/**
 * Calling another agent over A2A, every byte through the SPIFFE mTLS client (the server's SVID is checked, and
 * optionally that it is the agent the caller meant). `connect` fetches the Agent Card, trusts it only when its A2A 1.0
 * signature verifies and its signer is the SVID the server presented on that connection (./card.ts), and picks the
 * transport with the SDK's ClientFactory. `call` sends the SendMessage the SDK's Client would send (same JSON-RPC body from the SDK's
 * own codecs, same headers; test/trust/a2a-client.test.ts compares the bytes) straight over the mTLS pool and reads
 * the answer with the SDK's codec: the Client's interceptor, service-parameter and fetch layers cost about a quarter
 * of a loopback call. A peer without a v1.0 JSON-RPC interface is called through the SDK's Client.
 * The SDK loads lazily on the first connect.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@a2a-js/sdk/client';
import type { AgentCard, Message, SendMessageRequest, Task } from '@a2a-js/sdk';
import { GlimmerError, quote } from '../../errors';
import { decisionIdOf, type AuditSink } from '../../model/messages';
import type { TrustAuditRecord } from '../audit';
import { createMtlsClient, type MtlsClient, type MtlsOptions } from '../mtls';
import type { RevocationList } from '../revocation';
import type { IdentitySource } from '../rotation';
import { fetchVerifiedCard } from './card';
import { MAX_BUFFERED_BYTES, mtlsFetch } from './fetch';

export interface A2aClientOptions {
  readonly identity: IdentitySource;
  readonly audit: AuditSink<TrustAuditRecord>;
  readonly revocation?: RevocationList;
  /** Post-quantum TLS mode and handshake callback of the link (MtlsOptions). */
  readonly pqMode?: MtlsOptions['pqMode'];
  readonly onHandshake?: MtlsOptions['onHandshake'];
}

export interface A2aResult {
  readonly taskId: string;
  /** completed | failed | rejected | ... (A2A TaskState without the prefix, lowercase). */
  readonly state: string;
  readonly text: string;
  readonly data: readonly unknown[];
  /** The status message of a failed or rejected task. */
  readonly error?: string;
}

export interface A2aPeer {
  /** The Agent Card the peer served. */
  readonly card: { readonly name: string; readonly skills: readonly { id: string; name: string }[] };
  call(skill: string, text: string, data?: unknown): Promise<A2aResult>;
}

export interface A2aClient {
  /** Fetches the Agent Card of `baseUrl` over mTLS and returns a peer to call; `expect` pins the server's identity. */
  connect(baseUrl: string, expect?: { zone?: string; agent?: string }): Promise<A2aPeer>;
  close(): void;
}

export function createA2aClient(options: A2aClientOptions): A2aClient {
  const transports: MtlsClient[] = [];
  return {
    connect: async (baseUrl, expect) => {
      const sdkClient = require('@a2a-js/sdk/client') as typeof import('@a2a-js/sdk/client');
      const sdk = require('@a2a-js/sdk') as typeof import('@a2a-js/sdk');
      const mtls = createMtlsClient({ source: options.identity, revocation: options.revocation, audit: options.audit, expectServer: expect, pqMode: options.pqMode, onHandshake: options.onHandshake });
      transports.push(mtls);
      const fetchImpl = mtlsFetch(mtls);
      const factory = new sdkClient.ClientFactory({ transports: [new sdkClient.JsonRpcTransportFactory({ fetchImpl })] });
      // The card is trusted only once its signature verifies and its signer is the SVID this connection presented.
      const { card } = await fetchVerifiedCard(sdk, mtls, baseUrl, { identity: options.identity, audit: options.audit, revokedSerials: options.revocation?.serials });
      let client: Client;
      try {
        client = await factory.createFromAgentCard(card);
      } catch (err) {
        throw unwrap(err);
      }
      const endpoint = jsonRpcEndpoint(card, sdk.A2A_PROTOCOL_VERSION);
      const send = endpoint === undefined
        ? async (request: SendMessageRequest) => client.sendMessage(request)
        : directSend(mtls, endpoint, sdk);
      return {
        card: { name: card.name, skills: card.skills.map((s) => ({ id: s.id, name: s.name })) },
        call: async (skill, text, data) => {
          const parts = [{ content: { $case: 'text' as const, value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' }];
          if (data !== undefined) parts.push({ content: { $case: 'data' as const, value: data } as never, metadata: undefined, filename: '', mediaType: 'application/json' });
          let result: Message | Task;
          try {
            // A safety message's decision id rides in the metadata, so the peer's PDP audits it with its decision.
            result = await send({
              tenant: '',
              message: { messageId: randomUUID(), contextId: '', taskId: '', role: sdk.Role.ROLE_USER, parts, metadata: { skill, ...decisionIdOf(data) }, extensions: [], referenceTaskIds: [] },
              // What the SDK's Client adds to every blocking SendMessage (applyClientConfig).
              configuration: { acceptedOutputModes: [], taskPushNotificationConfig: undefined, historyLength: undefined, returnImmediately: false },
              metadata: undefined,
            });
          } catch (err) {
            throw unwrap(err);
          }
          if (!('status' in result) || !('artifacts' in result)) throw new GlimmerError('GLM_ERR_INTERNAL', 'the peer answered with a message instead of a task');
          return toResult(result, sdk.TaskState);
        },
      };
    },
    close: () => {
      for (const t of transports) t.close();
    },
  };
}

/** The URL of the card's A2A `version` JSON-RPC interface, as the SDK's transport picks it; undefined without one. */
function jsonRpcEndpoint(card: AgentCard, version: string): string | undefined {
  const found = card.supportedInterfaces.find((i) => i.protocolBinding.toUpperCase() === 'JSONRPC' && i.protocolVersion === version);
  return found?.url || undefined;
}

type Sdk = typeof import('@a2a-js/sdk');

/** SendMessage as one JSON-RPC POST over the mTLS pool: the request and response codecs are the SDK's. */
function directSend(mtls: MtlsClient, endpoint: string, sdk: Sdk): (request: SendMessageRequest) => Promise<Message | Task> {
  const url = new URL(endpoint);
  const headers = { 'A2A-Version': sdk.A2A_PROTOCOL_VERSION, 'Content-Type': 'application/json', Accept: 'application/json' };
  let nextId = 1;
  return async (request) => {
    const id = nextId++;
    const body = JSON.stringify({ jsonrpc: '2.0', method: 'SendMessage', params: sdk.SendMessageRequest.toJSON(request), id });
    const answer = await mtls.request(url, { method: 'POST', headers, body, maxBodyBytes: MAX_BUFFERED_BYTES });
    let json: { jsonrpc?: unknown; id?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown }; code?: unknown; message?: unknown };
    try {
      json = JSON.parse(answer.body.toString('utf8')) as typeof json;
    } catch {
      throw new GlimmerError('GLM_ERR_AGENT_MESSAGE_REFUSED', `the peer answered HTTP ${answer.status} without JSON`);
    }
    if (answer.status < 200 || answer.status > 299) {
      // Our own servers refuse with a GlimmerError body ({code, message}); a 403 is the peer's policy (as unwrap maps it).
      const why = `the peer answered HTTP ${answer.status}: ${quote(String(json?.code ?? ''))} ${quote(String(json?.message ?? ''), 200)}`;
      throw new GlimmerError(answer.status === 403 ? 'GLM_ERR_POLICY_DENIED' : 'GLM_ERR_AGENT_MESSAGE_REFUSED', why);
    }
    if (json === null || typeof json !== 'object' || json.jsonrpc !== '2.0') throw new GlimmerError('GLM_ERR_AGENT_MESSAGE_REFUSED', 'the peer answered without JSON-RPC 2.0');
    if (json.error !== undefined) {
      throw new GlimmerError('GLM_ERR_AGENT_MESSAGE_REFUSED', `the peer answered JSON-RPC error ${quote(String(json.error?.code))}: ${quote(String(json.error?.message), 200)}`);
    }
    if (json.id !== id) throw new GlimmerError('GLM_ERR_AGENT_MESSAGE_REFUSED', `the peer answered JSON-RPC id ${quote(String(json.id))}, expected ${id}`);
    const payload = sdk.SendMessageResponse.fromJSON(json.result).payload;
    if (payload === undefined) throw new GlimmerError('GLM_ERR_AGENT_MESSAGE_REFUSED', 'the peer answered SendMessage without a task or message');
    return payload.value;
  };
}

function toResult(task: Task, states: Record<number, string>): A2aResult {
  const state = (states[task.status?.state ?? 0] ?? 'TASK_STATE_UNSPECIFIED').replace('TASK_STATE_', '').toLowerCase();
  const parts = task.artifacts.flatMap((a) => a.parts);
  const text = parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('');
  const data = parts.flatMap((p) => (p.content?.$case === 'data' ? [p.content.value as unknown] : []));
  const why = task.status?.message?.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('');
  return { taskId: task.id, state, text, data, ...(why ? { error: why } : {}) };
}

/** The SDK wraps transport failures; surface our own GlimmerError (certificate refusals, policy denials) when present. */
function unwrap(err: unknown): unknown {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof GlimmerError) return e;
  }
  const message = String((err as Error)?.message ?? err);
  const denied = /GLM_ERR_POLICY_DENIED|\b403\b/.test(message);
  return denied ? new GlimmerError('GLM_ERR_POLICY_DENIED', `the peer refused the call: ${quote(message, 200)}`, { cause: err }) : err;
}
