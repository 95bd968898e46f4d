/** Lifetime and renewal lead time of the OPC UA application certificates (kept apart so config loading stays light). */
import { GlimmerError, quote } from '../errors';

export interface CertificateLifetime {
  /** Validity of each certificate issued. @default 365 days */
  readonly lifetimeMs: number;
  /** Renew this long before notAfter. @default 30 days */
  readonly renewBeforeMs: number;
}

export const DEFAULT_CERTIFICATE_LIFETIME: CertificateLifetime = { lifetimeMs: 365 * 86_400_000, renewBeforeMs: 30 * 86_400_000 };

/** Refuses a lead time that would renew at once forever (not shorter than the lifetime) or is not positive. */
export function checkLifetime(l: CertificateLifetime, file = 'config'): CertificateLifetime {
  if (!(l.lifetimeMs > 0) || !(l.renewBeforeMs > 0) || l.renewBeforeMs >= l.lifetimeMs) {
    throw new GlimmerError('GLM_ERR_CONFIG_INVALID', `${file}: at /opcua/certificate_renew_before_s: received ${quote(l.renewBeforeMs / 1000)}, allowed: more than 0 and less than certificate_lifetime_s (${quote(l.lifetimeMs / 1000)})`, { details: { file, path: '/opcua/certificate_renew_before_s' } });
  }
  return l;
}

