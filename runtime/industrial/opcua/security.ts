/**
 * Which OPC UA security an endpoint may offer or a client may accept, from the zone model:
 * SignAndEncrypt with Basic256Sha256 or Aes256_Sha256_RsaPss always; security None and anonymous login only when a
 * conduit into the server's zone explicitly sets `allow_insecure_opcua`, and never when that zone is at IEC 62443
 * security level 3 or above.
 */
import { GlimmerError, quote } from '../../errors';
import type { RuntimeConfig } from '../../config/types';

export const SECURE_POLICIES = ['Basic256Sha256', 'Aes256_Sha256_RsaPss'] as const;

export interface OpcuaSecurity {
  readonly modes: readonly ('SignAndEncrypt' | 'None')[];
  readonly policies: readonly string[];
  readonly allowAnonymous: boolean;
}

export function opcuaSecurityFor(config: Pick<RuntimeConfig, 'zones' | 'conduits'>, serverZone: string): OpcuaSecurity {
  const zone = config.zones.find((z) => z.name === serverZone);
  if (!zone) throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `OPC UA server zone ${quote(serverZone)} is not a configured zone`);
  const insecure = zone.security_level < 3 && config.conduits.some((c) => c.to === serverZone && c.protocols.includes('opcua') && c.allow_insecure_opcua === true);
  return insecure
    ? { modes: ['SignAndEncrypt', 'None'], policies: [...SECURE_POLICIES, 'None'], allowAnonymous: true }
    : { modes: ['SignAndEncrypt'], policies: [...SECURE_POLICIES], allowAnonymous: false };
}

/** Refuses a client's request for an insecure session where the zone model does not allow one. */
export function checkClientSecurity(security: OpcuaSecurity, requested: { mode: string; policy: string; anonymous: boolean }): void {
  if (!security.modes.includes(requested.mode as 'None') || !security.policies.includes(requested.policy)) {
    throw new GlimmerError('GLM_ERR_OPCUA_SECURITY_REFUSED', `OPC UA security mode ${quote(requested.mode)} with policy ${quote(requested.policy)} is not allowed here; allowed: ${security.modes.join(', ')} with ${security.policies.join(', ')}`);
  }
  if (requested.anonymous && !security.allowAnonymous) throw new GlimmerError('GLM_ERR_OPCUA_SECURITY_REFUSED', 'anonymous OPC UA sessions are not allowed here');
}
