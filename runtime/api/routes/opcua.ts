/**
 * The plant OPC UA server over the API: its client certificate trust workflow and its role accounts. Every change is
 * audited with the caller's identity; a provisioned password is in the response once and nowhere else.
 */
import type { AuditAppender } from '../../model/messages';
import { GlimmerError, quote } from '../../errors';
import type { OpcuaTrustStore } from '../../industrial/opcua/trust';
import type { OpcuaUserStore } from '../../industrial/opcua/users';
import type { RequestContext, Route, RoutePolicy } from '../router';

export interface OpcuaRouteDeps {
  readonly trust: OpcuaTrustStore;
  /** Closes the live sessions of a certificate; returns how many. */
  readonly dropPeer: (thumbprint: string) => number;
  readonly accounts: OpcuaUserStore;
  /** Zone of accounts provisioned without one (the plant server's zone). */
  readonly defaultZone: string;
  readonly audit: AuditAppender;
}

async function field(ctx: RequestContext, name: string, optional = false): Promise<string | undefined> {
  const body = (await ctx.json()) as Record<string, unknown> | null;
  const v = body !== null && typeof body === 'object' ? body[name] : undefined;
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 65536) {
    throw new GlimmerError('GLM_ERR_API_BODY_INVALID', `at /${name}: received ${quote(v)}, allowed: a non-empty string`);
  }
  return v;
}

/** PEM text as is, or DER sent as base64. */
const pemOrBase64 = (text: string): Buffer => (text.includes('-----BEGIN') ? Buffer.from(text) : Buffer.from(text, 'base64'));

/** Configuring the OPC UA server's trust list and accounts is an engineer's (or admin's) act. */
const OPCUA_SERVER_POLICY: RoutePolicy = { action: 'configure', resource: { type: 'Asset', id: 'opcua-server', zone: 'control', safety: false } };

export function opcuaRoutes(d: OpcuaRouteDeps): Route[] {
  const by = (ctx: RequestContext) => ctx.principal?.id ?? 'unknown';
  const certAction = (action: 'trust' | 'reject' | 'revoke'): Route => ({
    method: 'POST',
    path: `/v1/opcua/certs/${action}`,
    policy: OPCUA_SERVER_POLICY,
    async handle(ctx) {
      const thumbprint = (await field(ctx, 'thumbprint')) as string;
      const cert = action === 'trust' ? await d.trust.trust(thumbprint) : await d.trust.reject(thumbprint);
      const dropped = action === 'revoke' ? d.dropPeer(cert.thumbprint) : 0;
      await d.audit.append({ type: `opcua.certificate.${action}`, thumbprint: cert.thumbprint, subject: cert.subject, application_uri: cert.application_uri, ...(action === 'revoke' ? { sessions_dropped: dropped } : {}), by: by(ctx) });
      return { body: { ...cert, ...(action === 'revoke' ? { sessions_dropped: dropped } : {}) } };
    },
  });
  return [
    { method: 'GET', path: '/v1/opcua/certs', handle: () => ({ body: d.trust.list() }) },
    certAction('trust'),
    certAction('reject'),
    certAction('revoke'),
    {
      method: 'POST',
      path: '/v1/opcua/certs/issuers',
      policy: OPCUA_SERVER_POLICY,
      async handle(ctx) {
        const thumbprint = await d.trust.addIssuer(pemOrBase64((await field(ctx, 'certificate')) as string));
        await d.audit.append({ type: 'opcua.certificate.issuer_added', thumbprint, by: by(ctx) });
        return { status: 201, body: { thumbprint } };
      },
    },
    {
      method: 'POST',
      path: '/v1/opcua/certs/crl',
      policy: OPCUA_SERVER_POLICY,
      async handle(ctx) {
        await d.trust.addCrl(pemOrBase64((await field(ctx, 'crl')) as string));
        await d.audit.append({ type: 'opcua.certificate.crl_added', by: by(ctx) });
        return { status: 201, body: { added: true } };
      },
    },
    { method: 'GET', path: '/v1/opcua/users', handle: () => ({ body: d.accounts.list() }) },
    {
      method: 'POST',
      path: '/v1/opcua/users',
      policy: OPCUA_SERVER_POLICY,
      async handle(ctx) {
        const body = (await ctx.json()) as Record<string, unknown> | null;
        const get = (k: string) => (body !== null && typeof body === 'object' && typeof body[k] === 'string' ? (body[k] as string) : undefined);
        const name = get('name');
        const role = get('role');
        if (name === undefined || role === undefined) throw new GlimmerError('GLM_ERR_API_BODY_INVALID', 'at /name and /role: both strings are required');
        const { account, password } = d.accounts.provision(name, role, get('zone') ?? d.defaultZone, get('password'));
        await d.audit.append({ type: 'opcua.user.provisioned', user: account.name, role: account.role, zone: account.zone, by: by(ctx) });
        return { status: 201, body: { ...account, password }, headers: { 'cache-control': 'no-store' } };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/opcua/users',
      policy: OPCUA_SERVER_POLICY,
      async handle(ctx) {
        const name = ctx.url.searchParams.get('name') ?? '';
        if (!d.accounts.remove(name)) throw new GlimmerError('GLM_ERR_API_NOT_FOUND', `no OPC UA account ${quote(name)}`);
        await d.audit.append({ type: 'opcua.user.removed', user: name, by: by(ctx) });
        return { body: { removed: name } };
      },
    },
  ];
}
