/**
 * The report as an OSCAL component definition (OSCAL 1.1, JSON): the product as one software component whose
 * control implementations list each requirement with how it is met, its status, controls, tests and live checks.
 * UUIDs are name-based (version 5 layout, SHA-1 of a fixed namespace and the row's identity), so the same catalogue
 * always gives the same document and a regenerated file diffs cleanly.
 */
import crypto from 'node:crypto';
import pkg from '../../package.json';
import type { ComplianceReport } from './report';
import { requirementLabel } from './report';

export const OSCAL_VERSION = '1.1.3';
/** Namespace for Glimmer's own property names (OSCAL requires one for names outside its own). */
export const PROPS_NS = 'https://glimmer.dev/ns/oscal';
const UUID_NAMESPACE = Buffer.from('6f1c2a5e8b3d4e7f9a0b1c2d3e4f5a6b', 'hex');

export function nameUuid(name: string): string {
  const h = crypto.createHash('sha1').update(UUID_NAMESPACE).update(name, 'utf8').digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x50;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** An OSCAL token from a requirement id: `SR 1.1` → `sr-1.1`, `PR.AA-01` → `pr.aa-01`. */
export function controlId(id: string): string {
  return id.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z_]+/, (m) => `c-${m}`);
}

const STATUS_PROP = { met: 'implemented', 'partly-met': 'partial', 'not-met': 'planned', 'out-of-scope': 'not-applicable' } as const;

export function toOscal(report: ComplianceReport, lastModified: string): Record<string, unknown> {
  const key = `${report.standard}${report.sl === undefined ? '' : `@sl${report.sl}`}`;
  const prop = (name: string, value: string) => ({ name, ns: PROPS_NS, value });
  return {
    'component-definition': {
      uuid: nameUuid(`definition:${key}`),
      metadata: {
        title: `Glimmer: ${report.title}${report.sl === undefined ? '' : ` at security level ${report.sl}`} (mapped and evidenced, not certified)`,
        'last-modified': lastModified,
        version: pkg.version,
        'oscal-version': OSCAL_VERSION,
      },
      components: [
        {
          uuid: nameUuid('component:glimmer'),
          type: 'software',
          title: 'Glimmer',
          description: pkg.description,
          'control-implementations': [
            {
              uuid: nameUuid(`implementation:${key}`),
              source: `rules/compliance/catalogue/${report.standard}.yml`,
              description: `${report.title} (${report.version}); identifiers from ${report.source}.`,
              ...(report.sl === undefined ? {} : { props: [prop('security-level', String(report.sl))] }),
              'implemented-requirements': report.rows.map(({ requirement: r, checks }) => ({
                uuid: nameUuid(`requirement:${key}:${r.id}`),
                'control-id': controlId(r.id),
                description: [r.title, r.how, r.missing && `Missing: ${r.missing}`, r.reason && `Out of scope: ${r.reason}`].filter(Boolean).join('. '),
                props: [
                  prop('requirement', requirementLabel(r, report.sl)),
                  prop('status', STATUS_PROP[r.status]),
                  ...(r.controls ?? []).map((c) => prop('control-file', c)),
                  ...(r.tests ?? []).map((t) => prop('test', t)),
                  ...checks.map((c) => prop('live-check', `${c.id}: ${c.outcome}`)),
                ],
              })),
            },
          ],
        },
      ],
    },
  };
}
