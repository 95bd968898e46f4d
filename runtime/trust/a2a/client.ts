/**
 * Calling another agent over A2A: the SDK's ClientFactory and JSON-RPC transport, with every byte going through the
 * SPIFFE mTLS client (the server's SVID is checked, and optionally that it is the agent the caller meant).
 * The SDK loads lazily on the first connect.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@a2a-js/sdk/client';
import type { Task } from '@a2a-js/sdk';
import { GlimmerError, quote } from '../../errors';
import type { AuditSink } from '../audit';
import { createMtlsClient, type MtlsClient } from '../mtls';
import type { RevocationList } from '../revocation';
import type { IdentitySource } from '../rotation';
import { mtlsFetch } from './fetch';

export interface A2aClientOptions {
  readonly identity: IdentitySource;
  readonly audit: AuditSink;
  readonly revocation?: RevocationList;
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
      const mtls = createMtlsClient({ source: options.identity, revocation: options.revocation, audit: options.audit, expectServer: expect });
      transports.push(mtls);
      const fetchImpl = mtlsFetch(mtls);
      const factory = new sdkClient.ClientFactory({
        transports: [new sdkClient.JsonRpcTransportFactory({ fetchImpl })],
        cardResolver: new sdkClient.DefaultAgentCardResolver({ fetchImpl }),
      });
      let client: Client;
      try {
        client = await factory.createFromUrl(baseUrl);
      } catch (err) {
        throw unwrap(err);
      }
      const card = await client.getAgentCard();
      return {
        card: { name: card.name, skills: card.skills.map((s) => ({ id: s.id, name: s.name })) },
        call: async (skill, text, data) => {
          const parts = [{ content: { $case: 'text' as const, value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' }];
          if (data !== undefined) parts.push({ content: { $case: 'data' as const, value: data } as never, metadata: undefined, filename: '', mediaType: 'application/json' });
          let result;
          try {
            result = await client.sendMessage({
              tenant: '',
              message: { messageId: randomUUID(), contextId: '', taskId: '', role: sdk.Role.ROLE_USER, parts, metadata: { skill }, extensions: [], referenceTaskIds: [] },
              configuration: undefined,
              metadata: undefined,
            });
          } catch (err) {
            throw unwrap(err);
          }
          if (!('status' in result) || !('artifacts' in result)) throw new GlimmerError('GLM_ERR_INTERNAL', 'the peer answered with a message instead of a task');
          return toResult(result as Task, sdk.TaskState);
        },
      };
    },
    close: () => {
      for (const t of transports) t.close();
    },
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
