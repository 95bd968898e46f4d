/**
 * Agent-to-agent messages over A2A on SPIFFE mTLS (never through the supervisor). An agent that accepts topics serves
 * an A2A endpoint with one skill per topic, under its own X.509-SVID; its own PDP authorizes every call (action
 * `call`, context {protocol: a2a, skill: <topic>}, plus the topic's own action where it names one) and audits the
 * decision. Sending calls the peer's endpoint and pins the peer's SVID to the agent meant. The SVID rotates at
 * half-life; the supervisor, which holds the CA, issues the next one over IPC. Where peers listen comes from the
 * supervisor: embedded, each agent reports its loopback URL; in pods, the configured service URLs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GlimmerError, asGlimmerError, quote } from '../../errors';
import { ruleArtifact, rulesDir } from '../../config/rules-dir';
import type { AgentSpec, RuntimeConfig } from '../../config/types';
import type { Logger } from '../../observability/logger';
import type { A2aClient, A2aPeer } from './client';
import type { A2aServer } from './server';
import type { TrustAuditRecord } from '../audit';
import type { PdpOptions, PolicyAction } from '../policy/pdp';
import type { RevocationList } from '../revocation';
import { SvidSource } from '../rotation';
import { type AgentIdentity, type IssuedSvid, validateSvid } from '../svid';
import { decisionIdOf, type AgentMessage, type AuditRecordInput } from '../../model/messages';

/** Snapshots from the Industrial agent to the Cognitive agents, and safety orders (agents/safety-orders.ts) back. */
export const TOPIC_SNAPSHOT = 'plant.snapshot';
export const TOPIC_SHUTDOWN = 'safety.shutdown';
/** The executing agent's acknowledgement of a safety order, back to the agent that ordered it. */
export const TOPIC_ACK = 'safety.ack';

/** The files the PDP of an A2A endpoint loads (rules/policies): measured at boot like every other artifact. */
export function policyArtifacts(): string[] {
  return fs.readdirSync(path.join(rulesDir(), 'policies')).filter((n) => n.endsWith('.cedar') || n.endsWith('.cedarschema')).sort().map((n) => ruleArtifact(`policies/${n}`));
}

/** A topic an agent accepts; `action` is checked on top of `call` (e.g. `shutdown` for shutdown orders). */
export interface AcceptedTopic {
  readonly topic: string;
  readonly description: string;
  readonly action?: Exclude<PolicyAction, 'call'>;
}

export interface MessengerOptions {
  readonly spec: AgentSpec;
  readonly config: RuntimeConfig;
  /** The SVID the agent booted with. */
  readonly identity: AgentIdentity;
  /** Asks the supervisor for the next SVID (rotation at half-life). */
  readonly renew: () => Promise<AgentIdentity>;
  readonly accepts: readonly AcceptedTopic[];
  readonly audit: (record: AuditRecordInput) => void;
  readonly logger: Logger;
  readonly deliver: (message: AgentMessage) => void;
  /** The agent's state dir (caches). @default - no cache */
  readonly stateDir?: string;
  /** Hears every decision of the endpoint's PDP (the agent process counts them for the supervisor's metrics). */
  readonly onDecision?: PdpOptions['onDecision'];
  /** Renew the SVID when this fraction of its lifetime has passed. @default 0.5 (SPIRE's half-life) */
  readonly rotateAt?: number;
  /**
   * The revocation list the endpoint and the client enforce (the supervisor's signed feed): revoked peers are refused
   * and their open connections closed; a stale list refuses every peer. @default - none (tests of other concerns)
   */
  readonly revocation?: RevocationList;
}

