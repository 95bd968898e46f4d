/**
 * `glimmer audit verify (--url URL --token T | --dir STATE_DIR | --bucket s3://B/P) [--key VKEY]... [--key-file FILE] [--since FILE] [--json]`
 * Checks every checkpoint signature, recomputes every root from the stored leaves, verifies consistency and inclusion
 * proofs and the sealed segment files. Exit 0 when clean, 1 on any finding, 2 on usage errors.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { type VerifyReport, verifyRemote, verifyStateDir } from '../../audit/verify';
import { verifyBucket } from '../../audit/verify-bucket';
import { GlimmerError, asGlimmerError, isGlimmerError, quote } from '../../errors';
import type { Command } from '../command';

const USAGE = `Usage: glimmer audit verify (--url URL --token T | --dir STATE_DIR | --bucket s3://BUCKET/PREFIX) [options]

Verifies the audit log: every checkpoint signature, every root recomputed from the leaves, consistency and
inclusion proofs, sealed segment files. Exit 0 when clean, 1 on any tampering, 2 on usage errors.

Options:
  --dir DIR         state directory of a Glimmer runtime (reads DIR/audit/ directly, offline)
  --url URL         base URL of a running runtime's API (e.g. http://127.0.0.1:8080)
  --bucket S3URL    the sealed segments a cluster-mode runtime archived to its Object Lock bucket, read straight
                    from object storage (streamed); a prefix holding several agents' logs verifies each. Credentials,
                    region and endpoint from the AWS SDK's default chain (AWS_REGION, AWS_ENDPOINT_URL_S3, profiles)
  --token T         bearer token for --url (or --token-file FILE)
  --key VKEY        pin a trusted verifier key (name+id+key); repeatable. Default: the keys the log recorded
  --key-file FILE   pinned verifier keys, one per line (e.g. a copy of STATE_DIR/audit/keys.txt)
  --since FILE      a checkpoint kept from an earlier audit: the log must still extend it
  --json            print the report as JSON
`;

function usage(message: string): never {
  throw new GlimmerError('GLM_ERR_USAGE', `${message}\n\n${USAGE}`);
}

function readFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return usage(`cannot read ${what} ${quote(file)}`);
  }
}

function printReport(report: VerifyReport, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const summary = `${report.size} entries, ${report.checkpoints} checkpoint(s), ${report.segments} segment(s), ${report.proofsChecked} proofs, ${report.algorithm ?? '?'}`;
  if (report.ok) {
    process.stdout.write(`audit log OK: ${summary}\n`);
  } else {
    process.stdout.write(`audit log FAILED verification (${summary}):\n${report.findings.map((f) => `  - ${f}`).join('\n')}\n`);
  }
}

const command: Command = async (argv) => {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (sub !== 'verify') usage(`unknown audit subcommand ${quote(sub ?? '')}`);
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        dir: { type: 'string' },
        url: { type: 'string' },
        bucket: { type: 'string' },
        token: { type: 'string' },
        'token-file': { type: 'string' },
        key: { type: 'string', multiple: true },
        'key-file': { type: 'string' },
        since: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if ([values.dir, values.url, values.bucket].filter((v) => v !== undefined).length !== 1) usage('give exactly one of --dir, --url or --bucket');
  const keys = [...(values.key ?? []), ...(values['key-file'] ? readFile(values['key-file'], 'key file').split('\n').map((l) => l.trim()).filter(Boolean) : [])];
  const options = {
    ...(keys.length > 0 ? { trustedKeys: keys } : {}),
    ...(values.since ? { since: readFile(values.since, 'checkpoint') } : {}),
  };
  let report: VerifyReport;
  try {
    report = await run(values, options);
  } catch (err) {
    // A store that cannot even be read, or a server that does not answer, fails verification (exit 1).
    if (isGlimmerError(err, 'GLM_ERR_USAGE')) throw err;
    const e = asGlimmerError(err);
    const detail = e.code === 'GLM_ERR_INTERNAL' ? String((err as Error)?.message ?? err) : e.message;
    report = { ok: false, size: 0, checkpoints: 0, segments: 0, proofsChecked: 0, findings: [`cannot verify: ${detail}`] };
  }
  printReport(report, values.json ?? false);
  return report.ok ? 0 : 1;
};

async function run(
  values: { dir?: string; url?: string; bucket?: string; token?: string; 'token-file'?: string },
  options: { trustedKeys?: string[]; since?: string },
): Promise<VerifyReport> {
  if (values.bucket !== undefined) {
    if (!values.bucket.startsWith('s3://')) usage(`--bucket ${quote(values.bucket)} is not an s3://bucket/prefix URL`);
    return verifyBucket(values.bucket, options);
  }
  if (values.dir !== undefined) {
    return verifyStateDir(values.dir, options);
  } else {
    const token = values.token ?? (values['token-file'] ? readFile(values['token-file'], 'token file').trim() : undefined);
    if (!token) usage('--url needs --token or --token-file');
    let url: URL;
    try {
      url = new URL(values.url as string);
    } catch {
      return usage(`--url ${quote(values.url)} is not a URL`);
    }
    return verifyRemote(url.toString(), token, options);
  }
}
export default command;
