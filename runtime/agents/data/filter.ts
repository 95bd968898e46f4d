/**
 * The Data Agent's GDPR filter for records crossing zones. Default deny: a field leaves its zone only if the export
 * schema names it. Personal fields (operator names, badge ids, e-mails) leave only as keyed pseudonyms; everything
 * else unknown is dropped and counted. Records are untrusted input: bounded size and depth.
 */
import { GlimmerError, quote } from '../../errors';

export type FieldClass = 'public' | 'personal';

export interface ExportSchema {
  /** Allowed fields and their class; anything else is dropped. */
  readonly fields: Readonly<Record<string, FieldClass>>;
}

export interface FilterResult {
  readonly record: Record<string, string | number | boolean | null>;
  readonly dropped: readonly string[];
  readonly pseudonymised: readonly string[];
}

/** Maps a personal identifier to its keyed pseudonym (runtime/audit/gdpr.ts: one key per identifier, crypto-shreddable). */
export type Pseudonymiser = (identifier: string) => string;

const MAX_FIELDS = 256;
const MAX_VALUE_LENGTH = 4096;

export const DEFAULT_EXPORT_SCHEMA: ExportSchema = {
  fields: {
    type: 'public',
    at: 'public',
    zone_from: 'public',
    asset: 'public',
    shift: 'public',
    produced_m3: 'public',
    mean_flow_m3h: 'public',
    alarms: 'public',
    note_code: 'public',
    operator_name: 'personal',
    operator_badge: 'personal',
    operator_email: 'personal',
  },
};

export function filterRecord(input: unknown, schema: ExportSchema, pseudonymise: Pseudonymiser): FilterResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new GlimmerError('GLM_ERR_DATA_RECORD_INVALID', `a record must be a JSON object, received ${quote(input)}`);
  }
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length > MAX_FIELDS) throw new GlimmerError('GLM_ERR_DATA_RECORD_INVALID', `a record may have at most ${MAX_FIELDS} fields, received ${entries.length}`);
  const record: FilterResult['record'] = {};
  const dropped: string[] = [];
  const pseudonymised: string[] = [];
  for (const [field, value] of entries) {
    const cls = Object.hasOwn(schema.fields, field) ? schema.fields[field] : undefined;
    const scalar = value === null || ['string', 'number', 'boolean'].includes(typeof value);
    if (cls === undefined || !scalar || (typeof value === 'string' && value.length > MAX_VALUE_LENGTH)) {
      dropped.push(field);
      continue;
    }
    if (cls === 'personal') {
      if (value === null) record[field] = null;
      else {
        record[field] = pseudonymise(String(value));
        pseudonymised.push(field);
      }
    } else {
      record[field] = value as string | number | boolean | null;
    }
  }
  return { record, dropped, pseudonymised };
}
