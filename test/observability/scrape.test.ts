/**
 * The real runtime's GET /metrics: promtool check metrics on what it serves, and a series count that must not grow
 * with traffic from many clients (distinct connections, bad tokens, random paths, refused writes).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startRuntime } from '../../runtime/app';
import { ModbusTcpClient } from '../../runtime/industrial/modbus/client';
import { silentLogger } from '../../runtime/observability/logger';
import { promtool } from './promtool';

function seriesByFamily(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const family = (/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? '').replace(/_(bucket|sum|count)$/, '');
    counts.set(family, (counts.get(family) ?? 0) + 1);
  }
  return counts;
}

/** Sum of the samples of one counter family whose labels match none of `except`. */
function counterSum(text: string, family: string, except: RegExp): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${family}{`) || except.test(line)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Runs one round of traffic; returns the number of Modbus requests sent through the gateway. */
async function traffic(base: string, modbus: Record<string, string>, round: number): Promise<number> {
  let requests = 0;
  // 20 API clients with random paths and wrong tokens: neither may become a label value.
  await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const res = await fetch(`${base}/v1/${round}-${i}-${Math.random().toString(36).slice(2)}`, { headers: { authorization: `Bearer wrong-${round}-${i}` } });
      await res.arrayBuffer();
    }),
  );
  // 5 Modbus connections per zone listener (new source ports each time), reads and refused writes.
  for (const [name, address] of Object.entries(modbus)) {
    if (!name.startsWith('modbus_')) continue;
    const [host, port] = address.split(':');
    for (let i = 0; i < 5; i++) {
      const c = new ModbusTcpClient(host as string, Number(port));
      await c.connect();
      await c.readInputRegisters(1, 0, 4);
      await c.writeCoil(2, 1, true);
      await c.readHoldingRegisters(1, 1000 + round * 10 + i, 1);
      c.close();
      requests += 3;
    }
  }
  return requests;
}

test('GIVEN the running runtime WHEN /metrics is scraped before and after traffic from many clients THEN promtool accepts it and no metric family gains series', { timeout: 180_000 }, async (t) => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimmer-scrape-'));
  const rt = await startRuntime({ stateDir, apiPort: 0, apiMtlsPort: 0, modbusPort: 0, opcuaPort: 0, logger: silentLogger() });
  t.after(async () => {
    await rt.stop('test');
    fs.rmSync(stateDir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${rt.apiPort}`;
  const scrape = async () => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return res.text();
  };
  const sent = await traffic(base, rt.endpoints, 0);
  // Scraped right after the last answer: the gateway's held-back counts must already be in it.
  const first = await scrape();
  assert.equal(counterSum(first, 'glimmer_gateway_decisions_total', /reason="upstream"/), sent);
  const check = promtool(['check', 'metrics'], first);
  assert.equal(check.status, 0, check.output);
  const before = seriesByFamily(first);
  for (let round = 1; round <= 2; round++) await traffic(base, rt.endpoints, round);
  const afterText = await scrape();
  assert.doesNotMatch(afterText, /wrong-|127\.0\.0\.1|="\/v1\//, 'a token, client address or request path became a label value');
  const after = seriesByFamily(afterText);
  for (const [family, n] of after) {
    // Agent states and process metrics may change a little while agents boot; label sets from traffic may not.
    if (/^glimmer_(agent_|boot_|process_|nodejs_)|^(safety_integrity|required_safety)_level$/.test(family)) continue;
    assert.ok(n <= (before.get(family) ?? 0), `${family}: ${before.get(family) ?? 0} series before, ${n} after more clients`);
    assert.ok(n <= 500, `${family} has ${n} series`);
  }
});
