/**
 * `glimmer run` with `attestation: tpm` against a real swtpm: every agent is attested before its SVID, the quoted
 * PCR equals the measurement the agent records itself, and `glimmer attest` verifies the recorded quotes offline.
 * Without a reachable TPM the runtime refuses to start.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { readAuditRecords } from '../../runtime/audit/records';
import { glimmer } from '../helpers/cli';
import { pinsEnv } from '../helpers/external-plant';
import { startGlimmerRun } from '../helpers/run';
import { startSwtpm, type TestTpm } from '../helpers/swtpm';

const ROOT = path.join(__dirname, '..', '..');
let tpm: TestTpm | undefined;
after(async () => tpm?.stop());

/** The shipped configuration plus an attestation block, outside the release and pinned by hash as a pod's would be. */
function attestedConfig(tcti: string, ekCaFile: string): { file: string; pins: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-attested-config-'));
  const glimmerYml = `${fs.readFileSync(path.join(ROOT, 'config', 'glimmer.yml'), 'utf8')}\nattestation:\n  mode: tpm\n  tcti: "${tcti}"\n  ek_ca_file: ${ekCaFile}\n`;
  fs.writeFileSync(path.join(dir, 'glimmer.yml'), glimmerYml);
  fs.copyFileSync(path.join(ROOT, 'config', 'cognitive.yml'), path.join(dir, 'cognitive.yml'));
  return { file: path.join(dir, 'glimmer.yml'), pins: pinsEnv(path.join(dir, 'glimmer.yml')) };
}

test('GIVEN attestation: tpm and a swtpm WHEN glimmer run starts THEN every agent is ACTIVE after a verified quote whose PCR equals its measured-boot measurement, and glimmer attest verifies the quotes offline', { timeout: 180000 }, async () => {
  tpm = await startSwtpm();
  const { file, pins } = attestedConfig(tpm.tcti, tpm.ekCaFile);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-attested-'));
  const run = await startGlimmerRun(stateDir, ['--config', file], { GLIMMER_CONFIG_SHA256: pins });
  let agents: { id: string; state: string }[] = [];
  try {
    for (let i = 0; i < 600 && !(agents.length === 3 && agents.every((a) => a.state === 'ACTIVE')); i++) {
      const res = await fetch(new URL('/v1/agents', run.url), { headers: { authorization: `Bearer ${run.token}` } });
      agents = (await res.json()) as { id: string; state: string }[];
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    const stopped = await run.stop();
    assert.equal(stopped.code, 0, stopped.stderr.slice(-2000));
  }
  assert.deepEqual(agents.map((a) => a.state), ['ACTIVE', 'ACTIVE', 'ACTIVE']);
  const quotes = new Map<string, string>();
  const measured = new Map<string, string>();
  let certified = 0;
  for await (const r of readAuditRecords({ stateDir })) {
    if (r.type === 'attestation.ak.certified') certified += 1;
    if (r.type === 'attestation.quote') quotes.set(r.agent as string, r.expected_pcr as string);
    if (r.type === 'agent.boot.measured') measured.set(r.agent as string, r.measurement as string);
  }
  assert.equal(certified, 1);
  assert.deepEqual([...quotes.keys()].sort(), ['cognitive-1', 'data-1', 'industrial-1']);
  for (const [agent, pcr] of quotes) assert.equal(pcr, measured.get(agent), `${agent}: quoted PCR 23 = its own measured-boot measurement`);
  const attest = await glimmer(['attest', '--dir', stateDir]);
  assert.equal(attest.code, 0, attest.stdout + attest.stderr);
  assert.equal(attest.stdout.match(/: quote OK, PCR 23 = [0-9a-f]{64}/g)?.length, 3);
});

test('GIVEN attestation: tpm and no reachable TPM WHEN glimmer run starts THEN it refuses to start with GLM_ERR_ATTESTATION_TPM_UNAVAILABLE', { timeout: 120000 }, async () => {
  const ca = tpm?.ekCaFile ?? (tpm = await startSwtpm()).ekCaFile;
  const { file, pins } = attestedConfig(`swtpm:path=${path.join(os.tmpdir(), `glimmer-no-tpm-${process.pid}.sock`)}`, ca);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-attested-'));
  await assert.rejects(startGlimmerRun(stateDir, ['--config', file], { GLIMMER_CONFIG_SHA256: pins }), /exited with [12] before it served[\s\S]*GLM_ERR_ATTESTATION_TPM_UNAVAILABLE/);
});
