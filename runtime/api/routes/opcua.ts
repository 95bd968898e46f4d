/**
 * The plant OPC UA server over the API: its client certificate trust workflow and its role accounts. Every change is
 * audited with the caller's identity; a provisioned password is in the response once and nowhere else.
 */
import type { AuditAppender } from '../../model/messages';
import { GlimmerError, quote } from '../../errors';
import type { OpcuaTrustStore } from '../../industrial/opcua/trust';
import type { OpcuaCertificateLifecycle } from '../../industrial/opcua/lifecycle';
import type { OpcuaUserStore } from '../../industrial/opcua/users';
import type { RequestContext, Route, RoutePolicy } from '../router';

export interface OpcuaRouteDeps {
  /** The plant server's trust list (its session closer registered: revoking drops the certificate's sessions). */
  readonly trust: OpcuaTrustStore;
  /** The application certificates Glimmer renews, and Glimmer's OPC UA issuer (absent: self-signed, no renewal). */
  readonly certificates?: OpcuaCertificateLifecycle;
  readonly accounts: OpcuaUserStore;
  /** Zone of accounts provisioned without one (the plant server's zone). */
  readonly defaultZone: string;
  readonly audit: AuditAppender;
}

async function field(ctx: RequestContext, name: string, optional = false): Promise<string | undefined> {
  return fieldOf(await ctx.json(), name, optional);
}

/** One string field of a parsed body (the body can be read once). */
function fieldOf(parsed: unknown, name: string, optional = false): string | undefined {
  const body = parsed as Record<string, unknown> | null;
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
  const certAction = (action: 'trust' | 'reject'): Route => ({
    method: 'POST',
    path: `/v1/opcua/certs/${action}`,
    policy: OPCUA_SERVER_POLICY,
    async handle(ctx) {
      const thumbprint = (await field(ctx, 'thumbprint')) as string;
      const cert = action === 'trust' ? await d.trust.trust(thumbprint) : await d.trust.reject(thumbprint);
      await d.audit.append({ type: `opcua.certificate.${action}`, thumbprint: cert.thumbprint, subject: cert.subject, application_uri: cert.application_uri, by: by(ctx) });
      return { body: cert };
    },
  });
  return [
    { method: 'GET', path: '/v1/opcua/certs', handle: async () => ({ body: await d.trust.list() }) },
    {
      method: 'POST',
      path: '/v1/opcua/certs',
      policy: OPCUA_SERVER_POLICY,
      async handle(ctx) {
        const cert = await d.trust.add(pemOrBase64((await field(ctx, 'certificate')) as string));
        await d.audit.append({ type: 'opcua.certificate.add', thumbprint: cert.thumbprint, subject: cert.subject, application_uri: cert.application_uri, not_after: cert.not_after, by: by(ctx) });
        return { status: 201, body: cert };
      },
    },
    certAction('trust'),
    certAction('reject'),
    {
      method: 'POST',
      path: '/v1/opcua/certs/revoke',
      policy: OPCUA_SERVER_POLICY,
      async handle(ctx) {
        const body = await ctx.json();
        const thumbprint = fieldOf(body, 'thumbprint') as string;
        const reason = fieldOf(body, 'reason', true) ?? 'unspecified';
        const { entry, sessionsClosed } = await d.trust.revoke(thumbprint, reason.slice(0, 200));
        await d.audit.append({ type: 'opcua.certificate.revoke', thumbprint: entry.thumbprint, serial: entry.serial, subject: entry.subject, application_uri: entry.application_uri, status: entry.status, reason: reason.slice(0, 200), sessions_dropped: sessionsClosed, by: by(ctx) });
        return { body: { ...entry, sessions_dropped: sessionsClosed } };
      },
    },
    ...(d.certificates ? lifecycleRoutes(d.certificates, by) : []),
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

/** Glimmer's own application certificates (expiry, renewal on request) and its OPC UA issuer for external peers. */
function lifecycleRoutes(c: OpcuaCertificateLifecycle, by: (ctx: RequestContext) => string): Route[] {
  return [
    { method: 'GET', path: '/v1/opcua/certs/own', handle: () => ({ body: c.own() }) },
    {
      method: 'POST',
      path: '/v1/opcua/certs/own/renew',
      policy: OPCUA_SERVER_POLICY,
      async handle(ctx) {
        const application = (await field(ctx, 'application')) as string;
        const renewed = await c.renew(application, by(ctx));
        return { body: renewed };
      },
    },
    // Public material only (certificate and CRL): what an external SCADA client or PLC imports to trust Glimmer.
    { method: 'GET', path: '/v1/opcua/issuer', handle: async () => ({ body: await c.issuerMaterial() }) },
  ];
}
