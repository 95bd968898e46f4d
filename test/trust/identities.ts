/** Test helper: one fixed SVID per (zone, agent), issued on first use by the given CA. */
import type { Ca } from '../../runtime/trust/ca';
import { issueSvid } from '../../runtime/trust/svid';
import { fixedIdentity, type IdentitySource } from '../../runtime/trust/rotation';

export function identityIssuer(ca: () => Ca, trustDomain: () => string): (zone: string, agent: string) => Promise<IdentitySource> {
  const issued = new Map<string, IdentitySource>();
  return async (zone, agent) => {
    const key = `${zone}/${agent}`;
    let id = issued.get(key);
    if (!id) {
      id = fixedIdentity(await issueSvid(ca(), { zone, agent }), { bundlePem: ca().bundlePem, trustDomain: trustDomain() });
      issued.set(key, id);
    }
    return id;
  };
}