export interface AgentMessenger {
  /** https://host:port of this agent's A2A endpoint; undefined when it accepts no topic. */
  readonly url: string | undefined;
  /** Where the other agents listen (agent name -> URL), as the supervisor knows it. */
  setPeers(peers: Readonly<Record<string, string>>): void;
  /**
   * Fire and forget; failures are logged and audited, never thrown. `done` hears the outcome of this one message
   * (undefined once the peer completed it, else the error, drops included), for senders that must act on it.
   */
  send(to: string, topic: string, body: unknown, done?: (err?: GlimmerError) => void): void;
  /** The current SVID (rotated before expiry), for the agent's other TLS clients (the northbound MQTT link). */
  credentials(): AgentIdentity;
  close(): Promise<void>;
}

/** Calls to one peer that may wait for an answer; more are dropped (a slow peer must not grow memory). */
const MAX_IN_FLIGHT_PER_PEER = 16;

/** The SVID fields rotation needs, read from the certificate itself. */
function issuedSvid(identity: AgentIdentity, trustDomain: string): IssuedSvid {
  const id = validateSvid(identity.certPem, { bundlePem: identity.bundlePem, trustDomain });
  return { certPem: identity.certPem, keyPem: identity.keyPem, spiffeId: id.spiffeId, notBefore: id.notBefore, notAfter: id.notAfter, serial: id.serial };
}

