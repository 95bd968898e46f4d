/**
 * `glimmer plan-review FILE [--format text|json|sarif|junit] [--output FILE] [--config glimmer.yml] [--min-retention-days N]`
 * Exit codes: 0 no blocking finding, 1 at least one blocking finding, 2 bad input or usage (typed error on stderr).
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { GlimmerError, quote } from '../../errors';
import { DEFAULT_CONFIG_FILE, loadConfig } from '../../config/load';
import { REVIEW_FORMATS, render, type ReviewFormat } from '../../review/formats';
import { reviewFile } from '../../review/plan-review';
import { DEFAULT_MIN_RETENTION_DAYS } from '../../review/rules';
import type { Command } from '../command';

const USAGE = `Usage: glimmer plan-review FILE [--format text|json|sarif|junit] [--output FILE]
                            [--config glimmer.yml] [--min-retention-days N]
  FILE is a \`terraform show -json PLANFILE\` plan or a synthesized cdk.tf.json.
  --config              zone model used to find each namespace's security level (default: ${DEFAULT_CONFIG_FILE})
  --min-retention-days  minimum Object Lock retention of the audit bucket (default: ${DEFAULT_MIN_RETENTION_DAYS})
Exit codes: 0 clean (warnings allowed), 1 blocking findings, 2 bad input or usage.
Rules, formats and CI recipes: docs/ci.md.`;

function usage(message: string): GlimmerError {
  return new GlimmerError('GLM_ERR_USAGE', `${message}\n${USAGE}`);
}

const command: Command = async (argv) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string', default: 'text' },
        output: { type: 'string' },
        config: { type: 'string' },
        'min-retention-days': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw usage(`expected exactly one FILE, received ${positionals.length}`);
  const format = values.format as string;
  if (!(REVIEW_FORMATS as readonly string[]).includes(format)) throw usage(`--format ${quote(format)} is not one of ${REVIEW_FORMATS.join(', ')}`);
  let minRetentionDays = DEFAULT_MIN_RETENTION_DAYS;
  if (values['min-retention-days'] !== undefined) {
    minRetentionDays = Number(values['min-retention-days']);
    if (!Number.isInteger(minRetentionDays) || minRetentionDays < 1 || minRetentionDays > 36500) {
      throw usage(`--min-retention-days must be an integer 1..36500, received ${quote(values['min-retention-days'])}`);
    }
  }
  const configFile = values.config ?? (fs.existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  const zoneLevels = new Map<string, number>();
  if (configFile !== undefined) for (const z of loadConfig(configFile).zones) zoneLevels.set(z.name, z.security_level);

  const report = reviewFile(positionals[0] as string, { minRetentionDays, zoneLevels });
  const text = render(report, format as ReviewFormat);
  if (values.output !== undefined) {
    fs.writeFileSync(values.output, text);
    process.stderr.write(`plan-review: ${report.summary.blocking} blocking, ${report.summary.warning} warnings; ${format} report written to ${values.output}\n`);
  } else process.stdout.write(text);
  return report.exitCode;
};
export default command;
