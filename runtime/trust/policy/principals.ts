/**
 * The facts policies read about principals: built from config/glimmer.yml (zones, conduits, agents) plus the
 * operator list. Every principal is a SPIFFE ID; its attributes come from here, never from the caller, so a
 * request cannot claim a zone or role it does not have. An agent's SPIFFE ID must name the zone the configuration
 * gives it, else it is unknown (denied).
 */
import { GlimmerError, quote } from '../../errors';
import { parseSpiffeId } from '../spiffe';
import type { EntityJson } from './cedar';

export interface PolicyModelInput {
  readonly trustDomain: string;
  readonly zones: readonly { readonly name: string; readonly security_level: number; readonly isa95_level: number }[];
  readonly conduits: readonly { readonly from: string; readonly to: string; readonly protocols: readonly string[] }[];
  readonly agents: readonly { readonly name: string; readonly kind: string; readonly zone: string }[];
  /**
   * People; their SPIFFE ID is spiffe://<td>/operator/<name>.
   * @default - only `admin` (the bearer-token holder): roles admin and auditor, in the topology's control zone (the DMZ)
   */
  readonly operators?: readonly { readonly name: string; readonly zone: string; readonly roles: readonly string[] }[];
  /** Used to place the default admin operator. */
  readonly topology?: { readonly control_zone: string };
}

/** The operator the API's bearer token stands for. */
export const ADMIN_OPERATOR = 'admin';

/**
 * Plain Modbus/TCP has no client certificate: the gateway knows a client only by the zone whose listener it came in
 * on. Each zone therefore has a principal for "a network client of this zone", an agent of kind `zone-client`.
 */
export const ZONE_CLIENT = 'zone-client';

export function zoneClientId(trustDomain: string, zone: string): string {
  return `spiffe://${trustDomain}/zone/${zone}/agent/${ZONE_CLIENT}`;
}

export interface PrincipalFacts {
  /** The Cedar entity uid and the entities a request about this principal needs (itself). */
  readonly uid: { readonly type: string; readonly id: string };
  readonly entity: EntityJson;
  readonly zone: string;
}

export interface ZoneFacts {
  readonly name: string;
  readonly securityLevel: number;
}

export class PolicyModel {
  readonly trustDomain: string;
  readonly #principals = new Map<string, PrincipalFacts>();
  readonly #zones = new Map<string, ZoneFacts>();

  constructor(input: PolicyModelInput) {
    this.trustDomain = input.trustDomain;
    for (const z of input.zones) this.#zones.set(z.name, { name: z.name, securityLevel: z.security_level });
    const zoneOf = (what: string, zone: string): ZoneFacts => {
      const z = this.#zones.get(zone);
      if (!z) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${what} names zone ${quote(zone)}, which is not in zones`);
      return z;
    };
    const agents = [...input.agents, ...input.zones.filter((z) => !input.agents.some((a) => a.zone === z.name && a.name === ZONE_CLIENT))
      .map((z) => ({ name: ZONE_CLIENT, kind: ZONE_CLIENT, zone: z.name }))];
    for (const a of agents) {
      const zone = zoneOf(`agent ${quote(a.name)}`, a.zone);
      const id = `spiffe://${input.trustDomain}/zone/${a.zone}/agent/${a.name}`;
      const peers = new Set([a.zone]);
      for (const c of input.conduits) {
        if (!c.protocols.includes('a2a')) continue;
        if (c.from === a.zone) peers.add(c.to);
        if (c.to === a.zone) peers.add(c.from);
      }
      const uid = { type: 'Glimmer::Agent', id };
      this.#principals.set(id, {
        uid, zone: a.zone,
        entity: { uid, attrs: { kind: a.kind, zone: a.zone, securityLevel: zone.securityLevel, a2aPeers: [...peers].sort() }, parents: [{ type: 'Glimmer::Zone', id: a.zone }] },
      });
    }
    const operators = [...(input.operators ?? [])];
    if (!operators.some((o) => o.name === ADMIN_OPERATOR) && input.zones.length > 0) {
      const control = input.topology?.control_zone.toLowerCase();
      const zone = input.zones.find((z) => z.name.toLowerCase() === control) ?? input.zones[0];
      operators.push({ name: ADMIN_OPERATOR, zone: (zone as { name: string }).name, roles: ['admin', 'auditor'] });
    }
    for (const o of operators) {
      const zone = zoneOf(`operator ${quote(o.name)}`, o.zone);
      const id = `spiffe://${input.trustDomain}/operator/${o.name}`;
      const uid = { type: 'Glimmer::Operator', id };
      this.#principals.set(id, {
        uid, zone: o.zone,
        entity: { uid, attrs: { zone: o.zone, securityLevel: zone.securityLevel, roles: [...o.roles].sort() }, parents: [{ type: 'Glimmer::Zone', id: o.zone }] },
      });
    }
  }

  /** The facts about a principal, or undefined when the SPIFFE ID is not a configured agent or operator. */
  principal(spiffeId: string): PrincipalFacts | undefined {
    return this.#principals.get(spiffeId);
  }

  zone(name: string): ZoneFacts | undefined {
    return this.#zones.get(name);
  }

  /** The zone an agent SPIFFE ID names, if it is a valid agent ID of this trust domain. */
  agentZone(spiffeId: string): string | undefined {
    try {
      const id = parseSpiffeId(spiffeId);
      return id.kind === 'agent' && id.trustDomain === this.trustDomain ? id.zone : undefined;
    } catch {
      return undefined;
    }
  }
}
