/**
 * `glimmer rules check --facts FILE.pl [--json] [--config glimmer.yml] [--ruleset FILE.pl ...]`: evaluates the rule
 * files (cognitive.yml's rulesets, or the --ruleset files) on the facts in FILE with the embedded engine and prints
 * {"violations":[{"asset":A,"code":C}...],"shutdowns":[AGENT...]}. Exit 0 when nothing fired, 1 when something did,
 * 2 on bad input (a refused rule or fact file names the file and line).
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GlimmerError, quote } from '../../errors';
import type { Command } from '../command';
import { DEFAULT_CONFIG_FILE, loadConfig } from '../../config/load';
import { termToString } from '../../reasoning/terms';

const USAGE = `Usage:
  glimmer rules check --facts FILE.pl [--json] [--config FILE] [--ruleset FILE.pl]...`;

async function check(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      facts: { type: 'string' },
      json: { type: 'boolean', default: false },
      config: { type: 'string', default: DEFAULT_CONFIG_FILE },
      ruleset: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) { process.stdout.write(`${USAGE}\n`); return 0; }
  if (!values.facts) throw new GlimmerError('GLM_ERR_USAGE', `--facts FILE.pl is required\n${USAGE}`);
  const { reasoningSettings } = await import('../../reasoning/config');
  const { RuleEngine, checkResult } = await import('../../reasoning/engine');
  const settings = reasoningSettings(loadConfig(values.config).cognitive);
  const custom = values.ruleset.length > 0;
  const engine = await RuleEngine.create({
    rulesDir: custom ? process.cwd() : settings.rulesDir,
    rulesets: custom ? values.ruleset.map((f) => path.resolve(f)) : settings.rulesets,
    inferenceLimit: settings.inferenceLimit,
  });
  engine.loadFactsFile(path.resolve(values.facts));
  const result = checkResult(engine.evaluate());
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    for (const v of result.violations) process.stdout.write(`violation ${termToString(v.asset)} ${termToString(v.code)}\n`);
    for (const s of result.shutdowns) process.stdout.write(`shutdown ${termToString(s)}\n`);
    if (result.violations.length + result.shutdowns.length === 0) process.stdout.write('no violations, no shutdowns\n');
  }
  return result.violations.length + result.shutdowns.length > 0 ? 1 : 0;
}

const command: Command = async (argv) => {
  const [sub, ...rest] = argv;
  if (sub === 'check') return check(rest);
  if (sub === undefined || sub === '--help' || sub === 'help') { process.stdout.write(`${USAGE}\n`); return sub === undefined ? 2 : 0; }
  throw new GlimmerError('GLM_ERR_USAGE', `unknown rules subcommand ${quote(sub)}\n${USAGE}`);
};
export default command;
