/**
 * The MCP tool pipeline in-process, against a real PDP (the shipped policies and configuration), a real audit log and
 * the simulated plant's process image: the failure paths the HTTP tests cannot reach from outside.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openAuditLog } from '../../runtime/audit/log';
import { loadConfig } from '../../runtime/config/load';
import { composeWriteDecision, denySafetyWrites } from '../../runtime/industrial/write-decision';
import { PlantSimulation } from '../../runtime/industrial/plant/simulation';
import { SIMULATED_PLANT_PROFILE } from '../../runtime/model/plant';
import { silentLogger } from '../../runtime/observability/logger';
import { PolicyDecisionPoint } from '../../runtime/trust/policy/pdp';
import { McpService } from '../../runtime/api/mcp/service';
import { tempDir } from '../audit/helpers';

test('GIVEN an audit log that can no longer commit WHEN a copilot requests a write THEN the call is a tool error with the audit code and nothing is left queued for approval', async () => {
  const config = loadConfig();
  const pdp = await PolicyDecisionPoint.create({ model: { ...config, trustDomain: config.topology.trust_domain }, audit: () => undefined });
  const log = await openAuditLog({ stateDir: tempDir('glimmer-mcp-svc-'), logger: silentLogger() });
  const sim = new PlantSimulation({ seed: 1 });
  const image = () => sim.snapshot();
  const service = new McpService({
    config: { resource: 'https://x.test/mcp', issuers: [], maxCallsPerMinute: 100, writeZone: 'control', maxPendingWrites: 8 },
    pdp,
    append: (r) => log.append(r),
    image,
    writes: { decide: composeWriteDecision({ policy: denySafetyWrites, profile: SIMULATED_PLANT_PROFILE, image }), gatewayPolicy: denySafetyWrites, profile: SIMULATED_PLANT_PROFILE, image },
    alarms: () => ({ alerts: [], decisions: [] }),
    auditLog: log,
    execute: () => Promise.reject(new Error('must not execute')),
  });
  const copilot = { type: 'Copilot' as const, id: 'https://issuer.test#bot', issuer: 'https://issuer.test', client: 'bot', scopes: ['plant.write.request'] };
  const ok = await service.call(copilot, 'request_write', { signal: 'pump_1.speed_setpoint_pct', value: 50, reason: 'first' });
  assert.equal((ok.structuredContent as { status: string }).status, 'pending_approval');
  assert.equal(service.pending.list().length, 1);
  await log.close();
  const refused = await service.call(copilot, 'request_write', { signal: 'pump_1.speed_setpoint_pct', value: 60, reason: 'second' });
  assert.equal(refused.isError, true);
  assert.equal((refused.structuredContent as { error: { code: string } }).error.code, 'GLM_ERR_AUDIT_CLOSED');
  assert.deepEqual(service.pending.list().map((p) => p.reason), ['first'], 'the request whose record is not durable is not queued');
});
