import assert from 'node:assert/strict';
import { test } from 'node:test';
import { glimmer } from '../helpers/cli';

test('GIVEN glimmer run --help WHEN it is printed THEN it describes both plant modes, what external mode does, and points at docs/deploy.md', async () => {
  const r = await glimmer(['run', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: glimmer run /);
  assert.match(r.stdout, /plant\.mode/);
  assert.match(r.stdout, /embedded .*simulated plant/s);
  assert.match(r.stdout, /external .*real PLCs \(plant\.external\)/s);
  assert.match(r.stdout, /no simulator/);
  assert.match(r.stdout, /stale_after_ms/);
  assert.match(r.stdout, /docs\/deploy\.md/);
});
