/**
 * `glimmer compliance --standard S [--sl N] [--state-dir DIR | --url URL --token T] [--stacks DIR] [--format md|json|oscal]`
 * Renders a standard's control matrix from its catalogue and runs the live checks the given inputs allow. Exit 0 when
 * every requirement marked met passes its live checks, 1 when one fails (the output names it), 2 on usage errors.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isStandardId, loadCatalogue, selectedAt, STANDARD_IDS } from '../../compliance/catalogue';
import { runChecks } from '../../compliance/checks';
import { toOscal } from '../../compliance/oscal';
import { buildReport, renderJson, renderMarkdown, requirementLabel } from '../../compliance/report';
import { REPO_ROOT } from '../../config/load';
import { GlimmerError, quote } from '../../errors';
import { parseOptions, printHelp, type Command } from '../command';

const FORMATS = ['md', 'json', 'oscal'] as const;

const HELP = `Usage: glimmer compliance --standard STANDARD [--sl 1..4] [--state-dir DIR | --url URL (--token T | --token-file F)]
                          [--stacks DIR] [--format md|json|oscal]

Renders the control matrix of a standard (requirement, product control, tests, live check, status) and runs the live
checks its inputs allow: a state dir or a running runtime's API (audit log, agent identities), the synthesized stacks
(default deny, mTLS, encryption, retention) and the installed release (measured boot, policies). Mapped and evidenced,
not certified. Exit 0 when every requirement marked met passes its live checks, 1 when one fails, 2 on usage errors.

Standards: ${STANDARD_IDS.join(', ')}
Options:
  --standard S   the catalogue to render (rules/compliance/catalogue/S.yml)
  --sl N         IEC 62443-3-3 only: the target security level (default 3)
  --state-dir D  a Glimmer state dir, read offline (default: none)
  --url URL      a running runtime's API instead of --state-dir, with --token or --token-file
  --stacks DIR   a cdktf synth output (e.g. cdktf.out) for the infrastructure checks
  --format F     md (default), json, or oscal (an OSCAL component definition)`;

function usage(message: string): never {
  throw new GlimmerError('GLM_ERR_USAGE', `${message}\n\n${HELP}`);
}

const command: Command = async (argv) => {
  const values = parseOptions(argv, {
    standard: { type: 'string' },
    sl: { type: 'string' },
    'state-dir': { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
    'token-file': { type: 'string' },
    stacks: { type: 'string' },
    format: { type: 'string', default: 'md' },
    root: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return printHelp(HELP);
  const standard = values.standard ?? usage('--standard is required');
  if (!isStandardId(standard)) usage(`unknown standard ${quote(standard)}, allowed: ${STANDARD_IDS.join(', ')}`);
  const format = values.format as string;
  if (!(FORMATS as readonly string[]).includes(format)) usage(`unknown format ${quote(format)}, allowed: ${FORMATS.join(', ')}`);
  let sl: number | undefined;
  if (standard === 'iec62443-3-3') {
    sl = Number(values.sl ?? '3');
    if (!Number.isInteger(sl) || sl < 1 || sl > 4) usage(`--sl must be 1..4, received ${quote(values.sl)}`);
  } else if (values.sl !== undefined) {
    usage(`--sl applies to iec62443-3-3 only, received it for ${quote(standard)}`);
  }
  if (values['state-dir'] && values.url) usage('give --state-dir or --url, not both');
  const stateDir = values['state-dir'] === undefined ? undefined : path.resolve(values['state-dir']);
  if (stateDir && !fs.existsSync(stateDir)) usage(`state dir ${quote(stateDir)} does not exist`);
  const stacksDir = values.stacks === undefined ? undefined : path.resolve(values.stacks);
  if (stacksDir && !fs.existsSync(stacksDir)) usage(`stacks dir ${quote(stacksDir)} does not exist (run make synth)`);
  let token = values.token;
  if (values['token-file']) {
    try {
      token = fs.readFileSync(values['token-file'], 'utf8').trim();
    } catch {
      usage(`cannot read --token-file ${quote(values['token-file'])}`);
    }
  }
  if (values.url && !token) usage('--url needs --token or --token-file');

  const root = path.resolve(values.root ?? REPO_ROOT);
  const catalogue = loadCatalogue(root, standard);
  const ids = selectedAt(catalogue, sl).flatMap((r) => r.live ?? []);
  const liveRan = Boolean(stateDir || values.url || stacksDir);
  const results = await runChecks(ids, { root, stateDir, url: values.url, token, stacksDir });
  const report = buildReport(catalogue, sl, results, liveRan);

  if (format === 'json') process.stdout.write(renderJson(report));
  else if (format === 'oscal') process.stdout.write(`${JSON.stringify(toOscal(report, new Date().toISOString()), null, 2)}\n`);
  else process.stdout.write(renderMarkdown(report));
  const failed = report.rows.filter((r) => r.failed);
  for (const row of failed) {
    const check = row.checks.find((c) => c.outcome === 'fail');
    process.stderr.write(`compliance FAILED: ${requirementLabel(row.requirement, sl)} ${row.requirement.title}: ${check?.id}: ${check?.detail}\n`);
  }
  return failed.length ? 1 : 0;
};
export default command;