export async function startAgentMessenger(options: MessengerOptions): Promise<AgentMessenger> {
  const { spec, config, logger } = options;
  const trustDomain = config.topology.trust_domain;
  const audit = (record: TrustAuditRecord): void => options.audit(record);
  let first = true;
  const identity = await SvidSource.start({
    bundlePem: options.identity.bundlePem,
    trustDomain,
    audit,
    issue: async () => {
      if (first) {
        first = false;
        return issuedSvid(options.identity, trustDomain);
      }
      return issuedSvid(await options.renew(), trustDomain);
    },
    rotateAt: options.rotateAt,
    onError: (err) => logger.error({ code: asGlimmerError(err).code }, 'SVID renewal failed; retrying'),
  });

  // This agent's own certificate revoked (a leaked key): rotate at once to a fresh key and SVID. A revoked SPIFFE ID
  // gets none (the supervisor refuses to issue it): the agent stays cut off from every peer.
  const offOwnRevoked = options.revocation?.onRevoke((target) => {
    if (target.kind === 'serial' && target.serial === identity.current.serial) {
      identity.rotate().catch((err: unknown) => logger.error({ code: asGlimmerError(err).code }, 're-issue after revocation of this agent\'s SVID failed'));
    }
    return 0;
  });

  let server: A2aServer | undefined;
  if (options.accepts.length > 0) {
    const { PolicyDecisionPoint } = await import('../policy/pdp');
    const { createA2aServer } = await import('./server');
    // The supervisor validated this policy set already (same state dir): the marker spares the agent a second time.
    const validatedDir = options.stateDir === undefined ? undefined : path.join(options.stateDir, 'cache', 'cedar-validated');
    const pdp = await PolicyDecisionPoint.create({ model: { ...config, trustDomain }, audit, validatedDir, onDecision: options.onDecision });
    const self = identity.current.spiffeId;
    server = createA2aServer({
      identity,
      pdp,
      audit,
      revocation: options.revocation,
      name: spec.name,
      description: `Glimmer ${spec.kind} agent in zone ${spec.zone}`,
      skills: options.accepts.map((t) => ({
        id: t.topic,
        name: t.topic,
        description: t.description,
        handle: async (call) => {
          if (t.action !== undefined) {
            const d = pdp.authorize(call.caller.spiffeId, t.action, { type: 'Agent', id: self }, { protocol: 'a2a', skill: t.topic }, decisionIdOf(call.data[0]));
            if (!d.allow) throw new GlimmerError('GLM_ERR_POLICY_DENIED', `${quote(call.caller.spiffeId)} may not ${t.action} ${quote(spec.name)}: ${d.reasons.join(', ')}`);
          }
          if (call.caller.kind !== 'agent') throw new GlimmerError('GLM_ERR_POLICY_DENIED', `${quote(call.caller.spiffeId)} is not an agent`);
          options.deliver({ from: call.caller.agent, to: spec.name, topic: t.topic, body: call.data[0] ?? null });
          return { text: 'accepted' };
        },
      })),
    });
    // Where the other pods reach this agent (its Service, from a2a.peers) goes into the Agent Card.
    await server.listen(config.a2a.port, config.a2a.host, config.a2a.peers[spec.name]);
  }

  let peers: Readonly<Record<string, string>> = {};
  let client: A2aClient | undefined;
  /** Connected peers by URL (a restarted peer listens on a new URL). */
  const connections = new Map<string, Promise<A2aPeer>>();
  const inFlight = new Map<string, number>();
  const zoneOf = new Map(config.agents.map((a) => [a.name, a.zone]));

  const failed = (to: string, topic: string, err: unknown): void => {
    const e = asGlimmerError(err);
    // Our own errors carry their reason; anything else is logged by its message (never sent to the peer).
    const reason = (e.code === 'GLM_ERR_INTERNAL' ? String((err as Error)?.message ?? err) : e.message).slice(0, 200);
    logger.warn({ to, topic, code: e.code, reason }, 'agent message not delivered');
    options.audit({ type: 'agent.message_failed', to, topic, code: e.code });
  };

  const deliverTo = async (to: string, url: string, topic: string, body: unknown): Promise<void> => {
    if (!client) {
      const { createA2aClient } = await import('./client');
      // Each new connection to a peer records its key-exchange group (X25519MLKEM768 when both ends do ML-KEM).
      client = createA2aClient({
        identity,
        audit,
        revocation: options.revocation,
        onHandshake: (side, group, mode, peer) => {
          if (side === 'client') audit({ type: 'trust.tls_established', at: new Date().toISOString(), side, group, mode, peer, subject: identity.current.spiffeId });
        },
      });
    }
    let peer = connections.get(url);
    if (!peer) {
      peer = client.connect(url, { agent: to, zone: zoneOf.get(to) });
      connections.set(url, peer);
      peer.catch(() => connections.delete(url));
    }
    const result = await (await peer).call(topic, '', body);
    if (result.state !== 'completed') {
      throw new GlimmerError('GLM_ERR_AGENT_MESSAGE_REFUSED', `${quote(to)} answered ${result.state} to ${quote(topic)}: ${quote(result.error ?? '', 200)}`);
    }
  };

  return {
    get url() {
      return server?.url;
    },
    setPeers(next) {
      peers = next;
    },
    send(to, topic, body, done) {
      const url = peers[to];
      if (url === undefined) {
        // The peer has not started (or is restarting): nothing to call yet.
        logger.debug({ to, topic }, 'agent message dropped: peer endpoint unknown');
        done?.(new GlimmerError('GLM_ERR_SAFETY_ORDER_UNDELIVERED', `no A2A endpoint of ${quote(to)} is known (not started, restarting, or not configured in a2a.peers)`));
        return;
      }
      const n = inFlight.get(to) ?? 0;
      if (n >= MAX_IN_FLIGHT_PER_PEER) {
        logger.warn({ to, topic, in_flight: n }, 'agent message dropped: peer is not answering');
        done?.(new GlimmerError('GLM_ERR_SAFETY_ORDER_UNDELIVERED', `${quote(to)} has ${n} messages unanswered`));
        return;
      }
      inFlight.set(to, n + 1);
      deliverTo(to, url, topic, body)
        .then(() => done?.(), (err: unknown) => {
          connections.delete(url);
          failed(to, topic, err);
          done?.(asGlimmerError(err));
        })
        .finally(() => inFlight.set(to, (inFlight.get(to) ?? 1) - 1));
    },
    credentials: () => ({ certPem: identity.current.certPem, keyPem: identity.current.keyPem, bundlePem: options.identity.bundlePem }),
    async close() {
      offOwnRevoked?.();
      identity.stop();
      client?.close();
      await server?.close();
    },
  };
}
