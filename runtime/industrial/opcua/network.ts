/**
 * Where the plant OPC UA server listens and how it names itself: the bind address, the host names it advertises in
 * its endpoint URLs (a client dialling one is never told to reconnect to another) and the subject alternative names
 * of its certificate, which must contain every name and address clients dial (Part 4 Table 106, host name check).
 */
import net from 'node:net';
import os from 'node:os';

export interface OpcuaNetwork {
  /** Address the server binds (0.0.0.0 or :: for all). */
  readonly host: string;
  /** Host names or addresses in the advertised endpoint URLs; the first is the main one. */
  readonly advertisedHosts: readonly string[];
  readonly certificateDns: readonly string[];
  readonly certificateIps: readonly string[];
}

export interface OpcuaNetworkFile {
  readonly host?: string;
  readonly advertised_hosts?: readonly string[];
  readonly certificate_dns?: readonly string[];
  readonly certificate_ips?: readonly string[];
}

const ANY = new Set(['0.0.0.0', '::']);

/**
 * Defaults and derivations: the certificate always names every advertised host (a DNS name or an IP) and the bind
 * address unless it is a wildcard; localhost, the host name and 127.0.0.1 stay in it for local clients.
 */
export function opcuaNetwork(file: OpcuaNetworkFile = {}): OpcuaNetwork {
  const host = file.host ?? '127.0.0.1';
  const advertisedHosts = file.advertised_hosts && file.advertised_hosts.length > 0 ? [...file.advertised_hosts]
    : ANY.has(host) || host === '127.0.0.1' || host === '::1' ? ['localhost'] : [host];
  const dns = new Set(['localhost', os.hostname(), ...(file.certificate_dns ?? [])]);
  const ips = new Set(['127.0.0.1', ...(file.certificate_ips ?? [])]);
  if (!ANY.has(host)) ips.add(host);
  for (const h of advertisedHosts) (net.isIP(h) ? ips : dns).add(h);
  return { host, advertisedHosts, certificateDns: [...dns].sort(), certificateIps: [...ips].sort() };
}

export function defaultOpcuaNetwork(): OpcuaNetwork {
  return opcuaNetwork();
}
