import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuleEngine } from '../../runtime/reasoning/engine';
import { syntheticPlantFacts } from '../../runtime/reasoning/synthetic-plant';
import { RULES_DIR, RULESETS, TauRunner, linesOf, swiplRun } from './engines';

const SEED = 0x6c1;

test('GIVEN 150 randomized fact sets applied one after another as deltas WHEN the embedded engine and native SWI-Prolog 9.0.4 evaluate them THEN every answer agrees', async () => {
  const engine = await RuleEngine.create({ rulesDir: RULES_DIR, rulesets: RULESETS });
  const sets = Array.from({ length: 150 }, (_, i) => syntheticPlantFacts({ assets: 4 + (i % 40), seed: SEED + i, density: 0.4 + (i % 6) / 10 }));
  const reference = swiplRun(engine.vocabulary, sets);
  assert.equal(reference.stderr, '', 'native swipl loads the rule files without a warning');
  let fired = 0;
  sets.forEach((facts, i) => {
    engine.sync(facts);
    const ours = linesOf(engine.evaluate());
    fired += ours.length;
    assert.deepEqual(ours, reference.answers[i], `fact set ${i} (seed ${SEED + i})`);
  });
  assert.ok(fired > 500, `the fact sets exercise the rules (${fired} answer lines)`);
});

test('GIVEN 20 randomized fact sets WHEN tau-prolog 0.3.4 evaluates the unchanged rule files THEN it agrees with native SWI-Prolog on every one', async () => {
  const tau = await TauRunner.create();
  assert.deepEqual(tau.warnings(), [], 'tau-prolog loads the rule files without a warning');
  const engine = await RuleEngine.create({ rulesDir: RULES_DIR, rulesets: RULESETS });
  const sets = Array.from({ length: 20 }, (_, i) => syntheticPlantFacts({ assets: 3 + (i % 9), seed: SEED * 7 + i, agents: 3 }));
  const reference = swiplRun(engine.vocabulary, sets);
  for (const [i, facts] of sets.entries()) {
    assert.deepEqual(await tau.evaluate(facts), reference.answers[i], `fact set ${i}`);
  }
});
