/**
 * `glimmer threat-model --topology edge|cloud [--format json|md] [--config FILE] [--safety-functions FILE] [--output FILE]`
 * Exit codes: 0 written (gaps are content, not failure), 2 usage, unknown topology or bad input.
 * `--fail-on-gap` exits 1 when any threat or safety function is a gap (for CI).
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { GlimmerError, quote } from '../../errors';
import { loadSafetyFunctions } from '../../review/safety-functions';
import { buildThreatModel, renderMarkdown, renderThreatJson, TOPOLOGIES } from '../../review/threat-model';
import type { Command } from '../command';

const USAGE = `Usage: glimmer threat-model --topology ${TOPOLOGIES.join('|')} [--format md|json] [--output FILE]
                             [--config glimmer.yml] [--safety-functions FILE.yml] [--plan PLAN.json ...] [--fail-on-gap]
  STRIDE over the topology's components, zones and conduits; ISO 13849 and rule-file interlock checks for zones at SL >= 3;
  --plan adds the plan-review findings of the topology's plans or synthesized cdk.tf.json (repeatable).`;

const command: Command = async (argv) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        topology: { type: 'string' },
        format: { type: 'string', default: 'md' },
        output: { type: 'string' },
        config: { type: 'string' },
        'safety-functions': { type: 'string' },
        'fail-on-gap': { type: 'boolean', default: false },
        plan: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new GlimmerError('GLM_ERR_USAGE', `${(err as Error).message}\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.topology === undefined) throw new GlimmerError('GLM_ERR_USAGE', `--topology is required\n${USAGE}`);
  const format = values.format as string;
  if (format !== 'md' && format !== 'json') throw new GlimmerError('GLM_ERR_USAGE', `--format ${quote(format)} is not one of md, json\n${USAGE}`);
  const model = await buildThreatModel({
    topology: values.topology,
    ...(values.config === undefined ? {} : { configFile: values.config }),
    ...(values['safety-functions'] === undefined ? {} : { safetyFunctions: loadSafetyFunctions(values['safety-functions']) }),
    ...(values.plan === undefined ? {} : { plans: values.plan }),
  });
  const text = format === 'md' ? renderMarkdown(model) : renderThreatJson(model);
  if (values.output !== undefined) fs.writeFileSync(values.output, text);
  else process.stdout.write(text);
  const gaps = model.summary.gaps + model.summary.safetyFunctionGaps;
  return values['fail-on-gap'] && gaps > 0 ? 1 : 0;
};
export default command;
