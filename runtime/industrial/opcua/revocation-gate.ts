/**
 * The plant OPC UA server as an enforcement point of SVID revocation. An agent's OPC UA session is authenticated by
 * its OPC UA application certificate (provisioned per agent in the state dir), not by its SVID; the supervisor knows
 * which agent each SVID and SPIFFE ID belongs to. When one of them is revoked, the agent's application certificate is
 * moved to rejected/ (new secure channels refused) and its live sessions and channels are dropped. A revoked
 * certificate (serial) of an agent whose identity stays valid lifts the block once the agent is issued a fresh SVID;
 * a revoked SPIFFE ID keeps it.
 */
import fs from 'node:fs';
import type { AuditSink } from '../../model/messages';
import { certificateDer, describeCertificate, identityFor } from './pki';
import type { OpcuaTrustStore } from './trust';

export interface OpcuaRevocationGateOptions {
  readonly stateDir: string;
  readonly trust: Pick<OpcuaTrustStore, 'reject' | 'trust'>;
  readonly dropPeer: (thumbprint: string) => number;
  readonly audit: AuditSink;
  /** Called on failures to reject or re-trust (the OPC UA store is on disk). */
  readonly onError?: (err: unknown, agent: string) => void;
}

export interface OpcuaRevocationGate {
  /**
   * An agent's identity was revoked (`serial` null: the whole SPIFFE ID): reject its application certificate, drop
   * its sessions, audit the refusal with the serial and SPIFFE ID. Resolves when the store has moved the file.
   */
  revoked(agent: string, spiffeId: string, serial: string | null): Promise<void>;
  /** The agent was issued a valid SVID: a block placed for a revoked serial (not a revoked identity) is lifted. */
  reissued(agent: string): Promise<void>;
}

export function opcuaRevocationGate(o: OpcuaRevocationGateOptions): OpcuaRevocationGate {
  /** Agents whose certificate this gate rejected, and whether for their whole identity. */
  const blocked = new Map<string, 'serial' | 'identity'>();
  const thumbprintOf = (agent: string): string | undefined => {
    const id = identityFor(o.stateDir, agent);
    return fs.existsSync(id.certificateFile) ? describeCertificate(certificateDer(id)).thumbprint : undefined;
  };
  return {
    async revoked(agent, spiffeId, serial) {
      const thumbprint = thumbprintOf(agent);
      // An agent that never connected over OPC UA (no application certificate) has nothing to close here.
      if (thumbprint === undefined) return;
      if (blocked.get(agent) !== 'identity') blocked.set(agent, serial === null ? 'identity' : 'serial');
      try {
        await o.trust.reject(thumbprint);
      } catch (err) {
        o.onError?.(err, agent);
      }
      const dropped = o.dropPeer(thumbprint);
      o.audit({ type: 'trust.revocation_applied', at: new Date().toISOString(), point: 'opcua', serial, peer: spiffeId, connections_closed: dropped, thumbprint });
    },
    async reissued(agent) {
      if (blocked.get(agent) !== 'serial') return;
      const thumbprint = thumbprintOf(agent);
      if (thumbprint === undefined) return;
      blocked.delete(agent);
      try {
        await o.trust.trust(thumbprint);
        o.audit({ type: 'opcua.certificate.trust', thumbprint, by: 'revocation', reason: `${agent} holds a fresh SVID` });
      } catch (err) {
        o.onError?.(err, agent);
      }
    },
  };
}
