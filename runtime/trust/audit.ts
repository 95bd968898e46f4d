/**
 * What the trust layer hands to the audit log. The sink is injected (the audit log's append, or a test array), called
 * synchronously and must not throw; records are plain JSON values (ISO time strings, no Dates, no Buffers).
 *
 * Personal data: an operator's SPIFFE ID (`spiffe://<td>/operator/<name>`) names a person. Records carry every
 * SPIFFE ID in a field named `subject` or `peer` so the audit log can pseudonymise exactly those fields.
 */
import type { ErrorCode } from '../errors';
import type { AuditSink } from '../model/messages';

export type TrustAuditRecord =
  | {
      readonly type: 'trust.tls_refused';
      readonly at: string;
      /** Which end refused: the server refusing a client certificate, or a client refusing a server certificate. */
      readonly side: 'server' | 'client';
      readonly code: ErrorCode;
      readonly reason: string;
      /** The peer's SPIFFE ID when it could be read, else null. */
      readonly peer: string | null;
      readonly serial: string | null;
      /** This end's SPIFFE ID. */
      readonly subject: string;
    }
  | {
      /** A new mTLS connection this end opened, with its key-exchange group (X25519MLKEM768: hybrid post-quantum). */
      readonly type: 'trust.tls_established';
      readonly at: string;
      readonly side: 'client';
      readonly group: string;
      readonly mode: 'pqc-only' | 'hybrid-preferred' | 'classical';
      /** The server's SPIFFE ID. */
      readonly peer: string | null;
      /** This end's SPIFFE ID. */
      readonly subject: string;
    }
  | { readonly type: 'trust.svid_rotated'; readonly at: string; readonly subject: string; readonly serial: string; readonly not_after: string; readonly previous_serial: string }
  | {
      /** A revocation at the authority: a serial (with the SPIFFE ID it carried, when known) or a whole SPIFFE ID. */
      readonly type: 'trust.svid_revoked';
      readonly at: string;
      readonly serial: string | null;
      /** The revoked SPIFFE ID. */
      readonly peer: string | null;
      readonly reason: string;
      readonly connections_closed: number;
      /** Who revoked it (the API caller). */
      readonly by?: string;
    }
  | {
      /** A revocation that reached one enforcement point through the signed feed, and what it closed there. */
      readonly type: 'trust.revocation_applied';
      readonly at: string;
      readonly point: string;
      readonly serial: string | null;
      readonly peer: string | null;
      readonly connections_closed: number;
      readonly feed_issued_at?: string;
      /** The OPC UA application certificate the point rejected (point opcua). */
      readonly thumbprint?: string;
    }
  | {
      /** A caller refused by an enforcement point outside TLS (the MCP door) for a revocation or a stale feed. */
      readonly type: 'trust.revocation_refused';
      readonly at: string;
      readonly point: string;
      readonly code: ErrorCode;
      readonly serial: string | null;
      readonly peer: string | null;
    }
  | {
      /** A follower's revocation feed became too old (its enforcement points now refuse), fresh again, or was refused. */
      readonly type: 'trust.revocation_feed';
      readonly at: string;
      readonly point: string;
      readonly state: 'stale' | 'fresh' | 'refused';
      readonly code?: string;
      readonly reason?: string;
    }
  /** A peer's Agent Card refused before any call (unsigned, altered, or signed by another identity than the peer's SVID). */
  | { readonly type: 'a2a.card_refused'; readonly at: string; readonly code: ErrorCode; readonly reason: string; readonly peer: string | null; readonly url: string; readonly subject: string }
  | {
      readonly type: 'policy.decision';
      readonly at: string;
      readonly decision: 'allow' | 'deny';
      readonly subject: string;
      readonly action: string;
      readonly resource: string;
      /** Ids of the policies that determined the decision (empty on default deny). */
      readonly reasons: readonly string[];
      readonly errors: readonly string[];
      readonly enforcement: string;
      /** The safety chain's decision id, when the request carried one (a safety order over A2A). */
      readonly decision_id?: string;
    }
  | { readonly type: 'policy.loaded'; readonly at: string; readonly policy_ids: readonly string[]; readonly digest: string };



/** Drops records: for callers that explicitly opt out (benchmark baselines), never a default. */
export const discardAudit: AuditSink<TrustAuditRecord> = () => undefined;
