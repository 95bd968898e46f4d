/**
 * Audit log routes (docs/audit.md): configuration, the latest signed checkpoint, entries, inclusion and consistency
 * proofs; plus `GET /v1/audit/keys` (verifier keys) and `GET /v1/audit/segments`, which `glimmer audit verify --url`
 * uses. Every route needs an authenticated principal; changing the configuration needs `configure`.
 */
import type { Pseudonymiser } from '../../audit/gdpr';
import type { AuditLog } from '../../audit/log';
import { GlimmerError, quote } from '../../errors';
import type { Principal, RequestContext, Route } from '../router';

export interface AuditRoutesOptions {
  /**
   * Decides whether a principal may read the log or change its configuration; throws GLM_ERR_API_FORBIDDEN to refuse.
   * @default - reads for every authenticated principal, `configure` for the admin token only
   */
  readonly authorize?: (principal: Principal | undefined, action: 'read' | 'configure') => Promise<void> | void;
  /** Pseudonymises operator identities before they enter the log. @default - operators are logged as `operator` */
  readonly pseudonymiser?: Pseudonymiser;
}

function defaultAuthorize(principal: Principal | undefined, action: 'read' | 'configure'): void {
  if (!principal) throw new GlimmerError('GLM_ERR_API_UNAUTHENTICATED', 'authentication required');
  if (action === 'configure' && principal.kind !== 'admin') {
    throw new GlimmerError('GLM_ERR_API_FORBIDDEN', `${quote(principal.id)} may not change the audit configuration`);
  }
}

/** A non-negative integer query parameter, strictly decimal. */
function intParam(ctx: RequestContext, name: string): number {
  const raw = ctx.url.searchParams.get(name);
  if (raw === null) throw new GlimmerError('GLM_ERR_AUDIT_RANGE_INVALID', `query parameter ${name} is required`);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new GlimmerError('GLM_ERR_AUDIT_RANGE_INVALID', `query parameter ${name} must be a non-negative integer, received ${quote(raw)}`);
  }
  return Number(raw);
}

/** Agents and the admin token are logged by id; operators (people) only by pseudonym. */
function principalForLog(principal: Principal | undefined, pseudonymiser: Pseudonymiser | undefined): string {
  if (!principal) return 'unknown';
  if (principal.kind !== 'operator') return principal.id;
  return pseudonymiser ? pseudonymiser.pseudonym(principal.id) : 'operator';
}

const hex = (hashes: Buffer[]) => hashes.map((x) => x.toString('hex'));

export function auditRoutes(log: AuditLog, options: AuditRoutesOptions = {}): Route[] {
  const authorize = options.authorize ?? defaultAuthorize;
  const reading = (handle: (ctx: RequestContext) => Promise<unknown> | unknown, type?: string): Route['handle'] => {
    return async (ctx) => {
      await authorize(ctx.principal, 'read');
      const body = await handle(ctx);
      return type ? { body, type } : { body };
    };
  };
  return [
    {
      method: 'GET',
      path: '/v1/audit/config',
      handle: reading(() => log.getConfig()),
    },
    {
      method: 'POST',
      path: '/v1/audit/config',
      policy: { action: 'configure', resource: { type: 'AuditConfig' } },
      async handle(ctx) {
        await authorize(ctx.principal, 'configure');
        const before = log.getConfig();
        const config = await log.setConfig(await ctx.json());
        await log.append({ type: 'audit.config_changed', principal: principalForLog(ctx.principal, options.pseudonymiser), before, after: config });
        return { body: config };
      },
    },
    {
      method: 'GET',
      path: '/v1/audit/checkpoint',
      handle: reading(async () => log.latestCheckpoint()?.note ?? (await log.checkpoint()), 'text/plain; charset=utf-8'),
    },
    {
      method: 'GET',
      path: '/v1/audit/entries',
      handle: reading((ctx) =>
        log.entries(intParam(ctx, 'start'), intParam(ctx, 'end')).map(({ index, leaf }) => {
          const decoded = JSON.parse(leaf.toString('utf8')) as { record: unknown; ts: string };
          return { index, leaf: leaf.toString('base64'), ts: decoded.ts, record: decoded.record };
        }),
      ),
    },
    {
      method: 'GET',
      path: '/v1/audit/proof/inclusion',
      handle: reading((ctx) => {
        const index = intParam(ctx, 'index');
        const size = intParam(ctx, 'size');
        return { index, size, hashes: hex(log.inclusionProof(index, size)) };
      }),
    },
    {
      method: 'GET',
      path: '/v1/audit/proof/consistency',
      handle: reading((ctx) => {
        const first = intParam(ctx, 'first');
        const second = intParam(ctx, 'second');
        return { first, second, hashes: hex(log.consistencyProof(first, second)) };
      }),
    },
    {
      method: 'GET',
      path: '/v1/audit/keys',
      handle: reading(() => ({ keys: log.verifierKeys() })),
    },
    {
      method: 'GET',
      path: '/v1/audit/segments',
      handle: reading(() =>
        log.segments().map((s) => ({ id: s.id, start: s.start, end: s.end ?? null, opened_at: new Date(s.openedAt).toISOString(), sealed_at: s.sealedAt ? new Date(s.sealedAt).toISOString() : null })),
      ),
    },
  ];
}
