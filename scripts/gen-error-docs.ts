/** Generates docs/errors.md from the error catalogue (`npx tsx scripts/gen-error-docs.ts`); a test keeps them in sync. */
import fs from 'node:fs';
import path from 'node:path';
import { ERROR_CATALOGUE } from '../runtime/errors';

export function renderErrorDocs(): string {
  const rows = Object.entries(ERROR_CATALOGUE)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, spec]) => `| \`${code}\` | ${spec.status} | ${spec.doc.replace(/\|/g, '\\|')} |`);
  return [
    '# Error codes',
    '',
    'Generated from `runtime/errors.ts` by `npx tsx scripts/gen-error-docs.ts`; do not edit by hand.',
    'Every error Glimmer reports carries one of these stable codes. API clients receive `{"error":{"code","message"}}`',
    'with the HTTP status below and never a stack trace; the CLI prints `glimmer <command>: <code>: <message>`.',
    '',
    '| code | HTTP status | when |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

if (require.main === module) {
  fs.writeFileSync(path.join(__dirname, '..', 'docs', 'errors.md'), renderErrorDocs());
}
